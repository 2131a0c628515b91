// postgres_batch_sink against the real (throwaway) PostgreSQL of scripts/services.sh: round
// trip of every column, server kills mid-stream, poisoned records, hostile names, retention,
// an incompatible table, a database down at start, and the registry. Like every integration
// test these fail (never skip) without the services environment.
//
// Every test accounts for every record through sink->stats():
// delivered + fallback + dropped == logged, and nothing left queued.
#include <doctest/doctest.h>
#include <spdlog/details/os.h>
#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/env_guard.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::check_accounting;
using test::error_log;

const std::string replacement_char = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::string pid_text() {
    return std::to_string(static_cast<long long>(::getpid()));
}

struct pg_fixture {
    std::string prefix;  // unique per test: t_<name>_<pid>
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<error_log> errors = std::make_shared<error_log>();

    explicit pg_fixture(const std::string& name) : prefix("t_" + name + "_" + pid_text()) {}

    std::string table() const { return prefix + "_logs"; }
    std::string q_table() const { return pg_test::quote_ident(table()); }

    spdlog_ext::postgres_config config() const {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = pg_test::url();
        cfg.table_prefix = prefix;
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 50ms;
        cfg.engine.retry_max_delay = 1s;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& e) { errs->add(e); };
        return cfg;
    }

    // What to show when a check fails.
    std::string describe(const spdlog_ext::sink_stats& s) const {
        std::string out = "stats: " + s.to_json().dump() + "\nerrors:" + errors->text();
        const auto fb = fallback->records();
        out += "\nfallback records: " + std::to_string(fb.size());
        for (std::size_t i = 0; i < fb.size() && i < 5; ++i) {
            out += "\n  [" + fb[i].message.substr(0, 80) + "] reason: " +
                   fb[i].fields.value("fallback_reason", std::string("?")).substr(0, 300);
        }
        return out;
    }
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds step = 50ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (done()) {
            return true;
        }
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(step);
    }
}

bool connected(const spdlog_ext::sink_stats& s) {
    const auto it = s.backend.find("connected");
    return it != s.backend.end() && it->is_boolean() && it->get<bool>();
}

std::int64_t epoch_us(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string lower(std::string s) {
    for (auto& c : s) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return s;
}

// Appends libpq's "options" parameter to a URI or a key=value connection string.
std::string with_session_option(const std::string& conninfo, const std::string& option_encoded,
                                const std::string& option_plain) {
    if (conninfo.rfind("postgres://", 0) == 0 || conninfo.rfind("postgresql://", 0) == 0) {
        return conninfo + (contains(conninfo, "?") ? "&" : "?") + "options=" + option_encoded;
    }
    return conninfo + " options='" + option_plain + "'";
}

std::string basename_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The value of a cell, "NULL" for SQL NULL.
std::string text(const pg_test::cell& c) {
    return c ? *c : std::string("NULL");
}

using test::env_guard;

// A JSON value nested `depth` objects deep: {"a":{"a":...{"a":1}...}} (built iteratively).
json nested_object(int depth) {
    json j = 1;
    for (int i = 0; i < depth; ++i) {
        json outer = json::object();
        outer["a"] = std::move(j);
        j = std::move(outer);
    }
    return j;
}

// The session setting that makes the server refuse moderately nested jsonb: with the default
// 2MB, PostgreSQL 15 accepts ~13000 levels, and a JSON value that deep already overflows the
// client's stack under AddressSanitizer (nlohmann::json copies recursively).
const char* const small_stack_setting = "max_stack_depth=100kB";

// The smallest nesting depth in {1000, 2000, 5000} that this server's jsonb input refuses
// (stack depth) under small_stack_setting, or 0 when it accepts them all.
int depth_rejected_by_server() {
    for (int depth : {1000, 2000, 5000}) {
        try {
            const std::string n = std::to_string(depth);
            pg_test::exec("SET max_stack_depth = '100kB'; SELECT (repeat('{\"a\":', " + n +
                          ") || '1' || repeat('}', " + n + "))::jsonb");
        } catch (const pqxx::sql_error& e) {
            if (lower(e.what()).find("stack depth") != std::string::npos) {
                return depth;
            }
            throw;
        }
    }
    return 0;
}

// Kills and restarts PostgreSQL on request, from its own thread (no doctest assertions
// there: problems are collected for the test thread).
struct chaos_thread {
    std::mutex mu;
    std::condition_variable cv;
    int requested = 0;
    int killed = 0;
    int restarted = 0;
    bool stop = false;
    std::vector<std::string> problems;
    std::vector<double> outage_seconds;
    std::thread thread;

    void run() noexcept {
        try {
            outages();
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            problems.push_back(std::string("chaos thread: ") + e.what());
            killed = restarted = 3;  // unblock the test thread, which then fails
            cv.notify_all();
        }
    }
    void outages() {
        for (int k = 1; k <= 3; ++k) {
            {
                std::unique_lock<std::mutex> lock(mu);
                cv.wait(lock, [&] { return stop || requested >= k; });
                if (stop) {
                    return;
                }
            }
            const auto t0 = std::chrono::steady_clock::now();
            const int stop_rc = pg_test::services("pg-stop-immediate");
            {
                std::lock_guard<std::mutex> lock(mu);
                if (stop_rc != 0) {
                    problems.push_back("pg-stop-immediate #" + std::to_string(k) + " exited " +
                                       std::to_string(stop_rc));
                }
                killed = k;
            }
            cv.notify_all();
            std::this_thread::sleep_for(1s);
            int start_rc = pg_test::services("pg-start");
            if (start_rc != 0) {
                start_rc = pg_test::services("pg-start");
            }
            {
                std::lock_guard<std::mutex> lock(mu);
                if (start_rc != 0) {
                    problems.push_back("pg-start #" + std::to_string(k) + " exited " +
                                       std::to_string(start_rc));
                }
                outage_seconds.push_back(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
                restarted = k;
            }
            cv.notify_all();
        }
    }
    template <typename Pred>
    bool wait_for(std::chrono::milliseconds limit, Pred pred) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, limit, pred);
    }
    void request(int k) {
        {
            std::lock_guard<std::mutex> lock(mu);
            requested = k;
        }
        cv.notify_all();
    }
    ~chaos_thread() {
        {
            std::lock_guard<std::mutex> lock(mu);
            stop = true;
        }
        cv.notify_all();
        if (thread.joinable()) {
            thread.join();
        }
    }
};

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("postgres round trip: every column + JSON field types + UTC microsecond time") {
        pg_fixture f("roundtrip");
        pg_test::table_cleanup cleanup({f.prefix});

        auto cfg = f.config();
        // The sink's session runs in a non-UTC zone: timestamps must still be stored right.
        cfg.conninfo = with_session_option(cfg.conninfo, "-c%20TimeZone%3DAmerica%2FNew_York",
                                           "-c TimeZone=America/New_York");
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        auto logger = std::make_shared<spdlog::logger>("rt.logger", sink);
        logger->set_level(spdlog::level::trace);

        const auto before = std::chrono::system_clock::now();
        std::uint64_t logged = 0;

        spdlog_ext::log(logger, spdlog::level::warn,
                        {{"kind", "typed"},
                         {"n", 42},
                         {"neg", -7},
                         {"d", 3.5},
                         {"b", true},
                         {"s", "text value"},
                         {"obj", json{{"k", "v"}, {"inner", json{{"x", 1}}}}},
                         {"arr", json::array({1, "two", 3.5, false})},
                         {"nul", nullptr}},
                        "typed fields {}", 1);
        ++logged;

        {
            spdlog_ext::scoped_fields scope{{"kind", "exc"}};
            try {
                try {
                    throw std::runtime_error("inner-cause");
                } catch (...) {
                    std::throw_with_nested(std::logic_error("outer-failure"));
                }
            } catch (const std::exception& e) {
                spdlog_ext::log_exception(logger, spdlog::level::err, e, "exception {}", 2);
                ++logged;
            }
        }

        const std::string this_file = __FILE__;
        const std::string this_function = SPDLOG_FUNCTION;
        const int info_line = __LINE__ + 1;
        SPDLOG_LOGGER_INFO(logger, "with source {}", 3);
        ++logged;
        const int call_line = __LINE__ + 1;
        SPDLOG_LOGGER_CALL(logger, spdlog::level::err, "call with source {}", 4);
        ++logged;

        const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
            {spdlog::level::trace, "TRACE"}, {spdlog::level::debug, "DEBUG"},
            {spdlog::level::info, "INFO"},   {spdlog::level::warn, "WARNING"},
            {spdlog::level::err, "ERROR"},   {spdlog::level::critical, "CRITICAL"}};
        for (const auto& [level, name] : levels) {
            logger->log(level, "level {}", name);
            ++logged;
        }
        const auto after = std::chrono::system_clock::now();

        // Explicit event times, straight into the sink: 2024-02-29 13:45:59.123456 UTC.
        const auto exact_time = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(1709214359) + std::chrono::microseconds(123456)));
        {
            spdlog::details::log_msg msg(exact_time, spdlog::source_loc{}, "rt.logger",
                                         spdlog::level::info, "explicit time");
            sink->log(msg);
            ++logged;
        }
        // 1999-12-31 23:59:59.999999 UTC plus 900 ns: sub-microsecond digits are not stored.
        const auto sub_us_time = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::seconds(946684799) + std::chrono::microseconds(999999) +
                std::chrono::nanoseconds(900)));
        {
            spdlog::details::log_msg msg(sub_us_time, spdlog::source_loc{}, "rt.logger",
                                         spdlog::level::info, "sub-microsecond time");
            sink->log(msg);
            ++logged;
        }

        const bool flushed = sink->flush_for(30s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, logged);
        CHECK(s.delivered == logged);
        CHECK(s.fallback == 0);
        CHECK(connected(s));

        const auto result = pg_test::query(
            "SELECT message, level, logger_name, process_id::text, thread_id::text, thread_name, "
            "hostname, exception, function_name, module, filename, lineno::text, pathname, "
            "extra_data::text, "
            "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
            "(extract(epoch FROM timestamp) * 1000000)::bigint::text, "
            "(created_at IS NOT NULL)::text FROM " +
            f.q_table() + " ORDER BY id");
        REQUIRE(result.size() == logged);
        enum col {
            c_message,
            c_level,
            c_logger,
            c_pid,
            c_tid,
            c_tname,
            c_host,
            c_exception,
            c_function,
            c_module,
            c_filename,
            c_lineno,
            c_pathname,
            c_extra,
            c_utc,
            c_epoch_us,
            c_created
        };
        std::map<std::string, pg_test::row> by_message;
        for (const auto& r : result) {
            REQUIRE(r.size() == 17);
            REQUIRE(r[c_message]);
            by_message[*r[c_message]] = r;
        }
        REQUIRE(by_message.size() == logged);

        const std::string expected_tid = std::to_string(spdlog::details::os::thread_id());
        const std::string& thread_name = spdlog_ext::current_thread_name();
        for (const auto& entry : by_message) {
            const std::string& message = entry.first;
            const pg_test::row& r = entry.second;
            CAPTURE(message);
            CHECK(text(r[c_logger]) == "rt.logger");
            CHECK(text(r[c_pid]) == std::to_string(spdlog_ext::process_id()));
            CHECK(text(r[c_host]) == spdlog_ext::host_name());
            CHECK(text(r[c_created]) == "true");
            CHECK(text(r[c_tid]) == expected_tid);
            if (thread_name.empty()) {
                CHECK((!r[c_tname] || r[c_tname]->empty()));
            } else {
                CHECK(text(r[c_tname]) == thread_name);
            }
            if (message != "explicit time" && message != "sub-microsecond time") {
                const auto us = std::stoll(text(r[c_epoch_us]));
                CHECK(us >= epoch_us(before));
                CHECK(us <= epoch_us(after) + 1);
            }
        }

        // Levels.
        for (const auto& level_name : levels) {
            const std::string& name = level_name.second;
            CAPTURE(name);
            REQUIRE(by_message.count("level " + name) == 1);
            CHECK(text(by_message["level " + name][c_level]) == name);
        }
        CHECK(text(by_message["typed fields 1"][c_level]) == "WARNING");
        CHECK(text(by_message["exception 2"][c_level]) == "ERROR");
        CHECK(text(by_message["with source 3"][c_level]) == "INFO");
        CHECK(text(by_message["call with source 4"][c_level]) == "ERROR");

        // Structured fields keep their JSON types.
        {
            const auto types = pg_test::query(
                "SELECT jsonb_typeof(extra_data->'n'), jsonb_typeof(extra_data->'neg'), "
                "jsonb_typeof(extra_data->'d'), jsonb_typeof(extra_data->'b'), "
                "jsonb_typeof(extra_data->'s'), jsonb_typeof(extra_data->'obj'), "
                "jsonb_typeof(extra_data->'arr'), jsonb_typeof(extra_data->'nul'), "
                "extra_data->>'n', extra_data->>'neg', (extra_data->>'d')::float8::text, "
                "extra_data->>'b', extra_data->>'s', extra_data#>>'{obj,k}', "
                "extra_data#>>'{obj,inner,x}', jsonb_typeof(extra_data#>'{obj,inner,x}'), "
                "jsonb_array_length(extra_data->'arr')::text, extra_data#>>'{arr,1}', "
                "jsonb_typeof(extra_data#>'{arr,3}'), extra_data->>'kind', "
                "(extra_data ? 'exception')::text, exception FROM " +
                f.q_table() + " WHERE message = 'typed fields 1'");
            REQUIRE(types.size() == 1);
            const auto& t = types[0];
            INFO("extra_data: " << text(by_message["typed fields 1"][c_extra]));
            CHECK(text(t[0]) == "number");
            CHECK(text(t[1]) == "number");
            CHECK(text(t[2]) == "number");
            CHECK(text(t[3]) == "boolean");
            CHECK(text(t[4]) == "string");
            CHECK(text(t[5]) == "object");
            CHECK(text(t[6]) == "array");
            CHECK(text(t[7]) == "null");
            CHECK(text(t[8]) == "42");
            CHECK(text(t[9]) == "-7");
            CHECK(text(t[10]) == "3.5");
            CHECK(text(t[11]) == "true");
            CHECK(text(t[12]) == "text value");
            CHECK(text(t[13]) == "v");
            CHECK(text(t[14]) == "1");
            CHECK(text(t[15]) == "number");
            CHECK(text(t[16]) == "4");
            CHECK(text(t[17]) == "two");
            CHECK(text(t[18]) == "boolean");
            CHECK(text(t[19]) == "typed");
            CHECK(text(t[20]) == "false");
            CHECK(text(t[21]) == "NULL");  // no exception on this record
            // Parsed back, the object is exactly what was logged.
            const auto extra = json::parse(text(by_message["typed fields 1"][c_extra]));
            CHECK(extra.at("obj") == json{{"k", "v"}, {"inner", json{{"x", 1}}}});
            CHECK(extra.at("arr") == json::array({1, "two", 3.5, false}));
        }

        // The exception goes to its column, not into extra_data.
        {
            const auto& r = by_message["exception 2"];
            INFO("exception column: " << text(r[c_exception])
                                      << "\nextra_data: " << text(r[c_extra]));
            REQUIRE(r[c_exception]);
            CHECK(contains(*r[c_exception], "outer-failure"));
            CHECK(contains(*r[c_exception], "inner-cause"));
            REQUIRE(r[c_extra]);
            const auto extra = json::parse(*r[c_extra]);
            CHECK(extra.value("kind", "") == "exc");
            CHECK_FALSE(extra.contains("exception"));
        }

        // Source location.
        for (const auto& source_case : std::vector<std::pair<std::string, int>>{
                 {"with source 3", info_line}, {"call with source 4", call_line}}) {
            const std::string& message = source_case.first;
            const int line = source_case.second;
            CAPTURE(message);
            const auto& r = by_message[message];
            CHECK(text(r[c_function]) == this_function);
            CHECK(text(r[c_filename]) == basename_of(this_file));
            CHECK(text(r[c_filename]) == "test_postgres.cpp");
            CHECK(text(r[c_pathname]) == this_file);
            CHECK(text(r[c_lineno]) == std::to_string(line));
            CHECK(text(r[c_module]) == "test_postgres");
        }
        // Records without a source location have none (NULL or empty).
        for (const auto* message : {"typed fields 1", "explicit time", "level INFO"}) {
            CAPTURE(message);
            const auto& r = by_message[message];
            for (int c : {c_function, c_filename, c_pathname, c_module}) {
                CHECK((!r[c] || r[c]->empty()));
            }
            CHECK((!r[c_lineno] || *r[c_lineno] == "0"));
        }
        // Records without fields: extra_data NULL or {}.
        {
            const auto& r = by_message["level INFO"];
            CHECK((!r[c_extra] || *r[c_extra] == "{}"));
        }

        // The event time to the microsecond, in UTC, whatever the session's zone.
        {
            const auto& r = by_message["explicit time"];
            CHECK(text(r[c_utc]) == "2024-02-29 13:45:59.123456");
            CHECK(text(r[c_epoch_us]) == std::to_string(epoch_us(exact_time)));
        }
        {
            const auto& r = by_message["sub-microsecond time"];
            const std::string utc = text(r[c_utc]);
            INFO("stored as " << utc << " (event 1999-12-31 23:59:59.999999900 UTC)");
            // Truncated or rounded to the microsecond; either way within one microsecond.
            CHECK((utc == "1999-12-31 23:59:59.999999" || utc == "2000-01-01 00:00:00.000000"));
            if (utc != "1999-12-31 23:59:59.999999") {
                MESSAGE("sub-microsecond time was rounded up, not truncated: " << utc);
            }
        }
    }

    TEST_CASE("postgres 200k records survive 3 server kills mid-stream exactly once") {
        pg_fixture f("kills");
        pg_test::table_cleanup cleanup({f.prefix});
        (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_SCRIPT");
        (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_DIR");
        constexpr int total = 200000;

        auto cfg = f.config();
        cfg.engine.queue_max_records = 300000;
        cfg.engine.queue_max_bytes = std::size_t(1) << 30;
        cfg.engine.retry_max_elapsed = 4min;
        cfg.connect_timeout = 5s;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("kills", sink);

        // Declared after the sink: on any exit the chaos thread is joined first, then the
        // server restarted, then the sink drained and destroyed, then the tables dropped.
        pg_test::server_restart_guard restart_guard;

        chaos_thread chaos;
        chaos.thread = std::thread([&chaos] { chaos.run(); });

        const auto t_start = std::chrono::steady_clock::now();
        int outage = 0;
        for (int i = 0; i < total; ++i) {
            if (outage < 3 && i == (outage + 1) * total / 4) {
                // The previous outage is over, then the next one starts; logging goes on
                // while the server is down.
                REQUIRE_MESSAGE(chaos.wait_for(90s, [&] { return chaos.restarted >= outage; }),
                                "outage " << outage << " did not end within 90 s");
                ++outage;
                chaos.request(outage);
                REQUIRE_MESSAGE(chaos.wait_for(60s, [&] { return chaos.killed >= outage; }),
                                "kill " << outage << " did not happen within 60 s");
            }
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "record {}", i);
            if (i % 500 == 499) {
                std::this_thread::sleep_for(10ms);  // logging spans the outages
            }
        }
        const double logging_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        REQUIRE_MESSAGE(chaos.wait_for(90s, [&] { return chaos.restarted >= 3; }),
                        "the last outage did not end within 90 s");
        {
            std::lock_guard<std::mutex> lock(chaos.mu);
            std::string problems;
            for (const auto& p : chaos.problems) {
                problems += p + "; ";
            }
            CHECK_MESSAGE(chaos.problems.empty(), problems);
            std::string durations;
            for (double d : chaos.outage_seconds) {
                durations += std::to_string(d) + " s ";
            }
            MESSAGE("logging took " << logging_seconds << " s; outages: " << durations);
        }
        REQUIRE(pg_test::wait_ready(30s));

        const auto t_flush = std::chrono::steady_clock::now();
        const bool flushed = sink->flush_for(180s);
        const double flush_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_flush).count();
        const auto s = sink->stats();
        INFO(f.describe(s));
        MESSAGE("flush took " << flush_seconds << " s; retries=" << s.retries
                              << " possible_duplicates=" << s.possible_duplicates << " batches="
                              << s.batches << " failed_batches=" << s.failed_batches);
        REQUIRE(flushed);
        check_accounting(s, total);
        CHECK(s.delivered == total);
        CHECK(s.fallback == 0);
        CHECK(s.dropped == 0);
        CHECK(f.fallback->size() == 0);
        CHECK(s.retries > 0);  // the outages were noticed at all

        const auto r = pg_test::query(
            "SELECT count(*)::text, count(DISTINCT (extra_data->>'seq')::int)::text, "
            "min((extra_data->>'seq')::int)::text, max((extra_data->>'seq')::int)::text FROM " +
            f.q_table());
        REQUIRE(r.size() == 1);
        CHECK(text(r[0][0]) == std::to_string(total));
        CHECK(text(r[0][1]) == std::to_string(total));
        CHECK(text(r[0][2]) == "0");
        CHECK(text(r[0][3]) == std::to_string(total - 1));
        if (text(r[0][1]) != std::to_string(total)) {
            // Which records are missing: ranges of consecutive seq values.
            const auto gaps = pg_test::query(
                "SELECT min(g)::text, max(g)::text, count(*)::text FROM (SELECT g, g - "
                "row_number() OVER (ORDER BY g) AS grp FROM (SELECT generate_series(0, " +
                std::to_string(total - 1) +
                ") AS g EXCEPT SELECT (extra_data->>'seq')::int "
                "FROM " +
                f.q_table() + ") missing) ranges GROUP BY grp ORDER BY 1 LIMIT 20");
            for (const auto& g : gaps) {
                MESSAGE("missing seq " << text(g[0]) << ".." << text(g[1]) << " (" << text(g[2])
                                       << " records)");
            }
            MESSAGE("batch ids recorded: "
                    << pg_test::scalar("SELECT count(*)::text || ' batches, ' || "
                                       "coalesce(sum(row_count), 0)::text || ' rows' FROM " +
                                       pg_test::quote_ident(f.table() + "_batches")));
        }
        if (text(r[0][0]) != text(r[0][1])) {
            const auto dups =
                pg_test::query("SELECT (extra_data->>'seq')::int AS seq, count(*) FROM " +
                               f.q_table() + " GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5");
            for (const auto& d : dups) {
                MESSAGE("duplicate seq " << text(d[0]) << " x" << text(d[1]));
            }
        }
    }

    TEST_CASE("postgres poisoned records: sanitized or cut - every record stored") {
        pg_fixture f("poison");
        pg_test::table_cleanup cleanup({f.prefix});

        const int deep = depth_rejected_by_server();
        REQUIRE_MESSAGE(deep > 0, "this server accepts jsonb nested 5000 deep with "
                                      << small_stack_setting
                                      << ": the test's server-rejected record cannot be built");
        MESSAGE("a field nested " << deep << " objects deep is refused by this server");
        // It used to reach the server (and be isolated into the fallback); the logging call
        // now cuts fields at 64 levels, so it is stored with "[depth limit]" at the cut.

        auto cfg = f.config();
        cfg.conninfo = with_session_option(cfg.conninfo, "-c%20max_stack_depth%3D100kB",
                                           std::string("-c ") + small_stack_setting);
        cfg.engine.queue_max_bytes = std::size_t(256) << 20;
        cfg.engine.max_record_bytes = std::size_t(4) << 20;  // the 2 MiB message stays whole
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        auto logger = std::make_shared<spdlog::logger>("poison", sink);

        const std::string big(2u << 20, 'x');  // a 2 MiB message
        int poisoned = 0;
        const auto poison = [&](int which) {
            ++poisoned;
            switch (which) {
                case 0:
                    spdlog_ext::log(logger, spdlog::level::info, {{"poison", "nul-message"}}, "{}",
                                    std::string("before\0after", 12));
                    break;
                case 1:
                    spdlog_ext::log(logger, spdlog::level::info, {{"poison", "bad-utf8-message"}},
                                    "{}", std::string("bad \xff\xfe utf8 \xc3\x28 end"));
                    break;
                case 2:
                    spdlog_ext::log(logger, spdlog::level::info, {{"poison", "big-message"}},
                                    "big:{}", big);
                    break;
                case 3:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "nul-value"}, {"v", std::string("a\0b", 3)}},
                                    "nul value");
                    break;
                case 4:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "nul-key"}, {std::string("k\0ey", 4), "v"}},
                                    "nul key");
                    break;
                case 5:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "bad-utf8-value"},
                                     {"v", std::string("x\xc3\x28y\xff")},
                                     {std::string("bad\xfekey"), 1}},
                                    "bad utf8 value");
                    break;
                case 6:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "nan"},
                                     {"nan", std::nan("")},
                                     {"inf", std::numeric_limits<double>::infinity()}},
                                    "nan double");
                    break;
                case 7:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "huge-int"},
                                     {"huge", std::numeric_limits<std::uint64_t>::max()},
                                     {"min", std::numeric_limits<std::int64_t>::min()}},
                                    "huge integer");
                    break;
                case 8:
                    spdlog_ext::log(logger, spdlog::level::info,
                                    {{"poison", "deep"}, {"deep", nested_object(deep)}},
                                    "deep nesting");
                    break;
                default:
                    --poisoned;
                    break;
            }
        };

        constexpr int good = 10000;
        int next_poison = 0;
        for (int i = 0; i < good; ++i) {
            if (i % 1000 == 500 && next_poison < 9) {
                poison(next_poison++);
            }
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "good {}", i);
        }
        REQUIRE(poisoned == 9);
        const std::uint64_t logged = good + poisoned;

        const bool flushed = sink->flush_for(120s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, logged);
        CHECK(s.delivered == logged);
        CHECK(s.fallback == 0);
        CHECK(s.dropped == 0);
        CHECK(s.truncated == 0);  // depth is cut at capture, not counted as a size cut

        // Every good record, once.
        const auto goods = pg_test::query(
            "SELECT count(*)::text, count(DISTINCT (extra_data->>'seq')::int)::text FROM " +
            f.q_table() + " WHERE extra_data ? 'seq'");
        REQUIRE(goods.size() == 1);
        CHECK(text(goods[0][0]) == std::to_string(good));
        CHECK(text(goods[0][1]) == std::to_string(good));

        // The sanitizable ones, stored sanitized.
        const auto rows = pg_test::query(
            "SELECT extra_data->>'poison', message, extra_data::text, octet_length(message)::text "
            "FROM " +
            f.q_table() + " WHERE extra_data ? 'poison'");
        std::map<std::string, pg_test::row> by_kind;
        for (const auto& r : rows) {
            by_kind[text(r[0])] = r;
        }
        CHECK(rows.size() == 9);
        for (const auto* kind : {"nul-message", "bad-utf8-message", "big-message", "nul-value",
                                 "nul-key", "bad-utf8-value", "nan", "huge-int", "deep"}) {
            CAPTURE(std::string(kind));
            CHECK(by_kind.count(kind) == 1);
        }

        if (by_kind.count("nul-message")) {
            const std::string m = text(by_kind["nul-message"][1]);
            CAPTURE(m);
            CHECK(m.find('\0') == std::string::npos);
            CHECK(contains(m, "before"));
            CHECK(contains(m, "after"));
            CHECK(contains(m, replacement_char));
        }
        if (by_kind.count("bad-utf8-message")) {
            const std::string m = text(by_kind["bad-utf8-message"][1]);
            CAPTURE(m);
            CHECK(contains(m, "bad "));
            CHECK(contains(m, " end"));
            CHECK(contains(m, replacement_char));
        }
        if (by_kind.count("big-message")) {
            CHECK(text(by_kind["big-message"][3]) == std::to_string(big.size() + 4));
        }
        if (by_kind.count("nul-value")) {
            const auto extra = json::parse(text(by_kind["nul-value"][2]));
            const std::string v = extra.value("v", std::string());
            CAPTURE(extra.dump());
            CHECK(v.find('\0') == std::string::npos);
            CHECK(contains(v, replacement_char));
            CHECK(contains(v, "a"));
            CHECK(contains(v, "b"));
        }
        if (by_kind.count("nul-key")) {
            const auto extra = json::parse(text(by_kind["nul-key"][2]));
            CAPTURE(extra.dump());
            bool sanitized_key = false;
            for (const auto& item : extra.items()) {
                CHECK(item.key().find('\0') == std::string::npos);
                if (contains(item.key(), replacement_char) && item.value() == "v") {
                    sanitized_key = true;
                }
            }
            CHECK(sanitized_key);
        }
        if (by_kind.count("bad-utf8-value")) {
            const auto extra = json::parse(text(by_kind["bad-utf8-value"][2]));
            CAPTURE(extra.dump());
            CHECK(contains(extra.value("v", std::string()), replacement_char));
            bool sanitized_key = false;
            for (const auto& item : extra.items()) {
                if (contains(item.key(), replacement_char) && item.value() == 1) {
                    sanitized_key = true;
                }
            }
            CHECK(sanitized_key);
        }
        if (by_kind.count("nan")) {
            const auto types = pg_test::query(
                "SELECT jsonb_typeof(extra_data->'nan'), jsonb_typeof(extra_data->'inf') FROM " +
                f.q_table() + " WHERE extra_data->>'poison' = 'nan'");
            REQUIRE(types.size() == 1);
            // JSON has no NaN/Infinity: null (or a string) is fine, a lost record is not.
            CHECK((text(types[0][0]) == "null" || text(types[0][0]) == "string"));
            CHECK((text(types[0][1]) == "null" || text(types[0][1]) == "string"));
        }
        if (by_kind.count("huge-int")) {
            const auto values = pg_test::query(
                "SELECT extra_data->>'huge', extra_data->>'min', jsonb_typeof(extra_data->'huge') "
                "FROM " +
                f.q_table() + " WHERE extra_data->>'poison' = 'huge-int'");
            REQUIRE(values.size() == 1);
            CHECK(text(values[0][0]) == "18446744073709551615");
            CHECK(text(values[0][1]) == "-9223372036854775808");
            CHECK(text(values[0][2]) == "number");
        }
        // Nothing stored anywhere holds a NUL (PostgreSQL could not) or lacks valid UTF-8.
        CHECK(pg_test::count(f.q_table() + " WHERE message LIKE '%' || chr(65533) || '%'") >= 2);

        // The deep one: stored, its fields cut at 64 levels (extra_data is the fields object,
        // level 1; "deep" holds 63 nested objects, the last of which holds the marker).
        if (by_kind.count("deep")) {
            const auto extra = json::parse(text(by_kind["deep"][2]));
            const json* node = &extra["deep"];
            int levels = 1;
            while (node->is_object() && node->contains("a")) {
                ++levels;
                node = &(*node)["a"];
            }
            CHECK(levels == 64);
            CHECK(*node == "[depth limit]");
        }
        CHECK(f.fallback->records().empty());
    }

    TEST_CASE("postgres hostile table prefix and schema names are quoted - over 63 bytes refused") {
        const std::string victim = "t_victim_" + pid_text();
        const std::string hostile = "x\"; DROP TABLE " + victim + "; --";
        pg_fixture f("hostile");
        f.prefix = hostile;
        const std::string odd_schema = "s_" + pid_text() + " Odd\"; DROP TABLE x; --'";
        const std::string schema_prefix = "t_schema_" + pid_text();
        pg_test::table_cleanup cleanup({hostile, victim, schema_prefix}, {odd_schema});

        pg_test::exec("CREATE TABLE " + pg_test::quote_ident(victim) + " (id int)");
        REQUIRE(pg_test::relation_exists(victim));

        SUBCASE("a prefix full of SQL") {
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(f.config());
            spdlog::logger logger("hostile", sink);
            for (int i = 0; i < 50; ++i) {
                logger.info("hostile {}", i);
            }
            const bool flushed = sink->flush_for(30s);
            const auto s = sink->stats();
            INFO(f.describe(s));
            REQUIRE(flushed);
            check_accounting(s, 50);
            CHECK(s.delivered == 50);
            CHECK(pg_test::relation_exists(hostile + "_logs"));
            CHECK(pg_test::relation_exists(victim));
            CHECK(pg_test::count(pg_test::quote_ident(hostile + "_logs")) == 50);
        }

        SUBCASE("a schema with odd characters") {
            // The sink creates a missing schema (create_table is on).
            REQUIRE(pg_test::count("pg_namespace WHERE nspname = " +
                                   pg_test::quote_literal(odd_schema)) == 0);
            auto cfg = f.config();
            cfg.table_prefix = schema_prefix;
            cfg.schema = odd_schema;
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("schema", sink);
            for (int i = 0; i < 20; ++i) {
                logger.info("in schema {}", i);
            }
            const bool flushed = sink->flush_for(30s);
            const auto s = sink->stats();
            INFO(f.describe(s));
            REQUIRE(flushed);
            check_accounting(s, 20);
            CHECK(s.delivered == 20);
            CHECK(pg_test::relation_exists(schema_prefix + "_logs", odd_schema));
            CHECK(pg_test::count(pg_test::qualified(odd_schema, schema_prefix + "_logs")) == 20);
            CHECK_FALSE(pg_test::relation_exists(schema_prefix + "_logs", "public"));
            CHECK(pg_test::relation_exists(victim));
        }

        SUBCASE("names over 63 bytes are a config_error naming the setting") {
            const auto expect_refused = [&](const std::string& prefix, const std::string& schema) {
                CAPTURE(prefix);
                CAPTURE(schema);
                auto cfg = f.config();
                cfg.table_prefix = prefix;
                cfg.schema = schema;
                bool thrown = false;
                try {
                    spdlog_ext::postgres_batch_sink sink(cfg);
                } catch (const spdlog_ext::config_error& e) {
                    thrown = true;
                    const std::string what = e.what();
                    INFO("what(): " << what << "  variable(): " << e.variable());
                    const std::string setting = schema.empty() ? "table_prefix" : "schema";
                    CHECK(
                        (contains(lower(what), setting) || contains(lower(e.variable()), setting)));
                    if (!contains(what, "63")) {
                        MESSAGE("the error does not mention the 63-byte limit: " << what);
                    }
                }
                CHECK_MESSAGE(thrown, "no config_error");
            };
            expect_refused(std::string(60, 'p'), "");  // p..._logs: 65 bytes
            std::string accented;                      // 30 x "\u00e9": 30 characters but 60 bytes
            for (int i = 0; i < 30; ++i) {
                accented += "\xC3\xA9";
            }
            expect_refused(accented, "");  // 65 bytes with _logs
            expect_refused("short", std::string(64, 's'));
            auto cfg = f.config();
            // 58 bytes: "<58>_logs" is exactly 63 bytes: accepted.
            cfg.table_prefix = schema_prefix + std::string(58 - schema_prefix.size(), 'q');
            CHECK_NOTHROW(std::make_unique<spdlog_ext::postgres_batch_sink>(cfg).reset());
            // 52 bytes: the table's name fits (57) but "<52>_logs_batches" (65) would not: the
            // sink must not let PostgreSQL truncate it silently (two prefixes could collide).
            cfg.table_prefix = schema_prefix + std::string(52 - schema_prefix.size(), 'q');
            {
                auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
                spdlog::logger logger("long", sink);
                for (int i = 0; i < 5; ++i) {
                    logger.info("long prefix {}", i);
                }
                const bool flushed = sink->flush_for(30s);
                const auto s = sink->stats();
                INFO(f.describe(s));
                REQUIRE(flushed);
                check_accounting(s, 5);
                CHECK(s.delivered == 5);
            }
            CHECK(pg_test::count(pg_test::quote_ident(cfg.table_prefix + "_logs")) == 5);
            // Every table of that prefix has a name PostgreSQL did not have to truncate: the
            // batches table under a shortened name, not "<prefix>_logs_batc" (63 bytes cut).
            const auto names = pg_test::query(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND left(relname, " +
                std::to_string(schema_prefix.size()) +
                ") = " + pg_test::quote_literal(schema_prefix) + " ORDER BY relname");
            std::string listed;
            for (const auto& n : names) {
                listed += text(n[0]) + " ";
            }
            INFO("tables: " << listed);
            CHECK(names.size() == 2);
            for (const auto& n : names) {
                CHECK(text(n[0]) != (cfg.table_prefix + "_logs_batches").substr(0, 63));
            }
        }

        CHECK(pg_test::relation_exists(victim));
    }

    TEST_CASE("postgres retention deletes rows older than retention_days and keeps fresh ones") {
        pg_fixture f("retention");
        pg_test::table_cleanup cleanup({f.prefix});
        auto cfg = f.config();
        cfg.retention_days = 7;
        cfg.retention_interval = 200ms;
        cfg.retention_chunk_rows = 100;  // several chunks for 500 old rows
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);

        const auto now = std::chrono::system_clock::now();
        const auto old_time = now - std::chrono::hours(24 * 10);
        const auto edge_time = now - std::chrono::hours(24 * 6);  // younger than 7 days
        constexpr int old_count = 500;
        constexpr int fresh_count = 100;
        for (int i = 0; i < old_count; ++i) {
            spdlog::details::log_msg msg(old_time + std::chrono::milliseconds(i),
                                         spdlog::source_loc{}, "retention", spdlog::level::info,
                                         "old");
            sink->log(msg);
        }
        for (int i = 0; i < fresh_count; ++i) {
            spdlog::details::log_msg msg(i % 2 == 0 ? now : edge_time, spdlog::source_loc{},
                                         "retention", spdlog::level::info, "fresh");
            sink->log(msg);
        }
        const bool flushed = sink->flush_for(30s);
        auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, old_count + fresh_count);
        CHECK(s.delivered == old_count + fresh_count);

        long long old_left = -1;
        const bool gone = wait_until(
            [&] {
                old_left = pg_test::count(f.q_table() + " WHERE message = 'old'");
                return old_left == 0;
            },
            10s, 100ms);
        CHECK_MESSAGE(gone, "old rows left after 10 s: " << old_left);
        CHECK(pg_test::count(f.q_table() + " WHERE message = 'fresh'") == fresh_count);
        CHECK(pg_test::count(f.q_table() + " WHERE timestamp < now() - interval '7 days'") == 0);
    }

    TEST_CASE("postgres an existing table without the message column gives a clear error") {
        for (const bool create_table : {false, true}) {
            CAPTURE(create_table);
            pg_fixture f(std::string("incompat") + (create_table ? "1" : "0"));
            pg_test::table_cleanup cleanup({f.prefix});
            pg_test::exec("CREATE TABLE " + f.q_table() +
                          " (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ NOT NULL, "
                          "level TEXT NOT NULL, logger_name TEXT NOT NULL, process_id INTEGER, "
                          "thread_id BIGINT, thread_name TEXT, hostname TEXT, exception TEXT, "
                          "function_name TEXT, module TEXT, filename TEXT, lineno INTEGER, "
                          "pathname TEXT, extra_data JSONB, "
                          "created_at TIMESTAMPTZ NOT NULL DEFAULT now())");
            pg_test::exec("CREATE TABLE " + pg_test::quote_ident(f.table() + "_batches") +
                          " (batch_id TEXT PRIMARY KEY, row_count INTEGER NOT NULL, "
                          "committed_at TIMESTAMPTZ NOT NULL DEFAULT now())");

            auto cfg = f.config();
            cfg.create_table = create_table;
            cfg.engine.retry_max_attempts = 3;  // bounded even if it were taken as transient
            cfg.engine.retry_max_elapsed = 10s;
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("incompat", sink);
            constexpr int n = 100;
            for (int i = 0; i < n; ++i) {
                logger.info("incompatible {}", i);
            }
            const bool flushed = sink->flush_for(60s);
            const auto s = sink->stats();
            INFO(f.describe(s));
            REQUIRE(flushed);
            check_accounting(s, n);
            CHECK(s.delivered == 0);
            CHECK(s.fallback == n);
            CHECK(f.fallback->size() == n);
            CHECK(contains(s.last_error, "message"));
            if (!contains(s.last_error, f.table())) {
                MESSAGE("last_error does not name the table " << f.table());
            }
            const auto fb = f.fallback->records();
            if (!fb.empty()) {
                const std::string reason = fb.front().fields.value("fallback_reason", "");
                INFO("fallback_reason: " << reason);
                CHECK(contains(reason, "message"));
            }
            MESSAGE("create_table=" << create_table << ": disabled=" << s.disabled
                                    << " last_error: " << s.last_error);
            // The table was not altered behind the user's back.
            CHECK(pg_test::count("information_schema.columns WHERE table_name = " +
                                 pg_test::quote_literal(f.table()) +
                                 " AND column_name = 'message'") == 0);
        }
    }

    // The batch id is recorded in the same query string as the COPY and before it: a unique
    // violation there means an earlier try committed (delivered, not written again), one from the
    // rows is bad data (isolated to the records that cause it).
    TEST_CASE("postgres a unique violation in the rows is isolated - not taken for the batch id") {
        pg_fixture f("uniqrows");
        pg_test::table_cleanup cleanup({f.prefix});
        auto cfg = f.config();
        cfg.engine.batch_max_delay = 200ms;  // the records below go as one batch
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("uniqrows", sink);
        logger.info("set-up");  // the sink creates the table
        REQUIRE(sink->flush_for(30s));
        pg_test::exec("CREATE UNIQUE INDEX ON " + f.q_table() + " (message)");
        for (int i = 0; i < 20; ++i) {
            logger.info(i == 7 || i == 13 ? std::string("twice") : "once " + std::to_string(i));
        }
        const bool flushed = sink->flush_for(60s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, 21);
        CHECK(s.delivered == 20);
        CHECK(s.fallback == 1);
        REQUIRE(f.fallback->size() == 1);
        CHECK(f.fallback->records().front().message == "twice");
        CHECK(pg_test::count(f.q_table()) == 20);
        CHECK(pg_test::count(f.q_table() + " WHERE message = 'twice'") == 1);
    }

    // The sink masks records as it streams them (backend::prepares_records): every row of a
    // batch spanning many COPY pieces, and the record isolated to the fallback, come masked.
    TEST_CASE("postgres secrets are masked in every stored row and in the isolated record") {
        pg_fixture f("masked");
        pg_test::table_cleanup cleanup({f.prefix});
        auto cfg = f.config();
        cfg.engine.batch_max_delay = 500ms;  // one batch of several COPY pieces
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("masked", sink);
        logger.info("set-up");  // the sink creates the table
        REQUIRE(sink->flush_for(30s));
        pg_test::exec("CREATE UNIQUE INDEX ON " + f.q_table() + " (message)");
        constexpr int n = 3000;
        for (int i = 0; i < n; ++i) {
            // Record 2000 repeats record 1000's message: the server refuses the batch and the
            // sink isolates it.
            const int k = i == 2000 ? 1000 : i;
            spdlog_ext::log(logger, spdlog::level::info, {{"password", "hunter2"}, {"n", i}},
                            "call {} with Bearer tok-{:012d}", k, k);
        }
        const bool flushed = sink->flush_for(60s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, n + 1);
        CHECK(s.fallback == 1);
        CHECK(pg_test::count(f.q_table()) == n);
        CHECK(pg_test::count(f.q_table() + " WHERE message LIKE '%tok-%' OR extra_data::text "
                                           "LIKE '%hunter2%'") == 0);
        CHECK(pg_test::count(f.q_table() + " WHERE message LIKE '%Bearer [REDACTED]' AND "
                                           "extra_data->>'password' = '[REDACTED]'") == n - 1);
        REQUIRE(f.fallback->size() == 1);
        const auto isolated = f.fallback->records().front();
        CHECK(isolated.message == "call 1000 with Bearer [REDACTED]");
        CHECK(isolated.fields.at("password") == "[REDACTED]");
    }

    TEST_CASE("postgres a unique violation on the batch id means an earlier try committed") {
        pg_fixture f("uniqid");
        pg_test::table_cleanup cleanup({f.prefix});
        auto cfg = f.config();
        cfg.engine.batch_max_delay = 200ms;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("uniqid", sink);
        logger.info("set-up");
        REQUIRE(sink->flush_for(30s));
        // The next batch id insert fails once as if the id were there (a sequence counts the
        // calls: it is not rolled back with the failed transaction), as when a try whose
        // connection was given up committed after the retry's check.
        const std::string batches = pg_test::quote_ident(f.table() + "_batches");
        const std::string fn = pg_test::quote_ident(f.prefix + "_dup_once");
        const std::string seq = pg_test::quote_ident(f.prefix + "_dup_calls");
        pg_test::exec("CREATE SEQUENCE " + seq);
        pg_test::exec("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " +
                      "IF nextval(" + pg_test::quote_literal(seq) +
                      ") = 1 THEN RAISE unique_violation USING MESSAGE = 'batch id exists'; "
                      "END IF; RETURN NEW; END $$");
        pg_test::exec("CREATE TRIGGER dup_once BEFORE INSERT ON " + batches +
                      " FOR EACH ROW EXECUTE FUNCTION " + fn + "()");
        for (int i = 0; i < 10; ++i) {
            logger.info("first {}", i);
        }
        REQUIRE(sink->flush_for(30s));
        for (int i = 0; i < 10; ++i) {
            logger.info("second {}", i);
        }
        const bool flushed = sink->flush_for(30s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        pg_test::exec("DROP TABLE " + batches + "; DROP FUNCTION " + fn + "(); DROP SEQUENCE " +
                      seq);
        REQUIRE(flushed);
        check_accounting(s, 21);
        CHECK(s.delivered == 21);
        CHECK(s.fallback == 0);
        // Taken as committed by the earlier try, so not written (again): the rows of the first
        // batch are not there, the second batch's are.
        CHECK(pg_test::count(f.q_table() + " WHERE message LIKE 'first %'") == 0);
        CHECK(pg_test::count(f.q_table() + " WHERE message LIKE 'second %'") == 10);
    }

    TEST_CASE("postgres database down at start: logging returns + all stored once it is up") {
        pg_fixture f("downstart");
        pg_test::table_cleanup cleanup({f.prefix});  // runs after the server is back
        {
            pg_test::server_restart_guard restart_guard;
            REQUIRE(pg_test::services("pg-stop-immediate") == 0);
            REQUIRE_FALSE(pg_test::wait_ready(0ms));

            auto cfg = f.config();
            cfg.connect_timeout = 2s;
            cfg.engine.retry_max_elapsed = 2min;
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("downstart", sink);
            constexpr int n = 1000;
            const auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < n; ++i) {
                spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "down {}", i);
            }
            const auto log_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - t0)
                                    .count();
            CHECK_MESSAGE(log_ms < 1000, "1000 logging calls took " << log_ms << " ms");
            std::this_thread::sleep_for(500ms);  // the worker has tried (and failed) by now
            auto s = sink->stats();
            CHECK_MESSAGE(s.backend.contains("connected"), s.backend.dump());
            CHECK_FALSE(connected(s));
            CHECK(s.delivered == 0);
            CHECK_FALSE(sink->flush_for(200ms));  // nothing can be delivered yet

            REQUIRE(pg_test::services("pg-start") == 0);
            REQUIRE(pg_test::wait_ready(30s));
            const bool flushed = sink->flush_for(60s);
            s = sink->stats();
            INFO(f.describe(s));
            REQUIRE(flushed);
            check_accounting(s, n);
            CHECK(s.delivered == n);
            CHECK(s.fallback == 0);
            CHECK(connected(s));
            const auto r = pg_test::query(
                "SELECT count(*)::text, count(DISTINCT (extra_data->>'seq')::int)::text FROM " +
                f.q_table());
            REQUIRE(r.size() == 1);
            CHECK(text(r[0][0]) == std::to_string(n));
            CHECK(text(r[0][1]) == std::to_string(n));
        }
    }

    TEST_CASE("postgres message column: the logger's pattern stays out - the sink's applies") {
        pg_fixture f("pattern");
        pg_test::table_cleanup cleanup({f.prefix});
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(f.config());
        auto logger = std::make_shared<spdlog::logger>("pattern", sink);
        logger->info("before the pattern");
        logger->set_pattern("%^[%l]%$ %v");  // for a console: level and time have columns here
        logger->info("plain info");
        sink->set_message_pattern("[%l] %v");  // the sink's own, explicit choice
        logger->warn("formatted");
        const bool flushed = sink->flush_for(30s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, 3);
        const auto rows =
            pg_test::query("SELECT message, level FROM " + f.q_table() + " ORDER BY id");
        std::vector<std::string> got;
        for (const auto& r : rows) {
            got.push_back(r[0].value_or("NULL") + " | " + r[1].value_or("NULL"));
        }
        CHECK(got == std::vector<std::string>{"before the pattern | INFO", "plain info | INFO",
                                              "[warning] formatted | WARNING"});
    }

    TEST_CASE("postgres from the registry: LOG_BACKENDS=postgres + LOG_POSTGRES_* settings") {
        pg_fixture f("registry");
        pg_test::table_cleanup cleanup({f.prefix});
        env_guard env;
        env.set("LOG_BACKENDS", "postgres");
        env.set("LOG_POSTGRES_URL", pg_test::url());
        env.set("LOG_POSTGRES_TABLE_PREFIX", f.prefix);
        env.set("LOG_POSTGRES_BATCH_MAX_DELAY", "20ms");
        env.set("LOG_POSTGRES_RETRY_INITIAL", "50ms");
        env.set("LOG_POSTGRES_RETRY_MAX_DELAY", "1s");
        env.unset("LOG_POSTGRES_RETENTION_DAYS");
        env.unset("LOG_POSTGRES_SCHEMA");
        env.unset("LOG_POSTGRES_LEVEL");

        const auto names = spdlog_ext::registered_backends();
        CHECK(std::find(names.begin(), names.end(), "postgres") != names.end());

        {
            const auto sinks = spdlog_ext::sinks_from_string("postgres");
            REQUIRE(sinks.size() == 1);
            auto sink = std::dynamic_pointer_cast<spdlog_ext::postgres_batch_sink>(sinks[0]);
            REQUIRE(sink != nullptr);
            spdlog::logger logger("registry", sinks.begin(), sinks.end());
            for (int i = 0; i < 100; ++i) {
                spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "registry {}", i);
            }
            const bool flushed = sink->flush_for(30s);
            const auto s = sink->stats();
            INFO("stats: " << s.to_json().dump());
            REQUIRE(flushed);
            check_accounting(s, 100);
            CHECK(s.delivered == 100);
            CHECK(s.name == "postgres");
            CHECK(pg_test::count(f.q_table()) == 100);
        }

        env.set("LOG_POSTGRES_RETENTION_DAYS", "abc");
        bool thrown = false;
        try {
            (void)spdlog_ext::sinks_from_string("postgres", spdlog_ext::strictness::strict);
        } catch (const spdlog_ext::config_error& e) {
            thrown = true;
            INFO("what(): " << e.what());
            CHECK(e.variable() == "LOG_POSTGRES_RETENTION_DAYS");
            CHECK(contains(e.what(), "LOG_POSTGRES_RETENTION_DAYS"));
        }
        CHECK_MESSAGE(thrown, "LOG_POSTGRES_RETENTION_DAYS=abc did not throw config_error");
    }

    TEST_CASE(
        "postgres_logger_mt follows spdlog's level and flush level - a debug record is stored") {
        pg_fixture f("factory");
        pg_test::table_cleanup cleanup({f.prefix});
        struct restore_spdlog {
            ~restore_spdlog() {
                spdlog::set_level(spdlog::level::info);
                spdlog::flush_on(spdlog::level::off);
            }
        } restore;
        spdlog::set_level(spdlog::level::debug);
        spdlog::flush_on(spdlog::level::warn);
        const std::string name = "pg_factory_" + pid_text();
        auto logger = spdlog_ext::postgres_logger_mt(name, f.config());
        CHECK(logger->level() == spdlog::level::debug);
        CHECK(logger->flush_level() == spdlog::level::warn);
        logger->debug("a debug record");
        logger->warn("a warning, flushed by flush_on(warn)");
        // flush_on(warn) flushed the sink within the warn call: both rows are there now.
        INFO(f.describe(
            std::dynamic_pointer_cast<spdlog_ext::engine_sink>(logger->sinks()[0])->stats()));
        CHECK(pg_test::count(f.q_table() + " WHERE level = 'DEBUG'") == 1);
        CHECK(pg_test::count(f.q_table()) == 2);
        spdlog::drop(name);
    }
}
