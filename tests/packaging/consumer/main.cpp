// Uses an installed spdlog_ext through its public headers only: the version macros, the feature
// macros of features.h, and the registry with a custom backend. Exits non-zero on any mismatch.
//
//   consumer <postgres 0|1> <http 0|1>   (what the installed build is expected to contain)
#include <spdlog_ext/spdlog_ext.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::atomic<std::size_t> delivered{0};

class counting_backend final : public spdlog_ext::backend {
  public:
    spdlog_ext::batch_result write(spdlog_ext::record_span batch,
                                   const spdlog_ext::write_context&) override {
        delivered += batch.size();
        return spdlog_ext::batch_result::delivered();
    }
};

int failures = 0;

void expect(bool ok, const std::string& what) {
    if (!ok) {
        std::fprintf(stderr, "consumer: FAILED: %s\n", what.c_str());
        ++failures;
    }
}

bool registered(const std::string& name) {
    const auto names = spdlog_ext::registered_backends();
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: consumer <postgres 0|1> <http 0|1>\n");
        return 2;
    }
    const bool want_postgres = std::strcmp(argv[1], "1") == 0;
    const bool want_http = std::strcmp(argv[2], "1") == 0;

    expect(std::strcmp(SPDLOG_EXT_VERSION_STRING, EXPECTED_VERSION) == 0,
           std::string("version.h says ") + SPDLOG_EXT_VERSION_STRING + ", the package " +
               EXPECTED_VERSION);
    expect(SPDLOG_EXT_VERSION == SPDLOG_EXT_VERSION_MAJOR * 10000 + SPDLOG_EXT_VERSION_MINOR * 100 +
                                     SPDLOG_EXT_VERSION_PATCH,
           "SPDLOG_EXT_VERSION");
    expect(bool(SPDLOG_EXT_WITH_POSTGRES) == want_postgres, "SPDLOG_EXT_WITH_POSTGRES");
    expect(bool(SPDLOG_EXT_WITH_HTTP) == want_http, "SPDLOG_EXT_WITH_HTTP");
    // The library's registry agrees with its header.
    expect(registered("postgres") == want_postgres, "registry: postgres");
    for (const char* name : {"datadog", "slack", "influx"}) {
        expect(registered(name) == want_http, std::string("registry: ") + name);
    }
    expect(registered("console") && registered("file"), "registry: console and file");

    spdlog_ext::register_backend("counting", [](const spdlog_ext::env_options& env) {
        spdlog_ext::engine_config cfg;
        env.apply_engine(cfg);
        return std::make_shared<spdlog_ext::engine_sink>(std::make_unique<counting_backend>(), cfg);
    });
    setenv("LOG_BACKENDS", "counting", 1);
    auto log = spdlog_ext::make_logger("consumer");
    constexpr std::size_t logged = 1000;
    for (std::size_t i = 0; i < logged; ++i) {
        spdlog_ext::log(log, spdlog::level::info, {{"i", i}}, "record {}", i);
    }
    expect(spdlog_ext::shutdown(std::chrono::seconds(10)), "shutdown within its deadline");
    expect(delivered == logged,
           "delivered " + std::to_string(delivered.load()) + " of " + std::to_string(logged));

    if (failures == 0) {
        std::printf("consumer: spdlog_ext %s (postgres=%d http=%d): %zu records delivered\n",
                    SPDLOG_EXT_VERSION_STRING, SPDLOG_EXT_WITH_POSTGRES, SPDLOG_EXT_WITH_HTTP,
                    delivered.load());
    }
    return failures == 0 ? 0 : 1;
}
