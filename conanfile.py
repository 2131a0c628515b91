import os
import re

from conan import ConanFile
from conan.errors import ConanException
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load

required_conan_version = ">=2.0"


class SpdlogExtConan(ConanFile):
    name = "spdlog_ext"
    description = (
        "Extra sinks for spdlog (PostgreSQL, Datadog, Slack, InfluxDB) on one batching, "
        "retrying engine, built from the LOG_BACKENDS environment variable"
    )
    # No license is declared by the project yet (no LICENSE file): set it here when there is one.
    topics = ("logging", "spdlog", "sinks", "postgresql", "datadog", "slack", "influxdb")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "with_postgres": [True, False],
        "with_http": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "with_postgres": True,
        "with_http": True,
    }
    # Everything the library build reads; tests/, examples/ and bench/ are not built by the
    # package (their CMake options are turned off in generate()).
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "src/*", "LICENSE*"

    def set_version(self):
        # One source of truth: project(spdlog_ext VERSION x.y.z) in CMakeLists.txt, which also
        # gives the shared library its SOVERSION and the CMake package its ConfigVersion file.
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"project\s*\(\s*spdlog_ext\s+VERSION\s+([0-9][0-9.]*)", text)
        if not match:
            raise ConanException("no project(spdlog_ext VERSION ...) in CMakeLists.txt")
        self.version = match.group(1)

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # The public headers include spdlog and nlohmann_json, so consumers compile against them.
        # The ranges are the versions the code supports (README: spdlog >= 1.10 with bundled or
        # external fmt, nlohmann_json >= 3.9).
        self.requires("spdlog/[>=1.10 <2]", transitive_headers=True)
        self.requires("nlohmann_json/[>=3.9 <4]", transitive_headers=True)
        if self.options.with_postgres:
            # The PostgreSQL sink speaks COPY through libpq's C API (PQputCopyData and friends,
            # stable for many majors); postgres_log_store and the runtime levels read and
            # control the table through libpqxx (6.4 .. 7.x; 8 needs C++20).
            self.requires("libpq/[>=12 <18]")
            self.requires("libpqxx/[>=6.4 <8]")
            # The spdlog-ext-logs command line (bin/): CLI11 is header-only and used by the tool
            # alone, so consumers of the library do not see it.
            self.requires("cli11/[>=2.1 <3]", visible=False)
        if self.options.with_http:
            # libcurl and zlib stay out of the public headers (the transport is internal).
            self.requires("libcurl/[>=7.68 <9]")
            self.requires("zlib/[>=1.2.11 <2]")

    def validate(self):
        check_min_cppstd(self, 17)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["SPDLOG_EXT_WITH_POSTGRES"] = bool(self.options.with_postgres)
        tc.cache_variables["SPDLOG_EXT_WITH_HTTP"] = bool(self.options.with_http)
        # The package is the library: the suite needs doctest and libpqxx, which are not
        # requirements of the package, and examples/benchmarks are not installed.
        tc.cache_variables["SPDLOG_EXT_BUILD_TESTS"] = False
        tc.cache_variables["SPDLOG_EXT_BUILD_EXAMPLES"] = False
        tc.cache_variables["SPDLOG_EXT_BUILD_BENCH"] = False
        tc.cache_variables["SPDLOG_EXT_INSTALL"] = True
        # spdlog compiled or header-only (Conan's spdlog:header_only=True defines only
        # spdlog::spdlog_header_only) is left to CMakeLists.txt, which looks at the targets:
        # a platform_requires spdlog has no options to read here.
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        licenses = os.path.join(self.package_folder, "licenses")
        copy(self, "LICENSE*", src=self.source_folder, dst=licenses)
        cmake = CMake(self)
        cmake.install()
        # lib/cmake/spdlog_ext and lib/pkgconfig (the project's own package files) are kept:
        # Conan consumers normally use what CMakeDeps / PkgConfigDeps generate from
        # package_info(), but when requirements come from [platform_requires] the CMake side
        # is handed to spdlog_extConfig.cmake (see package_info).

    def _platform_requirements(self):
        # Requirements that a profile's [platform_requires] resolved to the system: Conan
        # leaves them out of self.dependencies (they have no package, no cpp_info).
        names = ["spdlog", "nlohmann_json"]
        if self.options.with_postgres:
            names += ["libpq", "libpqxx", "cli11"]
        if self.options.with_http:
            names += ["libcurl", "zlib"]
        return [name for name in names if name not in self.dependencies]

    def package_info(self):
        # Same names as the CMake package the project installs itself:
        # find_package(spdlog_ext CONFIG REQUIRED [COMPONENTS postgres http]) and
        # target_link_libraries(app PRIVATE spdlog_ext::spdlog_ext); pkg-config spdlog_ext.
        self.cpp_info.set_property("cmake_file_name", "spdlog_ext")
        self.cpp_info.set_property("cmake_target_name", "spdlog_ext::spdlog_ext")
        self.cpp_info.set_property("pkg_config_name", "spdlog_ext")

        # A component may not require a package that [platform_requires] took out of the graph:
        # CMakeDeps fails with "'spdlog' is not a direct dependency" (conan-io/conan#17348) and
        # PkgConfigDeps silently drops it. Those requirements are left out of the components,
        # and CMake consumers get the project's own spdlog_extConfig.cmake instead of a
        # generated one: it finds spdlog, nlohmann_json, PostgreSQL, CURL and ZLIB with
        # find_dependency() (the system's files for platform packages, CMakeDeps' for the
        # others), exactly as for a spdlog_ext installed with `cmake --install`.
        platform = self._platform_requirements()
        if platform:
            self.output.info(
                f"from the platform: {', '.join(platform)}; CMake consumers use "
                "lib/cmake/spdlog_ext/spdlog_extConfig.cmake"
            )
            self.cpp_info.set_property("cmake_find_mode", "none")

        def requires(*refs):
            return [ref for ref in refs if ref.split("::")[0] not in platform]

        # One library file, so one component owns it together with everything that file links:
        # CMakeDeps attaches a component's requirements to its library target, which is what
        # puts libpq/libcurl/zlib after libspdlog_ext.a on a static link line. (With libpq on a
        # sibling "postgres" component instead, CMake may place -lpq before the archive: the
        # link fails with undefined PQ*/curl_* symbols.)
        core = self.cpp_info.components["core"]
        core.libs = ["spdlog_ext"]
        core_requires = ["spdlog::spdlog", "nlohmann_json::nlohmann_json"]
        if self.options.with_postgres:
            core_requires += ["libpq::libpq", "libpqxx::pqxx"]
        if self.options.with_http:
            core_requires += ["libcurl::libcurl", "zlib::zlib"]
        core.requires = requires(*core_requires)
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]  # the engine's worker threads
        core.set_property("cmake_target_name", "spdlog_ext::core")
        if self.options.with_postgres:
            core.bindirs = ["bin"]  # spdlog-ext-logs
        core.set_property("pkg_config_name", "spdlog_ext_core")
        if platform:
            # On a component: with components, CMakeToolchain reads the aggregated ones and the
            # root's builddirs would be ignored. It puts this folder in CMAKE_PREFIX_PATH.
            core.builddirs.append(os.path.join("lib", "cmake", "spdlog_ext"))

        # The optional sinks, as components to ask for: find_package(spdlog_ext COMPONENTS
        # postgres http) fails when the package was built without them, as with the project's
        # own spdlog_extConfig.cmake. Their code is in the one library, so they add no files.
        # SPDLOG_EXT_WITH_POSTGRES / SPDLOG_EXT_WITH_HTTP come from the installed
        # spdlog_ext/features.h, not from compile definitions.
        if self.options.with_postgres:
            postgres = self.cpp_info.components["postgres"]
            postgres.requires = ["core"]
            postgres.set_property("cmake_target_name", "spdlog_ext::postgres")
            postgres.set_property("pkg_config_name", "spdlog_ext_postgres")

        if self.options.with_http:
            http = self.cpp_info.components["http"]
            http.requires = ["core"]
            http.set_property("cmake_target_name", "spdlog_ext::http")
            http.set_property("pkg_config_name", "spdlog_ext_http")
