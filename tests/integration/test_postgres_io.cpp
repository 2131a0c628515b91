// postgres_batch_sink's connection against the real PostgreSQL of scripts/services.sh: a path
// that swallows packets but keeps the sockets open (a loopback proxy turned "blackhole" in the
// middle of a COPY) is noticed within the configured timeouts and survived exactly once, and a
// shutdown while it lasts keeps its deadline; client_encoding is UTF-8 whatever
// PGCLIENTENCODING says; stats().backend tells whether the connection is encrypted.
//
// Every test accounts for every record: delivered + fallback + dropped == logged.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include <unistd.h>

#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/env_guard.h"
#include "support/sink_checks.h"
#include "support/tcp_proxy.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;

namespace {

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

long long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

std::string prefix_for(const std::string& name) {
    return "t_" + name + "_" + std::to_string(static_cast<long long>(::getpid()));
}

// The test server's URL through `proxy`, without TLS (the proxy looks for a marker in the rows).
std::string proxied_url(const test::tcp_proxy& proxy) {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(proxy.port()) +
           "/spdlog_ext_test?sslmode=disable";
}

int pg_port() {
    return std::stoi(spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_PORT"));
}

struct sink_setup {
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<test::error_log> errors = std::make_shared<test::error_log>();

    spdlog_ext::postgres_config config(const std::string& conninfo, const std::string& prefix) {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = conninfo;
        cfg.table_prefix = prefix;
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 50ms;
        cfg.engine.retry_max_delay = 500ms;
        cfg.engine.retry_max_elapsed = 2min;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& e) { errs->add(e); };
        return cfg;
    }
    std::string describe(const spdlog_ext::sink_stats& s) {
        return "stats: " + s.to_json().dump() + "\nerrors:" + errors->text();
    }
};

void log_n(spdlog::logger& logger, const std::string& stem, int n) {
    for (int i = 0; i < n; ++i) {
        logger.info("{}-{}", stem, i);
    }
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE(
        "postgres blackholed path mid-COPY: noticed within the timeouts - then exactly once") {
        const std::string prefix = prefix_for("blackhole");
        pg_test::table_cleanup cleanup({prefix});
        test::tcp_proxy proxy(pg_port());
        sink_setup setup;
        auto cfg = setup.config(proxied_url(proxy), prefix);
        cfg.connect_timeout = 2s;
        cfg.statement_timeout = 1s;  // the worker waits at most 1 s + max(1 s, 1 s) for a reply
        cfg.tcp_user_timeout = 1s;
        cfg.keepalives_idle = 1s;
        cfg.keepalives_interval = 1s;
        cfg.keepalives_count = 1;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("blackhole", sink);

        constexpr int n_first = 50;
        constexpr int n_second = 50;  // the marker and 49 more
        log_n(logger, "io-first", n_first);
        REQUIRE_MESSAGE(sink->flush_for(30s), setup.describe(sink->stats()));
        REQUIRE(sink->stats().delivered == n_first);
        const std::size_t errors_before = setup.errors->copy().size();

        proxy.blackhole_when("io-cut-marker");
        logger.info("io-cut-marker");
        log_n(logger, "io-second", n_second - 1);
        REQUIRE_MESSAGE(wait_until([&] { return proxy.blackholed(); }, 10s),
                        "the COPY with the marker never passed the proxy");
        const auto cut = std::chrono::steady_clock::now();
        // The reply never comes: the worker gives the connection up after 2 s (the limit), not
        // after TCP's 15 minutes. 10 s leaves room for a loaded machine.
        const bool noticed =
            wait_until([&] { return setup.errors->copy().size() > errors_before; }, 10s);
        const auto noticed_ms = ms_since(cut);
        INFO(setup.describe(sink->stats()));
        CHECK_MESSAGE(noticed, "no error 10 s after the path went dark");
        CHECK(noticed_ms >= 1000);  // not long before the limit (the cut is seen late)
        CHECK(sink->stats().delivered == n_first);
        std::this_thread::sleep_for(1500ms);  // reconnects into the blackhole time out as well

        proxy.resume();
        const bool flushed = sink->flush_for(60s);
        const auto s = sink->stats();
        INFO(setup.describe(s));
        REQUIRE(flushed);
        test::check_accounting(s, n_first + n_second);
        CHECK(s.delivered == n_first + n_second);
        CHECK(s.fallback == 0);
        const auto r = pg_test::query(
            "SELECT count(*)::text, count(DISTINCT message)::text, "
            "count(*) FILTER (WHERE message = 'io-cut-marker')::text FROM " +
            pg_test::quote_ident(prefix + "_logs"));
        REQUIRE(r.size() == 1);
        CHECK(r[0][0].value_or("") == std::to_string(n_first + n_second));  // none doubled
        CHECK(r[0][1].value_or("") == std::to_string(n_first + n_second));  // none lost
        CHECK(r[0][2].value_or("") == "1");
        sink->shutdown(5s);
    }

    TEST_CASE("postgres shutdown while the path is blackholed keeps its deadline") {
        const std::string prefix = prefix_for("bh_shutdown");
        pg_test::table_cleanup cleanup({prefix});
        test::tcp_proxy proxy(pg_port());
        sink_setup setup;
        // Long limits: only interrupt() at the deadline can free the worker.
        auto cfg = setup.config(proxied_url(proxy), prefix);
        cfg.statement_timeout = 60s;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("bh_shutdown", sink);

        constexpr int n_first = 20;
        log_n(logger, "sd-first", n_first);
        REQUIRE_MESSAGE(sink->flush_for(30s), setup.describe(sink->stats()));
        proxy.blackhole_when("sd-cut-marker");
        logger.info("sd-cut-marker");
        log_n(logger, "sd-second", 19);
        REQUIRE(wait_until([&] { return proxy.blackholed(); }, 10s));
        std::this_thread::sleep_for(300ms);  // the worker waits for the COPY's reply

        auto done = std::async(std::launch::async, [&] {
            const auto start = std::chrono::steady_clock::now();
            sink->shutdown(1s);
            return ms_since(start);
        });
        const bool returned = done.wait_for(10s) == std::future_status::ready;
        CHECK_MESSAGE(returned, "shutdown(1s) still running after 10 s");
        if (!returned) {
            proxy.resume();  // frees a blocked PQcancel / PQexec so the test can end
        }
        const long long took_ms = done.get();
        CHECK_MESSAGE(took_ms < 3000, "shutdown(1s) took " << took_ms << " ms");
        const auto s = sink->stats();
        INFO(setup.describe(s));
        test::check_accounting(s, n_first + 20);
        CHECK(s.delivered == n_first);
        CHECK(s.fallback == 20);
        CHECK(pg_test::count(pg_test::quote_ident(prefix + "_logs")) == n_first);
    }

    TEST_CASE("postgres client_encoding is UTF8 even with PGCLIENTENCODING=SJIS") {
        const std::string prefix = prefix_for("sjis");
        pg_test::table_cleanup cleanup({prefix});
        // Bytes an SJIS reader would take apart: UTF-8 continuation bytes in SJIS's lead-byte
        // range before a backslash or tab (escaped in COPY), and characters SJIS lacks.
        const std::string messages[] = {
            "\xE3\x81\x81\\\\ after hiragana small a",                 // ぁ then two backslashes
            "tab\tbetween \xE8\xA1\xA8\\ and \xE3\x82\xBD\t end",      // 表\ ソ<tab>
            "caf\xC3\xA9 na\xC3\xAFve \xF0\x9F\x98\x80 \\N not null",  // é ï 😀 \N
            "\xE2\x82\xAC \xC3\x9F \xD0\x96 back\\slash\\",            // € ß Ж
        };
        sink_setup setup;
        {
            test::env_guard env{{"PGCLIENTENCODING", "SJIS"}};
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(
                setup.config(pg_test::url(), prefix));
            spdlog::logger logger("sjis", sink);
            for (const auto& m : messages) {
                logger.info(m);
            }
            const bool flushed = sink->flush_for(30s);
            const auto s = sink->stats();
            INFO(setup.describe(s));
            REQUIRE(flushed);
            test::check_accounting(s, 4);
            CHECK(s.delivered == 4);
            sink->shutdown(5s);
        }
        // Compared as hex of the UTF-8 bytes: independent of this connection's encoding.
        const auto rows = pg_test::query("SELECT encode(convert_to(message, 'UTF8'), 'hex') FROM " +
                                         pg_test::quote_ident(prefix + "_logs") + " ORDER BY id");
        REQUIRE(rows.size() == 4);
        for (std::size_t i = 0; i < 4; ++i) {
            std::string hex;
            for (unsigned char c : messages[i]) {
                static const char digits[] = "0123456789abcdef";
                hex += digits[c >> 4];
                hex += digits[c & 15];
            }
            INFO("message " << i << ": " << messages[i]);
            CHECK(rows[i][0].value_or("NULL") == hex);
        }
    }

    TEST_CASE("postgres stats backend says whether the connection uses TLS") {
        const std::string tls_url = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_TLS_URL");
        REQUIRE(tls_url.find("sslmode=verify-full") != std::string::npos);
        const std::string scram_password =
            tls_url.substr(tls_url.find(':', 14) + 1,
                           tls_url.find('@') - tls_url.find(':', 14) - 1);  // user:PASSWORD@
        REQUIRE(scram_password.size() >= 16);
        const std::string prefix = prefix_for("tlsstat");
        pg_test::table_cleanup cleanup({prefix + "_a", prefix + "_b"});

        const auto backend_after_one_record = [&](const std::string& url,
                                                  const std::string& table_prefix) {
            sink_setup setup;
            auto sink =
                std::make_shared<spdlog_ext::postgres_batch_sink>(setup.config(url, table_prefix));
            spdlog::logger logger("tlsstat", sink);
            logger.info("one record");
            const bool flushed = sink->flush_for(30s);
            const auto s = sink->stats();
            INFO(setup.describe(s));
            REQUIRE(flushed);
            test::check_accounting(s, 1);
            CHECK(s.delivered == 1);
            sink->shutdown(5s);
            return s.backend;
        };

        const nlohmann::json tls = backend_after_one_record(tls_url, prefix + "_a");
        INFO(tls.dump());
        REQUIRE(tls.contains("tls"));
        CHECK(tls["tls"] == true);
        CHECK(tls.value("tls_protocol", std::string()).rfind("TLS", 0) == 0);
        CHECK_FALSE(tls.value("tls_cipher", std::string()).empty());
        CHECK(tls.dump().find(scram_password) == std::string::npos);

        const nlohmann::json plain =
            backend_after_one_record(pg_test::url() + "?sslmode=disable", prefix + "_b");
        INFO(plain.dump());
        REQUIRE(plain.contains("tls"));
        CHECK(plain["tls"] == false);
        CHECK_FALSE(plain.contains("tls_protocol"));
    }
}
