// postgres_log_store (query, count, stats, cleanup) against the real PostgreSQL of
// scripts/services.sh: every filter on known rows (expected ids computed from the rows' own
// definitions), typed rows, hostile filter text, a missing table, keyset pagination over 100k rows
// while another connection inserts, stats against SQL computed independently, chunked cleanup.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "integration/pg_helpers.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

using namespace std::chrono_literals;

namespace {

using spdlog_ext::log_filter;
using spdlog_ext::log_order;
using spdlog_ext::log_time;
using spdlog_ext::page_request;
using spdlog_ext::postgres_log_store;
using spdlog_ext::store_error;
namespace level = spdlog::level;

std::string prefix_for(const std::string& name) {
    return "t_store_" + name + "_" + std::to_string(static_cast<long long>(::getpid()));
}

spdlog_ext::postgres_config config_for(const std::string& prefix) {
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = pg_test::url();
    cfg.table_prefix = prefix;
    cfg.engine.batch_max_delay = 20ms;
    return cfg;
}

std::string table_of(const std::string& prefix) {
    return pg_test::quote_ident(prefix + "_logs");
}

// Creates the log table the way the sink does (its DDL), then empties it.
void create_table(const std::string& prefix) {
    auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(config_for(prefix));
    spdlog::logger logger("setup", sink);
    logger.info("setup");
    REQUIRE(sink->flush_for(30s));
    REQUIRE(sink->stats().delivered == 1);
    pg_test::exec("DELETE FROM " + table_of(prefix));
}

// Every row of every page of `request` (checks each page's size against the limit).
std::vector<spdlog_ext::log_row> all_pages(postgres_log_store& store, page_request request,
                                           int* pages = nullptr) {
    std::vector<spdlog_ext::log_row> rows;
    int n = 0;
    for (;;) {
        const auto page = store.query(request);
        ++n;
        REQUIRE(page.rows.size() <= request.limit);
        rows.insert(rows.end(), page.rows.begin(), page.rows.end());
        if (page.next_cursor.empty())
            break;
        REQUIRE(page.rows.size() == request.limit);
        request.cursor = page.next_cursor;
    }
    if (pages)
        *pages = n;
    return rows;
}

std::vector<std::int64_t> ids_of(const std::vector<spdlog_ext::log_row>& rows) {
    std::vector<std::int64_t> ids;
    for (const auto& r : rows)
        ids.push_back(r.id);
    return ids;
}

// A row written by INSERT with exact values; the model the expected results are computed from.
struct known_row {
    std::int64_t id = 0;  // assigned by the server
    int age_s;            // timestamp = base - age_s
    level::level_enum lvl;
    std::string logger, host, message;
    std::optional<std::string> exception;
    std::optional<nlohmann::json> extra;
};

const char* level_text(level::level_enum l) {
    static const char* names[] = {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};
    return names[static_cast<int>(l)];
}

std::string sql_text(const std::optional<std::string>& s) {
    return s ? pg_test::quote_literal(*s) : std::string("NULL");
}

// Inserts `rows` (ids filled in) with timestamps relative to base_us (µs since the epoch).
void insert_known(const std::string& prefix, std::vector<known_row>& rows, long long base_us) {
    pqxx::connection conn(pg_test::url());
    pqxx::nontransaction tx(conn);
    for (auto& r : rows) {
        const auto result = tx.exec(
            "INSERT INTO " + table_of(prefix) +
            " (timestamp, level, logger_name, hostname, message, exception, extra_data) VALUES "
            "(to_timestamp(0) + make_interval(secs => " +
            std::to_string(base_us - static_cast<long long>(r.age_s) * 1000000) +
            " / 1000000.0), '" + level_text(r.lvl) + "', " + pg_test::quote_literal(r.logger) +
            ", " + pg_test::quote_literal(r.host) + ", " + pg_test::quote_literal(r.message) +
            ", " + sql_text(r.exception) + ", " +
            (r.extra ? pg_test::quote_literal(r.extra->dump()) + "::jsonb" : std::string("NULL")) +
            ") RETURNING id");
        r.id = std::stoll(result[0][0].c_str());
    }
}

log_time at_us(long long us) {
    return log_time(std::chrono::microseconds(us));
}

// RFC 3339 text of `t` (through log_row::to_json, checked in "rows come back typed").
std::string iso(log_time t) {
    spdlog_ext::log_row row;
    row.timestamp = t;
    return row.to_json()["timestamp"].get<std::string>();
}

}  // namespace

TEST_SUITE("store_integration") {
    TEST_CASE("log store: each filter returns exactly the matching known rows") {
        const std::string prefix = prefix_for("filters");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        const long long base = 1700000000000000LL;  // 2023-11-14T22:13:20Z
        std::vector<known_row> rows = {
            {0, 10, level::info, "app", "h1", "user logged in", std::nullopt,
             nlohmann::json{{"user_id", 7}}},
            {0, 20, level::warn, "db.pool", "h1", "slow query 100%", std::nullopt,
             nlohmann::json{{"user_id", 8}, {"q", "x"}}},
            {0, 30, level::err, "db.pool.conn", "h2", "connection reset",
             std::string("IOError: Timeout"), std::nullopt},
            {0, 40, level::critical, "db", "h2", "disk full", std::nullopt,
             nlohmann::json{{"disk", {{"free", 0}}}}},
            {0, 50, level::debug, "dbx", "h3", "under_score and back\\slash", std::nullopt,
             std::nullopt},
            {0, 60, level::trace, "app.web", "h3", "TimeOut in handler", std::nullopt,
             nlohmann::json{{"user_id", 7}, {"path", "/a"}}},
            {0, 3600, level::info, "app", "h1", "it's quoted \"here\"",
             std::string("trace with timeout"), nlohmann::json{{"tags", {"a", "b"}}}},
            {0, 7200, level::err, "app", "h2", "percent 50 off", std::nullopt,
             nlohmann::json{{"user_id", "7"}}},
        };
        insert_known(prefix, rows, base);
        postgres_log_store store(config_for(prefix));
        // Time order has two forms: per level through (level, timestamp), or (preset none) one
        // sort. Both must give the same pages.
        auto none_cfg = config_for(prefix);
        none_cfg.indexes = spdlog_ext::postgres_indexes::none;
        postgres_log_store store_none(none_cfg);

        const auto expect = [&](const log_filter& f,
                                const std::function<bool(const known_row&)>& match,
                                const char* what) {
            std::vector<std::int64_t> want;
            for (const auto& r : rows) {
                if (match(r))
                    want.push_back(r.id);
            }
            std::sort(want.rbegin(), want.rend());  // id DESC
            page_request req;
            req.filter = f;
            req.limit = 3;  // several pages for most filters
            const auto got = ids_of(all_pages(store, req));
            CHECK_MESSAGE(got == want, what);
            CHECK_MESSAGE(store.count(f) == want.size(), what);
            req.order = log_order::time;  // the same set by (timestamp DESC, id DESC)
            std::vector<known_row> by_time;
            for (const auto& r : rows) {
                if (match(r))
                    by_time.push_back(r);
            }
            std::sort(by_time.begin(), by_time.end(), [](const known_row& a, const known_row& b) {
                return a.age_s != b.age_s ? a.age_s < b.age_s : a.id > b.id;
            });
            std::vector<std::int64_t> want_time;
            for (const auto& r : by_time)
                want_time.push_back(r.id);
            CHECK_MESSAGE(ids_of(all_pages(store, req)) == want_time, what);
            CHECK_MESSAGE(ids_of(all_pages(store_none, req)) == want_time, what);
        };

        expect(
            {}, [](const known_row&) { return true; }, "no filter");
        log_filter f;
        f.since = at_us(base - 3600LL * 1000000);
        expect(
            f, [](const known_row& r) { return r.age_s <= 3600; }, "since (inclusive)");
        f = {};
        f.until = at_us(base - 40LL * 1000000);
        expect(
            f, [](const known_row& r) { return r.age_s > 40; }, "until (exclusive)");
        f.since = at_us(base - 3600LL * 1000000);
        expect(
            f, [](const known_row& r) { return r.age_s > 40 && r.age_s <= 3600; },
            "since and until");
        f = {};
        f.min_level = level::warn;
        expect(
            f, [](const known_row& r) { return r.lvl >= level::warn; }, "min_level warn");
        f.levels = {level::trace, level::critical};
        expect(
            f, [](const known_row& r) { return r.lvl == level::trace || r.lvl == level::critical; },
            "a level set wins over min_level");
        f = {};
        f.loggers = {"app"};
        expect(
            f, [](const known_row& r) { return r.logger == "app"; }, "exact logger");
        f.loggers = {"db.*"};
        expect(
            f, [](const known_row& r) { return r.logger.rfind("db.", 0) == 0; },
            "logger prefix db.*");
        f.loggers = {"db", "app.*"};
        expect(
            f,
            [](const known_row& r) { return r.logger == "db" || r.logger.rfind("app.", 0) == 0; },
            "exact or prefix");
        f = {};
        f.hosts = {"h2", "h3"};
        expect(
            f, [](const known_row& r) { return r.host == "h2" || r.host == "h3"; }, "hosts");
        f = {};
        f.search = "TIMEOUT";
        expect(
            f,
            [&](const known_row& r) {
                return r.message == "TimeOut in handler" || r.id == rows[2].id ||
                       r.id == rows[6].id;
            },
            "search is case-insensitive over message and exception");
        f.search = "100%";
        expect(
            f, [](const known_row& r) { return r.message == "slow query 100%"; },
            "search % is literal");
        f.search = "under_score";
        expect(
            f, [](const known_row& r) { return r.logger == "dbx"; }, "search _ is literal");
        f.search = "r_s";  // would match "under_score"'s "r_s"? no: literal "r_s" only
        expect(
            f, [](const known_row& r) { return r.message.find("r_s") != std::string::npos; },
            "search r_s");
        f.search = "back\\slash";
        expect(
            f, [](const known_row& r) { return r.logger == "dbx"; }, "search backslash");
        f.search = "it's quoted \"here\"";
        expect(
            f, [](const known_row& r) { return r.age_s == 3600; }, "search quotes");
        f = {};
        f.fields = {nlohmann::json{{"user_id", 7}}};
        expect(
            f,
            [](const known_row& r) {
                return r.extra && r.extra->value("user_id", nlohmann::json()) == 7;
            },
            "field user_id 7 (not \"7\")");
        f.fields.push_back(nlohmann::json{{"path", "/a"}});
        expect(
            f, [](const known_row& r) { return r.logger == "app.web"; }, "two fields");
        f.fields = {nlohmann::json{{"disk", {{"free", 0}}}}};
        expect(
            f, [](const known_row& r) { return r.logger == "db"; }, "nested field");
        f.fields = {nlohmann::json{{"tags", {"b"}}}};
        expect(
            f, [](const known_row& r) { return r.age_s == 3600; }, "array containment");
        f = {};
        f.has_exception = true;
        expect(
            f, [](const known_row& r) { return r.exception.has_value(); }, "has_exception");
        f.has_exception = false;
        expect(
            f, [](const known_row& r) { return !r.exception.has_value(); }, "no exception");
        f = {};
        f.min_level = level::err;
        f.loggers = {"app", "db.*"};
        f.hosts = {"h2"};
        expect(
            f, [&](const known_row& r) { return r.id == rows[2].id || r.id == rows[7].id; },
            "combined");
    }

    TEST_CASE("log store: rows come back typed") {
        const std::string prefix = prefix_for("typed");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        // A record through the real sink, with a microsecond time, fields, an exception and a
        // source.
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(config_for(prefix));
        spdlog::logger logger("typed.logger", sink);
        const auto when =
            spdlog::log_clock::time_point(std::chrono::duration_cast<spdlog::log_clock::duration>(
                std::chrono::microseconds(1700000000123456LL)));
        {
            spdlog_ext::scoped_fields fields{
                {"user_id", 7}, {"tags", {"x", "y"}}, {"exception", "Traceback: boom"}};
            logger.log(when, spdlog::source_loc{"src/app/main.cpp", 42, "run"}, level::warn,
                       "hello typed");
        }
        REQUIRE(sink->flush_for(30s));
        // And one with the optional columns NULL, by INSERT, at an early µs.
        pg_test::exec("INSERT INTO " + table_of(prefix) +
                      " (timestamp, level, logger_name, message) VALUES "
                      "('1999-12-31 23:59:59.000001+00', 'CRITICAL', 'bare', 'no extras')");
        postgres_log_store store(config_for(prefix));
        page_request req;
        req.order = log_order::time;
        const auto page = store.query(req);
        REQUIRE(page.rows.size() == 2);
        CHECK(page.next_cursor.empty());
        const auto& r = page.rows[0];
        CHECK(r.timestamp.time_since_epoch().count() == 1700000000123456LL);
        CHECK(r.level == level::warn);
        CHECK(r.logger == "typed.logger");
        CHECK(r.message == "hello typed");
        CHECK(r.exception == std::optional<std::string>("Traceback: boom"));
        CHECK(r.extra == nlohmann::json{{"user_id", 7}, {"tags", {"x", "y"}}});
        CHECK(r.filename == std::optional<std::string>("src/app/main.cpp"));
        CHECK(r.lineno == std::optional<std::int64_t>(42));
        CHECK(r.function_name == std::optional<std::string>("run"));
        CHECK(r.process_id == std::optional<std::int64_t>(::getpid()));
        CHECK(r.thread_id.has_value());
        CHECK(r.hostname.has_value());
        const auto j = r.to_json();
        CHECK(j["id"] == r.id);
        CHECK(j["timestamp"] == "2023-11-14T22:13:20.123456+00:00");
        CHECK(j["level"] == "warning");
        CHECK(j["fields"]["user_id"] == 7);
        CHECK(j["source"] ==
              nlohmann::json{{"file", "src/app/main.cpp"}, {"line", 42}, {"function", "run"}});
        CHECK(j["exception"] == "Traceback: boom");
        CHECK(j["pid"] == ::getpid());

        const auto& bare = page.rows[1];
        CHECK(bare.timestamp.time_since_epoch().count() == 946684799000001LL);
        CHECK(bare.level == level::critical);
        CHECK(!bare.exception);
        CHECK(!bare.hostname);
        CHECK(!bare.process_id);
        CHECK(!bare.thread_id);
        CHECK(!bare.thread_name);
        CHECK(!bare.filename);
        CHECK(!bare.lineno);
        CHECK(!bare.function_name);
        CHECK(bare.extra == nlohmann::json::object());
        const auto bj = bare.to_json();
        CHECK(bj.size() == 5);  // id timestamp level logger message
        CHECK(bj["timestamp"] == "1999-12-31T23:59:59.000001+00:00");
    }

    TEST_CASE(
        "log store: hostile filter text finds what was logged and never raises an SQL error") {
        const std::string prefix = prefix_for("hostile");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        const std::vector<std::string> texts = {std::string("nul\0inside", 10),
                                                "bad \xC3\x28 utf8",
                                                "quote ' and \"double\"",
                                                "100% sure",
                                                "under_score",
                                                "back\\slash",
                                                "'); DROP TABLE x; --",
                                                "tab\there"};
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(config_for(prefix));
        spdlog::logger logger("hostile", sink);
        for (const auto& t : texts) {
            spdlog_ext::scoped_fields fields{{"k", t}};
            logger.info("msg[{}]", t);
        }
        logger.info("plain filler 100 percent underscore backslash");
        REQUIRE(sink->flush_for(30s));
        REQUIRE(sink->stats().delivered == texts.size() + 1);
        postgres_log_store store(config_for(prefix));
        for (std::size_t i = 0; i < texts.size(); ++i) {
            INFO("text #" << i);
            log_filter f;
            f.search = "[" + texts[i] + "]";
            page_request req;
            req.filter = f;
            auto page = store.query(req);
            REQUIRE(page.rows.size() == 1);
            CHECK(page.rows[0].extra["k"].get<std::string>().size() >= 1);
            f = {};
            f.fields = {nlohmann::json{{"k", texts[i]}}};
            req.filter = f;
            page = store.query(req);
            CHECK(page.rows.size() == 1);
            f = {};
            f.loggers = {texts[i], texts[i] + ".*"};
            f.hosts = {texts[i]};
            CHECK(store.count(f) == 0);
        }
    }

    TEST_CASE("log store: a missing table is a clear missing_table error on every call") {
        const std::string prefix = prefix_for("missing");
        pg_test::table_cleanup cleanup({prefix});
        postgres_log_store store(config_for(prefix));
        const auto check = [&](const std::function<void()>& call, const char* what) {
            try {
                call();
                FAIL_CHECK(what << ": no error");
            } catch (const store_error& e) {
                CHECK_MESSAGE(e.what_kind() == store_error::kind::missing_table,
                              what << ": " << e.what());
                const std::string message = e.what();
                CHECK_MESSAGE(message.find(prefix + "_logs") != std::string::npos, message);
                CHECK_MESSAGE(message.find("LOG_POSTGRES_TABLE_PREFIX") != std::string::npos,
                              message);
                // One line: not the server's echo of our statement ("LINE 1: ...", a caret).
                CHECK_MESSAGE(message.find('\n') == std::string::npos, message);
                CHECK_MESSAGE(message.find("SELECT") == std::string::npos, message);
            }
        };
        check([&] { store.query({}); }, "query");
        check([&] { store.count({}); }, "count");
        check([&] { store.stats(1h, 1min); }, "stats");
        check([&] { store.cleanup(1, true); }, "cleanup dry run");
        check([&] { store.cleanup(0); }, "cleanup");
    }

    TEST_CASE("log store: bad cursors and out-of-range arguments") {
        const std::string prefix = prefix_for("args");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        pg_test::exec(
            "INSERT INTO " + table_of(prefix) +
            " (timestamp, level, logger_name, message) SELECT now(), 'INFO', 'l', 'm' || g "
            "FROM generate_series(1, 5) g");
        postgres_log_store store(config_for(prefix));
        const auto kind_of = [&](const std::function<void()>& call) {
            try {
                call();
            } catch (const store_error& e) {
                return e.what_kind();
            }
            return store_error::kind::server;  // "no error" shows as a mismatch below
        };
        page_request req;
        req.limit = 2;
        const auto first = store.query(req);
        REQUIRE(!first.next_cursor.empty());
        page_request bad = req;
        bad.cursor = "garbage";
        CHECK(kind_of([&] { store.query(bad); }) == store_error::kind::bad_cursor);
        bad.cursor = first.next_cursor;
        bad.filter.search = "m";
        CHECK(kind_of([&] { store.query(bad); }) == store_error::kind::bad_cursor);
        bad = req;
        bad.cursor = first.next_cursor;
        bad.order = log_order::time;
        CHECK(kind_of([&] { store.query(bad); }) == store_error::kind::bad_cursor);
        bad = req;
        bad.limit = 0;
        CHECK(kind_of([&] { store.query(bad); }) == store_error::kind::bad_filter);
        bad.limit = spdlog_ext::max_page_rows + 1;
        CHECK(kind_of([&] { store.query(bad); }) == store_error::kind::bad_filter);
        bad.limit = spdlog_ext::max_page_rows;
        CHECK(store.query(bad).rows.size() == 5);
        CHECK(kind_of([&] { store.cleanup(-1); }) == store_error::kind::bad_filter);
        CHECK(kind_of([&] { store.stats(0s, 1s); }) == store_error::kind::bad_filter);
        CHECK(kind_of([&] { store.stats(1h, 2h); }) == store_error::kind::bad_filter);
        CHECK(kind_of([&] { store.stats(24h, 1s); }) ==
              store_error::kind::bad_filter);  // 86400 buckets
        CHECK(kind_of([&] { store.stats(24h * 367, 24h); }) == store_error::kind::bad_filter);
        CHECK(kind_of([&] { store.stats(1h, 1min, 1001); }) == store_error::kind::bad_filter);
        // The table is untouched by all of that.
        CHECK(store.count({}) == 5);
        // min_level off admits no stored level: an empty page in both orders, not an SQL error.
        page_request off;
        off.filter.min_level = level::off;
        CHECK(store.query(off).rows.empty());
        off.order = log_order::time;
        CHECK(store.query(off).rows.empty());
        CHECK(store.count(off.filter) == 0);
    }

    TEST_CASE(
        "log store: pagination over 100k rows while inserts continue - each row exactly once") {
        const std::string prefix = prefix_for("pages");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        constexpr long long seeded = 100000;
        // Timestamps in the past, three rows per timestamp (ties broken by id).
        pg_test::exec(
            "INSERT INTO " + table_of(prefix) +
            " (timestamp, level, logger_name, message) SELECT now() - interval '1 day' + "
            "(g / 3) * interval '1 ms', 'INFO', 'seed', 'row ' || g FROM generate_series(1, " +
            std::to_string(seeded) + ") g");
        pg_test::exec("ANALYZE " + table_of(prefix));  // as autovacuum would after such a load
        const std::int64_t max_seeded =
            std::stoll(pg_test::scalar("SELECT max(id) FROM " + table_of(prefix)));
        std::atomic<bool> stop{false};
        std::atomic<long long> inserted{0};
        std::thread inserter([&] {
            pqxx::connection conn(pg_test::url());
            pqxx::nontransaction tx(conn);
            while (!stop) {
                tx.exec(
                    "INSERT INTO " + table_of(prefix) +
                    " (timestamp, level, logger_name, message) SELECT now(), 'INFO', 'live', 'x' "
                    "FROM generate_series(1, 50)");
                inserted += 50;
                std::this_thread::sleep_for(10ms);
            }
        });
        struct stop_guard {
            std::atomic<bool>& stop;
            std::thread& t;
            ~stop_guard() {
                stop = true;
                if (t.joinable())
                    t.join();
            }
        } guard{stop, inserter};
        for (const auto order : {log_order::id, log_order::time}) {
            INFO("order " << (order == log_order::id ? "id" : "time"));
            postgres_log_store store(config_for(prefix));
            page_request req;
            req.order = order;
            req.limit = spdlog_ext::max_page_rows;
            int pages = 0;
            const auto before = inserted.load();
            const auto rows = all_pages(store, req, &pages);
            CHECK(inserted.load() > before);  // inserts really happened meanwhile
            std::set<std::int64_t> seen;
            std::size_t duplicates = 0;
            long long old_rows = 0;
            for (const auto& r : rows) {
                if (!seen.insert(r.id).second)
                    ++duplicates;
                if (r.id <= max_seeded)
                    ++old_rows;
            }
            CHECK(duplicates == 0);
            CHECK(old_rows == seeded);  // with no duplicates: every pre-existing id exactly once
            CHECK(pages >= seeded / static_cast<long long>(spdlog_ext::max_page_rows));
            // Newest first in the requested order.
            bool ordered = true;
            for (std::size_t i = 1; i < rows.size(); ++i) {
                const auto& a = rows[i - 1];
                const auto& b = rows[i];
                ordered = ordered &&
                          (order == log_order::id ? a.id > b.id
                                                  : (a.timestamp > b.timestamp ||
                                                     (a.timestamp == b.timestamp && a.id > b.id)));
            }
            CHECK(ordered);
        }
    }

    TEST_CASE("log store: count and stats agree with SQL computed independently") {
        const std::string prefix = prefix_for("stats");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        const std::string t = table_of(prefix);
        // 24 h of rows (one per 37 s plus an error spike), some older than the window.
        pg_test::exec(
            "INSERT INTO " + t +
            " (timestamp, level, logger_name, hostname, message) SELECT now() - g * interval '37 "
            "s', "
            "(ARRAY['TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL'])[1 + g % 6], "
            "'logger' || (g % 13), CASE WHEN g % 5 = 0 THEN NULL ELSE 'host' || (g % 4) END, 'm' "
            "FROM generate_series(1, 3000) g");
        pg_test::exec(
            "INSERT INTO " + t +
            " (timestamp, level, logger_name, hostname, message) SELECT now() - interval '3 h' + "
            "g * interval '1 ms', 'ERROR', 'spike', 'host9', 'e' FROM generate_series(1, 500) g");
        postgres_log_store store(config_for(prefix));
        log_filter f;
        f.min_level = level::err;
        CHECK(store.count(f) == static_cast<std::uint64_t>(
                                    pg_test::count(t + " WHERE level IN ('ERROR','CRITICAL')")));
        CHECK(store.count({}) == 3500);

        const auto s = store.stats(24h, 1h, 5);
        const std::string from = pg_test::quote_literal(iso(s.from));
        const std::string to = pg_test::quote_literal(iso(s.to));
        const std::string window = t + " WHERE timestamp >= " + from + " AND timestamp < " + to;
        CHECK(s.to - s.from == std::chrono::microseconds(24h));
        CHECK(s.total == static_cast<std::uint64_t>(pg_test::count(window)));
        CHECK(s.total > 2000);
        CHECK(s.errors == static_cast<std::uint64_t>(
                              pg_test::count(window + " AND level IN ('ERROR','CRITICAL')")));
        CHECK(s.error_rate ==
              doctest::Approx(static_cast<double>(s.errors) / static_cast<double>(s.total)));
        std::uint64_t level_sum = 0;
        for (const auto& [lvl, n] : s.by_level) {
            level_sum += n;
            const char* name = level_text(lvl);
            CHECK_MESSAGE(n == static_cast<std::uint64_t>(
                                   pg_test::count(window + " AND level = '" + name + "'")),
                          name);
        }
        CHECK(level_sum == s.total);
        CHECK(s.by_level.size() == 6);
        CHECK(s.loggers ==
              std::stoull(pg_test::scalar("SELECT count(DISTINCT logger_name) FROM " + window)));
        REQUIRE(s.by_logger.size() == 5);
        CHECK(s.by_logger[0].first == "spike");
        for (const auto& entry : s.by_logger) {
            CHECK(entry.second ==
                  static_cast<std::uint64_t>(pg_test::count(
                      window + " AND logger_name = " + pg_test::quote_literal(entry.first))));
        }
        for (std::size_t i = 1; i < s.by_logger.size(); ++i)
            CHECK(s.by_logger[i - 1].second >= s.by_logger[i].second);
        REQUIRE(!s.by_host.empty());
        CHECK(s.by_host[0].first == "host9");
        CHECK(s.by_host[0].second == 500);
        REQUIRE(s.buckets.size() == 24);
        std::uint64_t bucket_sum = 0;
        for (std::size_t i = 0; i < s.buckets.size(); ++i) {
            const auto& b = s.buckets[i];
            CHECK(b.start == s.from + std::chrono::hours(i));
            const std::string start = pg_test::quote_literal(iso(b.start));
            const std::string in_bucket = t + " WHERE timestamp >= " + start + " AND timestamp < " +
                                          start +
                                          "::timestamptz + interval '1 hour' AND timestamp < " + to;
            CHECK_MESSAGE(b.count == static_cast<std::uint64_t>(pg_test::count(in_bucket)),
                          "bucket " << i);
            CHECK_MESSAGE(b.errors == static_cast<std::uint64_t>(pg_test::count(
                                          in_bucket + " AND level IN ('ERROR','CRITICAL')")),
                          "bucket " << i);
            bucket_sum += b.count;
        }
        CHECK(bucket_sum == s.total);
        const auto j = s.to_json();
        CHECK(j["total"] == s.total);
        CHECK(j["buckets"].size() == 24);
        CHECK(j["by_level"]["error"] == s.by_level.at(level::err));
        CHECK(j["by_logger"][0]["name"] == "spike");

        // Empty buckets are there, with zero counts: a quiet window.
        pg_test::exec("DELETE FROM " + t);
        const auto quiet = store.stats(10min, 1min);
        CHECK(quiet.total == 0);
        CHECK(quiet.error_rate == 0);
        CHECK(quiet.buckets.size() == 10);
        CHECK(quiet.by_logger.empty());
    }

    TEST_CASE("log store: cleanup in chunks - dry run counts what the real run deletes") {
        const std::string prefix = prefix_for("cleanup");
        pg_test::table_cleanup cleanup({prefix});
        create_table(prefix);
        const std::string t = table_of(prefix);
        pg_test::exec(
            "INSERT INTO " + t +
            " (timestamp, level, logger_name, message) SELECT now() - interval '10 days' - g * "
            "interval '1 min', 'INFO', 'old', 'o' FROM generate_series(1, 53) g");
        pg_test::exec(
            "INSERT INTO " + t +
            " (timestamp, level, logger_name, message) SELECT now() - g * interval '1 min', "
            "'INFO', 'new', 'n' FROM generate_series(1, 20) g");
        auto cfg = config_for(prefix);
        cfg.retention_chunk_rows = 7;  // 53 rows: 8 chunks, the last one short
        postgres_log_store store(cfg);
        const auto dry = store.cleanup(5, true);
        CHECK(dry.dry_run);
        CHECK(dry.rows == 53);
        CHECK(pg_test::count(t) == 73);  // a dry run deletes nothing
        const auto real = store.cleanup(5);
        CHECK(!real.dry_run);
        CHECK(real.rows == dry.rows);
        CHECK(pg_test::count(t + " WHERE logger_name = 'old'") == 0);
        CHECK(pg_test::count(t + " WHERE logger_name = 'new'") == 20);
        CHECK(store.cleanup(5).rows == 0);
        CHECK(store.cleanup(0, true).rows == 20);
        CHECK(store.cleanup(0).rows == 20);
        CHECK(pg_test::count(t) == 0);
    }

}  // TEST_SUITE
