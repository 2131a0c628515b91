import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout


class SpdlogExtTestConan(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain"
    test_type = "explicit"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def test(self):
        if can_run(self):
            # The binary checks that the registry has exactly the sinks these options ask for.
            options = self.dependencies[self.tested_reference_str].options
            bin_path = os.path.join(self.cpp.build.bindir, "test_package")
            args = f"--postgres={options.with_postgres} --http={options.with_http}"
            self.run(f"{bin_path} {args}", env="conanrun")
