// Runtime levels from the <table>_levels table against the real PostgreSQL: a running child
// (levels_child, LOG_POSTGRES_LEVELS=true) applies what postgres_log_store::set_levels stores
// within 2 s, ignores garbage written by raw SQL, keeps logging while the server is down and
// picks up a change made after the restart, and leaves without crash or hang with its watcher
// running (return from main, std::exit, spdlog::shutdown()).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/levels_child_helpers.h"
#include "integration/pg_helpers.h"
#include "integration/process_runner.h"
#include "spdlog_ext/postgres_log_store.h"
#include "support/env_guard.h"

using namespace std::chrono_literals;

namespace {

std::string host_name() {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
}

// The child's environment: make_logger with a null sink, levels from the table of `prefix`.
struct levels_env {
    test::env_guard env{{"LOG_BACKENDS", "null"},        {"DATABASE_URL", nullptr},
                        {"SPDLOG_LEVEL", nullptr},       {"LOG_STRICT", nullptr},
                        {"LOG_LEVELS_FILE", nullptr},    {"LOG_POSTGRES_LEVELS", "true"},
                        {"LOG_POSTGRES_SCHEMA", nullptr}};
    levels_env(const std::string& prefix, const std::string& service, const std::string& url) {
        env.set("LOG_POSTGRES_URL", url);
        env.set("LOG_POSTGRES_TABLE_PREFIX", prefix);
        env.set("LOG_POSTGRES_LEVELS_SERVICE", service);
    }
};

// set_levels, retried while the store's connection is being remade after a server restart.
void set_levels_retrying(spdlog_ext::postgres_log_store& store, const std::string& spec,
                         const std::string& service, const std::string& host = "") {
    for (int attempt = 0;; ++attempt) {
        try {
            store.set_levels(spec, service, host);
            return;
        } catch (const spdlog_ext::store_error& e) {
            if (e.what_kind() != spdlog_ext::store_error::kind::connection || attempt >= 50)
                throw;
            std::this_thread::sleep_for(100ms);
        }
    }
}

std::string prefix_for(const char* name) {
    return std::string("lvl_") + name + "_" + std::to_string(::getpid());
}

}  // namespace

TEST_SUITE("levels") {
    TEST_CASE("levels set through the store reach a running child within 2 s") {
        const std::string prefix = prefix_for("set");
        pg_test::table_cleanup cleanup({prefix});
        const std::string service = "svc-" + prefix;
        levels_env env(prefix, service, pg_test::url());
        spdlog_ext::postgres_log_store store(spdlog_ext::postgres_config::from_env());

        levels_test::child child("set");
        REQUIRE(child.wait_for({{"app", "info"}, {"db", "info"}}, 10s));

        struct step {
            const char* spec;
            levels_test::status_words want;
        };
        const std::vector<step> steps = {
            {"info,db=debug", {{"app", "info"}, {"db", "debug"}}},
            {"warn,db=trace", {{"app", "warning"}, {"db", "trace"}}},
            {"app=err", {{"app", "error"}, {"db", "info"}}},  // dropped names: the baseline
            {"DEBUG", {{"app", "debug"}, {"db", "debug"}}},
            {"info,db=debug", {{"app", "info"}, {"db", "debug"}}},
        };
        std::vector<long long> latencies;
        for (const auto& s : steps) {
            const auto t0 = std::chrono::steady_clock::now();
            store.set_levels(s.spec, service);
            const auto took = child.wait_for(s.want, 2s);
            INFO("spec " << s.spec << ", child status: " << child.status().size() << " words");
            REQUIRE(took);
            latencies.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count());
        }
        std::sort(latencies.begin(), latencies.end());
        MESSAGE("set_levels to applied in the child (ms): min "
                << latencies.front() << ", median " << latencies[latencies.size() / 2] << ", max "
                << latencies.back());
        CHECK(store.get_levels(service) == "info,db=debug");

        // Rows of another service, another host: not this child's. Its own host's row is more
        // specific than its service's row and wins.
        store.set_levels("critical", service, "another-host");
        store.set_levels("off", "another-service");
        store.set_levels("err,db=warn", service, host_name());
        REQUIRE(child.wait_for({{"app", "error"}, {"db", "warning"}}, 2s));
        CHECK(store.get_levels(service, host_name()) == "err,db=warn");
        CHECK(store.get_levels(service, "another-host") == "critical");
        CHECK(store.get_levels("nobody") == "");

        // An invalid spec through the store: refused before anything is stored.
        CHECK_THROWS_AS(store.set_levels("info,db=verbose", service, host_name()),
                        spdlog_ext::store_error);
        CHECK(store.get_levels(service, host_name()) == "err,db=warn");

        // Garbage written by hand changes nothing and is reported (once).
        const std::string levels_table = pg_test::quote_ident(prefix + "_logs_levels");
        for (const std::string& garbage :
             std::vector<std::string>{"info,db=verbose", "info,,", std::string(600, 'x')}) {
            pg_test::exec("UPDATE " + levels_table +
                          " SET spec = " + pg_test::quote_literal(garbage) +
                          " WHERE service = " + pg_test::quote_literal(service) +
                          " AND host = " + pg_test::quote_literal(host_name()));
            store.set_levels("info",
                             "wake-up-" + garbage.substr(0, 10));  // a NOTIFY on the channel
            const auto shown = garbage.substr(0, 12);
            bool reported = false;
            for (int i = 0; i < 200 && !reported; ++i) {
                reported =
                    test::count_lines_with(child.err(), {"ignoring the spec '" + shown}) == 1;
                std::this_thread::sleep_for(10ms);
            }
            INFO("garbage " << shown << ", stderr:\n" << child.err());
            CHECK(reported);
            CHECK(child.wait_for({{"app", "error"}, {"db", "warning"}}, 0ms));
        }

        // A logger created after a change gets the level at once.
        store.set_levels("warn,late=trace", service, host_name());
        REQUIRE(child.wait_for({{"app", "warning"}, {"db", "warning"}}, 2s));
        child.make_late();
        REQUIRE(child.wait_for({{"late_initial", "trace"}, {"late", "trace"}}, 2s));

        child.leave("return");
        REQUIRE(child.wait_exit(5s) == 0);
        INFO("stderr:\n" << child.err());
        CHECK(child.err().find("NOTICE") == std::string::npos);
        CHECK(test::count_lines_with(child.err(), {"ignoring the spec"}) == 3);
    }

    TEST_CASE(
        "a child keeps logging while the server is down and applies a change made after the "
        "restart") {
        const std::string prefix = prefix_for("restart");
        pg_test::table_cleanup cleanup({prefix});
        const std::string service = "svc-" + prefix;
        levels_env env(prefix, service, pg_test::url());
        spdlog_ext::postgres_log_store store(spdlog_ext::postgres_config::from_env());
        store.set_levels("info,db=debug", service);

        levels_test::child child("restart");
        REQUIRE(child.wait_for({{"db", "debug"}}, 10s));
        {
            pg_test::server_restart_guard restart;
            REQUIRE(pg_test::services("pg-stop-immediate") == 0);
            const long long before = child.ticks();
            std::this_thread::sleep_for(1500ms);
            const long long during = child.ticks() - before;
            MESSAGE("log loop iterations in 1.5 s with the server down: "
                    << during << ", slowest log call: " << child.status()["max_log_us"] << " us");
            CHECK(during > 50);  // ~5 ms per iteration: the watcher never holds up the loop
            CHECK(std::stoll(child.status()["max_log_us"]) < 100000);
            CHECK(child.wait_for({{"db", "debug"}}, 0ms));  // the last good levels stay
        }                                                   // the server starts again
        REQUIRE(pg_test::wait_ready(30s));
        const auto t0 = std::chrono::steady_clock::now();
        set_levels_retrying(store, "warn,db=err", service);
        REQUIRE(child.wait_for({{"app", "warning"}, {"db", "error"}}, 10s));
        MESSAGE("after the restart, set_levels to applied: "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count()
                << " ms (the watcher reconnects with backoff up to 5 s)");
        // LISTEN works again on the new connection: a second change arrives within 2 s.
        const auto t1 = std::chrono::steady_clock::now();
        store.set_levels("debug", service);
        REQUIRE(child.wait_for({{"app", "debug"}, {"db", "debug"}}, 2s));
        MESSAGE("second change after the restart: "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t1)
                       .count()
                << " ms");

        child.leave("exit");
        REQUIRE(child.wait_exit(5s) == 0);
        INFO("stderr:\n" << child.err());
        CHECK(test::count_lines_with(child.err(), {"cannot read the levels table"}) >= 1);
    }

#ifdef SPDLOG_EXT_LOGS_CLI  // built when CLI11 is there (always with SPDLOG_EXT_REQUIRE_TESTS)
    // The check as an operator does it: the command line, not the library call.
    TEST_CASE("levels set through spdlog-ext-logs reach a running child within 2 s") {
        const std::string prefix = prefix_for("cli");
        pg_test::table_cleanup cleanup({prefix});
        const std::string service = "svc-" + prefix;
        levels_env env(prefix, service, pg_test::url());  // the CLI inherits it, like the child

        levels_test::child child("cli");
        REQUIRE(child.wait_for({{"app", "info"}, {"db", "info"}}, 10s));

        const auto t0 = std::chrono::steady_clock::now();
        const auto r = proc_test::run(SPDLOG_EXT_LOGS_CLI,
                                      {"level", "set", "warn,db=debug", "--service", service}, {},
                                      "levels_cli");
        INFO("spdlog-ext-logs stderr: " << r.err);
        REQUIRE(r.exit_code == 0);
        const auto cli_took = std::chrono::steady_clock::now() - t0;
        REQUIRE(cli_took < 2s);
        REQUIRE(child.wait_for({{"app", "warning"}, {"db", "debug"}},
                               std::chrono::duration_cast<std::chrono::milliseconds>(2s - cli_took)));
        MESSAGE("spdlog-ext-logs level set to applied in the child: "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - t0)
                       .count()
                << " ms");

        const auto got = proc_test::run(SPDLOG_EXT_LOGS_CLI, {"level", "get", "--service", service},
                                        {}, "levels_cli");
        CHECK(got.exit_code == 0);
        CHECK(got.out.find("warn,db=debug") != std::string::npos);
    }
#endif

    TEST_CASE("sessions creating the levels table at once all succeed") {
        const std::string prefix = prefix_for("create");
        constexpr int sessions = 8;
        for (int round = 0; round < 3; ++round) {
            pg_test::table_cleanup cleanup({prefix});
            spdlog_ext::postgres_config cfg;
            cfg.conninfo = pg_test::url();
            cfg.table_prefix = prefix;
            std::vector<std::unique_ptr<spdlog_ext::postgres_log_store>> stores;
            for (int i = 0; i < sessions; ++i) {
                stores.push_back(std::make_unique<spdlog_ext::postgres_log_store>(cfg));
                CHECK(stores.back()->get_levels() == "");  // connected; no table yet
            }
            std::atomic<int> failures{0};
            std::atomic<bool> go{false};
            std::vector<std::thread> threads;
            for (int i = 0; i < sessions; ++i) {
                threads.emplace_back([&, i] {
                    while (!go.load()) {
                    }
                    try {
                        stores[static_cast<std::size_t>(i)]->set_levels("info,db=debug",
                                                                        "s" + std::to_string(i));
                    } catch (const std::exception& e) {
                        MESSAGE("set_levels failed: " << std::string(e.what()));
                        ++failures;
                    }
                });
            }
            go = true;
            for (auto& t : threads)
                t.join();
            CHECK(failures.load() == 0);
            CHECK(pg_test::count(pg_test::quote_ident(prefix + "_logs_levels")) == sessions);
        }
    }

    TEST_CASE("children leave with the watcher running without crash or hang") {
        const std::string prefix = prefix_for("leave");
        pg_test::table_cleanup cleanup({prefix});
        const std::string service = "svc-" + prefix;
        struct way {
            const char* how;
            bool server_reachable;
        };
        for (const way w : {way{"return", true}, way{"exit", true}, way{"spdlog_shutdown", true},
                            way{"return", false}, way{"spdlog_shutdown", false}}) {
            // Unreachable: a port nothing listens on, so the watcher is between retries at exit.
            levels_env env(prefix, service,
                           w.server_reachable
                               ? pg_test::url()
                               : std::string("postgresql://127.0.0.1:1/none?connect_timeout=2"));
            levels_test::child child(std::string("leave_") + w.how);
            REQUIRE(child.wait_for({{"app", "info"}}, 10s));
            std::this_thread::sleep_for(100ms);  // the watcher connected (or failed) meanwhile
            const auto t0 = std::chrono::steady_clock::now();
            child.leave(w.how);
            const int code = child.wait_exit(5s);
            INFO(w.how << (w.server_reachable ? "" : " (server unreachable)") << ", stderr:\n"
                       << child.err());
            CHECK(code == 0);
            CHECK(std::chrono::steady_clock::now() - t0 < 3s);
        }
    }

}  // TEST_SUITE
