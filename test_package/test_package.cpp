// Consumer of the packaged spdlog_ext: builds sinks through the LOG_BACKENDS registry, logs, and
// checks what came out. Exits non-zero when anything is off, so `conan create` fails with it.
//
// - the version macros agree with each other;
// - the registry knows exactly the backends the recipe's options asked for (test() passes
//   with_postgres / with_http as arguments), and the installed spdlog_ext/features.h agrees;
// - a record with a structured field reaches a JSON-lines file through make_logger();
// - each compiled-in network sink is built from its LOG_* variables and, with nothing listening
//   on 127.0.0.1:1, really runs libpq / libcurl and hands the record to its fallback, counted.
#include <spdlog_ext/spdlog_ext.h>  // also spdlog_ext/features.h: SPDLOG_EXT_WITH_*

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) {
        ++failures;
    }
}

#if SPDLOG_EXT_WITH_POSTGRES || SPDLOG_EXT_WITH_HTTP
// One record through a network backend that cannot be reached: it must end in the fallback,
// with the transport's error recorded.
void check_unreachable(const std::string& backend) {
    auto sinks = spdlog_ext::sinks_from_string(backend);
    check(sinks.size() == 1, backend + ": sinks_from_string built one sink");
    if (sinks.size() != 1) {
        return;
    }
    auto engine = std::dynamic_pointer_cast<spdlog_ext::engine_sink>(sinks[0]);
    check(engine != nullptr, backend + ": the sink is engine-backed");
    if (!engine) {
        return;
    }
    spdlog::logger logger("test_package_" + backend, engine);
    logger.error("unreachable {} backend", backend);
    logger.flush();
    const auto stats = engine->stats();
    std::printf("  %s stats: %s\n", backend.c_str(), stats.to_json().dump().c_str());
    check(stats.enqueued == 1 && stats.fallback == 1 && stats.delivered == 0,
          backend + ": the record was counted and went to the fallback");
    check(!stats.last_error.empty(), backend + ": the transport reported an error");
}
#endif

}  // namespace

// "--postgres=True" → true; anything else given for that name → false.
bool option(int argc, char** argv, const std::string& name) {
    const std::string prefix = "--" + name + "=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(prefix, 0) == 0) {
            return arg.substr(prefix.size()) == "True";
        }
    }
    std::fprintf(stderr, "usage: test_package --postgres=True|False --http=True|False\n");
    std::exit(2);
}

int main(int argc, char** argv) {
    const bool with_postgres = option(argc, argv, "postgres");
    const bool with_http = option(argc, argv, "http");

    std::printf("spdlog_ext %s (%d)\n", SPDLOG_EXT_VERSION_STRING, SPDLOG_EXT_VERSION);
    const std::string version = std::to_string(SPDLOG_EXT_VERSION_MAJOR) + "." +
                                std::to_string(SPDLOG_EXT_VERSION_MINOR) + "." +
                                std::to_string(SPDLOG_EXT_VERSION_PATCH);
    check(version == SPDLOG_EXT_VERSION_STRING, "version macros agree");

    const auto names = spdlog_ext::registered_backends();
    const std::set<std::string> known(names.begin(), names.end());
    std::set<std::string> expected{"console", "stderr", "file", "null"};
    if (with_postgres) {
        expected.insert("postgres");
    }
    if (with_http) {
        expected.insert({"datadog", "slack", "influx"});
    }
    check(known == expected, "registered backends match the options with_postgres=" +
                                 std::string(with_postgres ? "True" : "False") +
                                 ", with_http=" + (with_http ? "True" : "False"));
    check(
        bool(SPDLOG_EXT_WITH_POSTGRES) == with_postgres && bool(SPDLOG_EXT_WITH_HTTP) == with_http,
        "spdlog_ext/features.h agrees with the options");

    // The nearest thing to an application: LOG_BACKENDS picks the sinks, make_logger builds them.
    const auto path = std::filesystem::temp_directory_path() /
                      ("spdlog_ext_test_package_" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(path);
    setenv("LOG_BACKENDS", "file", 1);
    setenv("LOG_FILE_PATH", path.c_str(), 1);
    try {
        auto log = spdlog_ext::make_logger("test_package");
        spdlog_ext::scoped_fields fields{{"answer", 42}};
        log->info("hello from test_package");
    } catch (const std::exception& e) {
        check(false, std::string("make_logger: ") + e.what());
    }
    check(spdlog_ext::shutdown(std::chrono::seconds(5)), "shutdown drained every sink");

    std::ifstream in(path);
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
        const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (record.is_object() && record.value("message", "") == "hello from test_package" &&
            record.value("logger", "") == "test_package" &&
            record.value(nlohmann::json::json_pointer("/fields/answer"), 0) == 42) {
            found = true;
        }
    }
    check(found, "the record and its field are in " + path.string());
    std::filesystem::remove(path);

    // Nothing listens on port 1; one attempt, then the (silent) fallback.
#if SPDLOG_EXT_WITH_POSTGRES
    setenv("LOG_POSTGRES_URL", "postgresql://test_package@127.0.0.1:1/none", 1);
    setenv("LOG_POSTGRES_CONNECT_TIMEOUT", "2s", 1);
    setenv("LOG_POSTGRES_RETRY_MAX_ATTEMPTS", "1", 1);
    setenv("LOG_POSTGRES_FALLBACK", "null", 1);
    check_unreachable("postgres");
#endif
#if SPDLOG_EXT_WITH_HTTP
    setenv("INFLUX_HOST", "http://127.0.0.1:1", 1);
    setenv("INFLUX_DATABASE", "test_package", 1);
    setenv("LOG_INFLUX_CONNECT_TIMEOUT", "2s", 1);
    setenv("LOG_INFLUX_RETRY_MAX_ATTEMPTS", "1", 1);
    setenv("LOG_INFLUX_FALLBACK", "null", 1);
    check_unreachable("influx");
#endif

    std::printf("%s\n", failures == 0 ? "test_package passed" : "test_package FAILED");
    return failures == 0 ? 0 : 1;
}
