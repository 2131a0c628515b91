// Ordinary programs that leave without spdlog_ext::shutdown(): return from main, std::exit,
// spdlog::shutdown() alone. Over HTTPS with a private CA (the case that crashed at exit: the
// worker used OpenSSL after its exit-time cleanup). Each child must exit 0 and every record
// must reach the intake or the child's fallback (stderr).
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/child_process.h"
#include "support/env_guard.h"
#include "support/fake_datadog_intake.h"
#include "support/test_tls.h"

#ifndef SPDLOG_EXT_EXIT_CHILD
#error "SPDLOG_EXT_EXIT_CHILD (the path of tests/exit/exit_child) must be defined"
#endif

namespace {

constexpr int records_per_run = 50;
constexpr int runs_per_way = 20;

std::size_t delivered_for(const test::fake_datadog_intake& intake, const std::string& run) {
    std::size_t n = 0;
    for (const auto& item : intake.items()) {
        n += item.value("run_id", std::string()) == run ? 1 : 0;
    }
    return n;
}

}  // namespace

TEST_SUITE("exit") {
    TEST_CASE(
        "Datadog over HTTPS - children that return or exit or call spdlog::shutdown lose nothing") {
        const auto dir = std::filesystem::temp_directory_path() /
                         ("spdlog_ext_exit_tls_" + std::to_string(::getpid()));
        const test::test_pki pki = test::make_test_pki(dir);
        test::intake_options options;
        options.tls_cert = pki.server_cert;
        options.tls_key = pki.server_key;
        test::fake_datadog_intake intake(options);
        intake.set_keep([](nlohmann::json&& item) {
            // The child's fields arrive as attributes of the item.
            nlohmann::json kept = nlohmann::json::object();
            if (item.contains("run_id")) {
                kept["run_id"] = item["run_id"];
            }
            return kept;
        });
        test::env_guard env{{"LOG_BACKENDS", "datadog"},
                            {"DD_API_KEY", "test-api-key"},
                            {"SPDLOG_LEVEL", nullptr},
                            {"LOG_STRICT", nullptr}};
        env.set("LOG_DATADOG_URL", intake.url());
        env.set("LOG_DATADOG_CA_BUNDLE", pki.ca_cert);

        int run_number = 0;
        for (const char* how : {"return", "exit", "spdlog_shutdown"}) {
            for (int i = 0; i < runs_per_way; ++i) {
                // Half the runs through make_logger (LOG_BACKENDS), half through the factory.
                const char* api = i % 2 == 0 ? "make_logger" : "datadog";
                const std::string run =
                    "dd-" + std::to_string(::getpid()) + "-" + std::to_string(run_number++);
                const auto r =
                    test::run_child(test::shell_quote(SPDLOG_EXT_EXIT_CHILD) + " " + how + " " +
                                        api + " " + std::to_string(records_per_run) + " " + run,
                                    (dir / "child.err").string());
                const std::size_t delivered = delivered_for(intake, run);
                const std::size_t fallback = test::count_lines_with(
                    r.err, {"\"run_id\":\"" + run + "\"", "fallback_reason"});
                INFO("run " << run << " (" << std::string(how) << ", " << std::string(api)
                            << "), stderr:\n"
                            << r.err);
                REQUIRE(r.exit_code == 0);
                CHECK(delivered + fallback == records_per_run);
                CHECK(delivered == records_per_run);  // the intake is healthy: all arrive
            }
        }
        CHECK(intake.violations().empty());
        std::filesystem::remove_all(dir);
    }
}
