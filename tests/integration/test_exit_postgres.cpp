// Ordinary programs that leave without spdlog_ext::shutdown(), against the real PostgreSQL over
// TLS (sslmode=verify-full, the services' test CA) with a SCRAM password: return from main,
// std::exit, spdlog::shutdown() alone, through make_logger and postgres_logger_mt. These crashed
// at exit while the worker was still connecting (libpq's TLS after OpenSSL's exit cleanup).
// Each child must exit 0 and every record must be in the table or in the child's fallback.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/features.h"
#include "support/child_process.h"
#include "support/env_guard.h"
#include "support/test_backends.h"

#include "spdlog_ext/sinks/postgres_batch_sink.h"

#if SPDLOG_EXT_WITH_POSTGRES

TEST_SUITE("exit") {
    TEST_CASE(
        "PostgreSQL over TLS with SCRAM - children that return or exit or call spdlog::shutdown "
        "lose "
        "nothing") {
        constexpr int records_per_run = 50;
        constexpr int runs_per_way = 20;
        const std::string tls_url = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_TLS_URL");
        REQUIRE(tls_url.find("sslmode=verify-full") != std::string::npos);
        const std::string prefix = "exit_" + std::to_string(::getpid());
        const std::string table = prefix + "_logs";
        test::env_guard env{{"LOG_BACKENDS", "postgres"},
                            {"DATABASE_URL", nullptr},
                            {"SPDLOG_LEVEL", nullptr},
                            {"LOG_STRICT", nullptr}};
        env.set("LOG_POSTGRES_URL", tls_url);
        env.set("LOG_POSTGRES_TABLE_PREFIX", prefix);
        const auto err_file = std::filesystem::temp_directory_path() / (prefix + ".err");

        int run_number = 0;
        for (const char* how : {"return", "exit", "spdlog_shutdown"}) {
            for (int i = 0; i < runs_per_way; ++i) {
                const char* api = i % 2 == 0 ? "make_logger" : "postgres";
                const std::string run = prefix + "-" + std::to_string(run_number++);
                const auto r =
                    test::run_child(test::shell_quote(SPDLOG_EXT_EXIT_CHILD) + " " + how + " " +
                                        api + " " + std::to_string(records_per_run) + " " + run,
                                    err_file.string());
                const auto rows =
                    pg_test::query("SELECT count(*) FROM " + pg_test::quote_ident(table) +
                                   " WHERE extra_data->>'run_id' = " + pg_test::quote_literal(run));
                const std::size_t delivered = std::stoul(rows.at(0).at(0).value_or("0"));
                const std::size_t fallback = test::count_lines_with(
                    r.err, {"\"run_id\":\"" + run + "\"", "fallback_reason"});
                INFO("run " << run << " (" << std::string(how) << ", " << std::string(api)
                            << "), stderr:\n"
                            << r.err);
                REQUIRE(r.exit_code == 0);
                // libpq's server notices ("relation ... already exists, skipping") stay quiet.
                CHECK(r.err.find("NOTICE") == std::string::npos);
                CHECK(delivered + fallback == records_per_run);
                CHECK(delivered == records_per_run);  // the server is up: all are stored
            }
        }
        pg_test::query("DROP TABLE IF EXISTS " + pg_test::quote_ident(table) + ", " +
                       pg_test::quote_ident(prefix + "_logs_batches"));
        std::filesystem::remove(err_file);
    }
}

TEST_SUITE("postgres") {
    TEST_CASE("a retried connection error is the fallback reason - not only the deadline") {
        std::string url = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_TLS_URL");
        const auto colon = url.find(':', std::string("postgresql://").size());
        const auto at = url.find('@');
        REQUIRE(colon < at);
        const std::string password = url.substr(colon + 1, at - colon - 1);
        url.replace(colon + 1, at - colon - 1, "wrong-password");
        auto fallback = std::make_shared<test::capture_sink_mt>();
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = url;
        cfg.table_prefix = "exit_reason";
        cfg.engine.fallback = fallback;
        cfg.engine.retry_max_elapsed = std::chrono::hours(1);
        cfg.engine.error_handler = [](const std::string&) {};
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("reason", sink);
        for (int i = 0; i < 3; ++i) {
            logger.info("r {}", i);
        }
        // Until an attempt has failed (a TLS + SCRAM handshake can take a while on a loaded
        // machine; a fixed sleep let the deadline interrupt the first attempt).
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (sink->stats().last_error.find("password authentication failed") ==
                   std::string::npos &&
               std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        REQUIRE(sink->stats().last_error.find("password authentication failed") !=
                std::string::npos);
        CHECK_FALSE(sink->shutdown(std::chrono::milliseconds(500)));
        const auto s = sink->stats();
        CHECK(s.enqueued == 3);
        CHECK(s.fallback == 3);
        const auto records = fallback->records();
        REQUIRE(records.size() == 3);
        for (const auto& r : records) {
            const std::string reason = r.fields.value("fallback_reason", std::string());
            INFO("reason: " << reason);
            CHECK(reason.find("password authentication failed") != std::string::npos);
            CHECK(reason.find("wrong-password") == std::string::npos);
            CHECK(reason.find(password) == std::string::npos);
        }
    }
}

#endif
