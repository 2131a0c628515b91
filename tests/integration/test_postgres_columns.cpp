// Fields promoted to typed columns (postgres_config::columns / LOG_POSTGRES_COLUMNS) against the
// real PostgreSQL of scripts/services.sh: every type round-trips (with NULL and missing values),
// values that do not fit stay in extra_data and are counted, an existing table gains columns,
// create_table off with a missing column or a column of another type gives a clear error, and
// hostile column names are quoted. Every record is accounted for:
// delivered + fallback + dropped == logged.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <unistd.h>

#include "integration/pg_helpers.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;
using spdlog_ext::postgres_column;
using spdlog_ext::postgres_column_type;

namespace {

struct columns_fixture {
    std::string prefix;
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<test::error_log> errors = std::make_shared<test::error_log>();

    explicit columns_fixture(const std::string& name)
        : prefix("t_cols_" + name + "_" + std::to_string(static_cast<long long>(::getpid()))) {}

    std::string table() const { return prefix + "_logs"; }
    std::string q_table() const { return pg_test::quote_ident(table()); }

    spdlog_ext::postgres_config config(std::vector<postgres_column> columns) const {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = pg_test::url();
        cfg.table_prefix = prefix;
        cfg.columns = std::move(columns);
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 50ms;
        cfg.engine.retry_max_delay = 500ms;
        cfg.engine.retry_max_attempts = 3;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& e) { errs->add(e); };
        return cfg;
    }

    std::string describe(const spdlog_ext::sink_stats& s) const {
        return "stats: " + s.to_json().dump() + "\nerrors:" + errors->text();
    }
};

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string text(const pg_test::cell& c) {
    return c ? *c : std::string("NULL");
}

// The column's type as format_type() shows it, "" when the table lacks it.
std::string column_type(const std::string& table, const std::string& column) {
    const auto r = pg_test::query(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = " +
        pg_test::quote_literal(pg_test::quote_ident(table)) + "::regclass AND attname = " +
        pg_test::quote_literal(column) + " AND attnum > 0 AND NOT attisdropped");
    return r.empty() ? std::string() : text(r[0][0]);
}

// The backend's per-column mismatch counter (-1 when absent).
long long mismatches(const spdlog_ext::sink_stats& s, const std::string& column) {
    const auto all = s.backend.find("column_mismatches");
    if (all == s.backend.end() || !all->is_object() || !all->contains(column)) {
        return -1;
    }
    return (*all)[column].get<long long>();
}

const std::vector<postgres_column> every_type = {
    {"c_text", postgres_column_type::text, false},
    {"c_bigint", postgres_column_type::bigint, true},
    {"c_integer", postgres_column_type::integer, false},
    {"c_smallint", postgres_column_type::smallint, false},
    {"c_double", postgres_column_type::double_precision, false},
    {"c_real", postgres_column_type::real, false},
    {"c_boolean", postgres_column_type::boolean, false},
    {"c_timestamptz", postgres_column_type::timestamptz, true},
    {"c_uuid", postgres_column_type::uuid, false},
    {"c_jsonb", postgres_column_type::jsonb, false}};

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("postgres columns: every type round-trips - NULL and missing values too") {
        columns_fixture f("types");
        pg_test::table_cleanup cleanup({f.prefix});
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(f.config(every_type));
        spdlog::logger logger("cols", sink);

        spdlog_ext::log(logger, spdlog::level::info,
                        {{"c_text", "tab\there\nnew \\ line \xC3\xA9"},
                         {"c_bigint", std::numeric_limits<std::int64_t>::max()},
                         {"c_integer", std::numeric_limits<std::int32_t>::min()},
                         {"c_smallint", 32767},
                         {"c_double", 12.5},
                         {"c_real", 0.25},
                         {"c_boolean", true},
                         {"c_timestamptz", "2024-02-29T13:45:59.123456+02:00"},
                         {"c_uuid", "123E4567-e89b-12d3-a456-426614174000"},
                         {"c_jsonb", json{{"a", json::array({1, "x", nullptr})}}},
                         {"other", "stays"}},
                        "all fit");
        logger.info("none");  // every column missing
        spdlog_ext::log(logger, spdlog::level::info,
                        {{"c_text", nullptr}, {"c_bigint", nullptr}, {"c_boolean", nullptr}},
                        "nulls");
        spdlog_ext::log(logger, spdlog::level::info,
                        {{"c_double", std::nan("")},
                         {"c_real", -INFINITY},
                         {"c_bigint", std::numeric_limits<std::int64_t>::min()},
                         {"c_smallint", -32768},
                         {"c_text", ""},
                         {"c_jsonb", "just a string"},
                         {"c_boolean", false}},
                        "edges");
        constexpr std::uint64_t logged = 4;
        REQUIRE(sink->flush_for(30s));
        const auto s = sink->stats();
        INFO(f.describe(s));
        test::check_accounting(s, logged);
        CHECK(s.delivered == logged);
        for (const auto& column : every_type) {
            CHECK(mismatches(s, column.name) == 0);
        }

        const std::vector<std::string> expected_types = {"text",
                                                         "bigint",
                                                         "integer",
                                                         "smallint",
                                                         "double precision",
                                                         "real",
                                                         "boolean",
                                                         "timestamp with time zone",
                                                         "uuid",
                                                         "jsonb"};
        for (std::size_t i = 0; i < every_type.size(); ++i) {
            CHECK(column_type(f.table(), every_type[i].name) == expected_types[i]);
        }
        CHECK(pg_test::relation_exists(f.table() + "_c_bigint_idx"));
        CHECK(pg_test::relation_exists(f.table() + "_c_timestamptz_idx"));
        CHECK(!pg_test::relation_exists(f.table() + "_c_text_idx"));

        const auto rows = pg_test::query(
            "SELECT message, c_text, c_bigint::text, c_integer::text, c_smallint::text, "
            "c_double::text, c_real::text, c_boolean::text, "
            "to_char(c_timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
            "c_uuid::text, c_jsonb::text, extra_data::text FROM " +
            f.q_table() + " ORDER BY id");
        REQUIRE(rows.size() == logged);
        const auto& fit = rows[0];
        CHECK(text(fit[0]) == "all fit");
        CHECK(text(fit[1]) == "tab\there\nnew \\ line \xC3\xA9");
        CHECK(text(fit[2]) == "9223372036854775807");
        CHECK(text(fit[3]) == "-2147483648");
        CHECK(text(fit[4]) == "32767");
        CHECK(text(fit[5]) == "12.5");
        CHECK(text(fit[6]) == "0.25");
        CHECK(text(fit[7]) == "true");
        CHECK(text(fit[8]) == "2024-02-29 11:45:59.123456");
        CHECK(text(fit[9]) == "123e4567-e89b-12d3-a456-426614174000");
        CHECK(json::parse(text(fit[10])) == json{{"a", json::array({1, "x", nullptr})}});
        CHECK(json::parse(text(fit[11])) == json{{"other", "stays"}});  // the rest only

        for (const auto& r : {rows[1], rows[2]}) {
            CAPTURE(text(r[0]));
            for (std::size_t c = 1; c <= 10; ++c) {
                CHECK(!r[c]);
            }
            CHECK(!r[11]);  // nothing left for extra_data (nulls are the columns' NULL)
        }

        const auto& edges = rows[3];
        CHECK(text(edges[1]).empty());
        CHECK(edges[1].has_value());  // empty text, not NULL
        CHECK(text(edges[2]) == "-9223372036854775808");
        CHECK(text(edges[4]) == "-32768");
        CHECK(text(edges[5]) == "NaN");
        CHECK(text(edges[6]) == "-Infinity");
        CHECK(text(edges[7]) == "false");
        CHECK(text(edges[10]) == "\"just a string\"");
        CHECK(!edges[11]);
    }

    TEST_CASE("postgres columns: values that do not fit are NULL - kept in extra_data - counted") {
        columns_fixture f("mismatch");
        pg_test::table_cleanup cleanup({f.prefix});
        const std::vector<postgres_column> columns = {
            {"request_id", postgres_column_type::text, false},
            {"user_id", postgres_column_type::bigint, true},
            {"latency_ms", postgres_column_type::double_precision, false},
            {"ok", postgres_column_type::boolean, false},
            {"small", postgres_column_type::smallint, false},
            {"at", postgres_column_type::timestamptz, false},
            {"uid", postgres_column_type::uuid, false}};
        auto cfg = f.config(columns);
        cfg.engine.batch_max_records = 1000;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("cols", sink);

        // Each bad record: the values that do not fit; each good one fits every column.
        const std::vector<json> bad = {
            {{"request_id", 17}, {"user_id", "42"}, {"latency_ms", "fast"}, {"ok", "true"}},
            {{"user_id", json::parse("18446744073709551615")}, {"small", 40000}, {"ok", 1}},
            {{"user_id", 4.5}, {"at", "2023-02-29T00:00:00Z"}, {"uid", "not-a-uuid"}},
            {{"request_id", json{{"nested", true}}}, {"at", "yesterday"}, {"small", -32769}},
        };
        const json good = {{"request_id", "r"},
                           {"user_id", 7},
                           {"latency_ms", 1.5},
                           {"ok", true},
                           {"small", 3},
                           {"at", "2024-01-01T00:00:00Z"},
                           {"uid", "00000000-0000-0000-0000-000000000000"}};
        constexpr int rounds = 50;
        std::uint64_t logged = 0;
        for (int i = 0; i < rounds; ++i) {
            for (const auto& fields : bad) {
                spdlog_ext::field_list list;
                for (const auto& item : fields.items()) {
                    list.emplace_back(item.key(), item.value());
                }
                spdlog_ext::log(logger, spdlog::level::info, std::move(list), "bad {}", i);
                ++logged;
            }
            spdlog_ext::field_list list;
            for (const auto& item : good.items()) {
                list.emplace_back(item.key(), item.value());
            }
            spdlog_ext::log(logger, spdlog::level::info, std::move(list), "good {}", i);
            ++logged;
        }
        REQUIRE(sink->flush_for(30s));
        const auto s = sink->stats();
        INFO(f.describe(s));
        test::check_accounting(s, logged);
        CHECK(s.delivered == logged);  // no row was refused: no batch failed, none isolated
        CHECK(s.fallback == 0);
        CHECK(s.failed_batches == 0);
        CHECK(mismatches(s, "request_id") == 2 * rounds);
        CHECK(mismatches(s, "user_id") == 3 * rounds);
        CHECK(mismatches(s, "latency_ms") == rounds);
        CHECK(mismatches(s, "ok") == 2 * rounds);
        CHECK(mismatches(s, "small") == 2 * rounds);
        CHECK(mismatches(s, "at") == 2 * rounds);
        CHECK(mismatches(s, "uid") == rounds);

        // The bad values are exactly the extra_data of their rows, and their columns are NULL.
        const auto rows = pg_test::query(
            "SELECT message, extra_data::text, request_id, user_id::text, latency_ms::text, "
            "ok::text, small::text, at IS NULL, uid::text FROM " +
            f.q_table() + " WHERE message IN ('bad 0', 'good 0') ORDER BY id");
        REQUIRE(rows.size() == bad.size() + 1);
        for (std::size_t i = 0; i < bad.size(); ++i) {
            CAPTURE(i);
            REQUIRE(rows[i][1]);
            CHECK(json::parse(*rows[i][1]) == bad[i]);
            for (std::size_t c = 2; c <= 8; ++c) {
                if (c == 7) {
                    CHECK(text(rows[i][c]) == "t");
                } else {
                    CHECK(!rows[i][c]);
                }
            }
        }
        const auto& g = rows[bad.size()];
        CHECK(!g[1]);
        CHECK(text(g[2]) == "r");
        CHECK(text(g[3]) == "7");
        CHECK(text(g[4]) == "1.5");
        CHECK(text(g[5]) == "true");
        CHECK(text(g[6]) == "3");
        CHECK(text(g[7]) == "f");
        CHECK(text(g[8]) == "00000000-0000-0000-0000-000000000000");
        CHECK(pg_test::count(f.q_table() + " WHERE user_id IS NOT NULL") == rounds);
    }

    TEST_CASE(
        "postgres columns: an existing table gains its columns - create_table off names the "
        "ALTER") {
        columns_fixture f("existing");
        pg_test::table_cleanup cleanup({f.prefix});
        std::uint64_t logged = 0;
        {  // the table as an older version of the program made it
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(f.config({}));
            spdlog::logger logger("cols", sink);
            spdlog_ext::log(logger, spdlog::level::info, {{"user_id", 1}}, "before");
            REQUIRE(sink->flush_for(30s));
            test::check_accounting(sink->stats(), 1);
        }
        CHECK(column_type(f.table(), "user_id").empty());
        {
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(
                f.config({{"user_id", postgres_column_type::bigint, true},
                          {"ok", postgres_column_type::boolean, false}}));
            spdlog::logger logger("cols", sink);
            spdlog_ext::log(logger, spdlog::level::info, {{"user_id", 2}, {"ok", true}}, "after");
            ++logged;
            REQUIRE(sink->flush_for(30s));
            const auto s = sink->stats();
            INFO(f.describe(s));
            test::check_accounting(s, logged);
            CHECK(s.delivered == logged);
        }
        CHECK(column_type(f.table(), "user_id") == "bigint");
        CHECK(column_type(f.table(), "ok") == "boolean");
        CHECK(pg_test::relation_exists(f.table() + "_user_id_idx"));
        const auto rows = pg_test::query("SELECT message, user_id::text, extra_data::text FROM " +
                                         f.q_table() + " ORDER BY id");
        REQUIRE(rows.size() == 2);
        CHECK(!rows[0][1]);  // the old row keeps its field in extra_data
        CHECK(text(rows[0][2]) == "{\"user_id\": 1}");
        CHECK(text(rows[1][1]) == "2");
        CHECK(!rows[1][2]);

        // create_table off, a column the table lacks: a clear error naming it and the fix.
        auto off = f.config({{"user_id", postgres_column_type::bigint, false},
                             {"latency ms", postgres_column_type::double_precision, false}});
        off.create_table = false;
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(off);
        spdlog::logger logger("cols", sink);
        constexpr int n = 20;
        for (int i = 0; i < n; ++i) {
            logger.info("refused {}", i);
        }
        REQUIRE(sink->flush_for(30s));
        const auto s = sink->stats();
        INFO(f.describe(s));
        test::check_accounting(s, n);
        CHECK(s.delivered == 0);
        CHECK(s.fallback == n);
        CHECK(s.disabled);
        CHECK(contains(s.last_error, "\"latency ms\""));
        CHECK(contains(s.last_error, "ALTER TABLE"));
        CHECK(contains(s.last_error, "ADD COLUMN IF NOT EXISTS \"latency ms\" double precision"));
        CHECK(contains(s.last_error, "LOG_POSTGRES_CREATE_TABLE"));
        CHECK(!contains(s.last_error, "\"user_id\""));        // that one is there
        CHECK(column_type(f.table(), "latency ms").empty());  // not altered behind the user's back
        MESSAGE("create_table off: " << s.last_error);
    }

    TEST_CASE("postgres columns: a column of another type is a clear error") {
        for (const bool create_table : {true, false}) {
            CAPTURE(create_table);
            columns_fixture f(std::string("othertype") + (create_table ? "1" : "0"));
            pg_test::table_cleanup cleanup({f.prefix});
            {
                auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(
                    f.config({{"user_id", postgres_column_type::text, false}}));
                REQUIRE(sink->flush_for(30s));
                spdlog::logger logger("cols", sink);
                logger.info("creates the table");
                REQUIRE(sink->flush_for(30s));
            }
            auto cfg = f.config({{"user_id", postgres_column_type::bigint, false}});
            cfg.create_table = create_table;
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("cols", sink);
            spdlog_ext::log(logger, spdlog::level::info, {{"user_id", 5}}, "x");
            REQUIRE(sink->flush_for(30s));
            const auto s = sink->stats();
            INFO(f.describe(s));
            test::check_accounting(s, 1);
            CHECK(s.fallback == 1);
            CHECK(contains(s.last_error, "\"user_id\" is text"));
            CHECK(contains(s.last_error, "LOG_POSTGRES_COLUMNS says bigint"));
            CHECK(column_type(f.table(), "user_id") == "text");  // left as it was
        }
    }

    TEST_CASE("postgres columns: hostile column names are quoted - never spliced into SQL") {
        columns_fixture f("hostile");
        pg_test::table_cleanup cleanup({f.prefix});
        const std::string quote_name = "we\"ird name";
        const std::string injection = "x\"); DROP TABLE " + f.table() + "; --";
        const std::string unicode = "n\xC3\xA4me \xE5\x90\x8D";
        const std::string longest = std::string(55, 'l') + "\xE5\x90\x8D" + "abcde";  // 63 bytes
        REQUIRE(longest.size() == 63);
        const std::vector<postgres_column> columns = {
            {quote_name, postgres_column_type::text, true},
            {injection, postgres_column_type::bigint, true},
            {unicode, postgres_column_type::boolean, true},
            {longest, postgres_column_type::integer, true},
            {"UPPER", postgres_column_type::text, false}};
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(f.config(columns));
        spdlog::logger logger("cols", sink);
        spdlog_ext::log(logger, spdlog::level::info,
                        {{quote_name, "q"},
                         {injection, 99},
                         {unicode, true},
                         {longest, 63},
                         {"UPPER", "up"},
                         {"upper", "lower stays"}},
                        "hostile");
        REQUIRE(sink->flush_for(30s));
        const auto s = sink->stats();
        INFO(f.describe(s));
        test::check_accounting(s, 1);
        CHECK(s.delivered == 1);
        const auto rows = pg_test::query(
            "SELECT " + pg_test::quote_ident(quote_name) + ", " + pg_test::quote_ident(injection) +
            "::text, " + pg_test::quote_ident(unicode) + "::text, " +
            pg_test::quote_ident(longest) + "::text, " + pg_test::quote_ident("UPPER") +
            ", extra_data::text FROM " + f.q_table());
        REQUIRE(rows.size() == 1);
        CHECK(text(rows[0][0]) == "q");
        CHECK(text(rows[0][1]) == "99");
        CHECK(text(rows[0][2]) == "true");
        CHECK(text(rows[0][3]) == "63");
        CHECK(text(rows[0][4]) == "up");
        CHECK(text(rows[0][5]) == "{\"upper\": \"lower stays\"}");
        // One index per indexed column, each under its own name within 63 bytes.
        const auto names =
            pg_test::query("SELECT indexname FROM pg_indexes WHERE tablename = " +
                           pg_test::quote_literal(f.table()) + " AND indexname LIKE '%idx'");
        CHECK(names.size() == 4);
        for (const auto& r : names) {
            CHECK(text(r[0]).size() <= 63);
        }
    }

    TEST_CASE("postgres columns: the log store merges promoted fields back and filters on them") {
        columns_fixture f("store");
        pg_test::table_cleanup cleanup({f.prefix});
        const std::vector<postgres_column> columns = {
            {"user_id", postgres_column_type::bigint, true},
            {"we\"ird name", postgres_column_type::text, false},
            {"at", postgres_column_type::timestamptz, false}};
        auto cfg = f.config(columns);
        {
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("cols", sink);
            spdlog_ext::log(logger, spdlog::level::info,
                            {{"user_id", 7}, {"we\"ird name", "w"}, {"k", "v"}}, "in column");
            spdlog_ext::log(logger, spdlog::level::info, {{"user_id", "7"}}, "mismatch");
            spdlog_ext::log(logger, spdlog::level::info, {{"user_id", 8}}, "other user");
            logger.info("no fields");
            REQUIRE(sink->flush_for(30s));
            test::check_accounting(sink->stats(), 4);
        }
        CHECK(pg_test::count(f.q_table() + " WHERE user_id = 7") == 1);  // stored in the column

        spdlog_ext::postgres_log_store store(cfg);
        spdlog_ext::page_request all;
        all.order = spdlog_ext::log_order::id;
        const auto page = store.query(all);
        REQUIRE(page.rows.size() == 4);
        // Newest first.
        CHECK(page.rows[3].message == "in column");
        CHECK(page.rows[3].extra == json{{"user_id", 7}, {"we\"ird name", "w"}, {"k", "v"}});
        CHECK(page.rows[2].extra == json{{"user_id", "7"}});  // as logged: it stayed in extra_data
        CHECK(page.rows[1].extra == json{{"user_id", 8}});
        CHECK(page.rows[0].extra == json::object());

        spdlog_ext::log_filter by_user;
        by_user.fields = {json{{"user_id", 7}}};
        CHECK(store.count(by_user) == 1);
        by_user.fields = {json{{"user_id", "7"}}};  // the mismatch, found in extra_data
        CHECK(store.count(by_user) == 1);
        by_user.fields = {json{{"user_id", 7}, {"k", "v"}}};
        CHECK(store.count(by_user) == 1);
        by_user.fields = {json{{"user_id", 8}, {"k", "v"}}};
        CHECK(store.count(by_user) == 0);
        by_user.fields = {json{{"we\"ird name", "w"}}};
        spdlog_ext::page_request filtered;
        filtered.filter = by_user;
        const auto one = store.query(filtered);
        REQUIRE(one.rows.size() == 1);
        CHECK(one.rows[0].message == "in column");

        // A store without the columns reads extra_data alone.
        spdlog_ext::postgres_log_store plain(f.config({}));
        const auto plain_page = plain.query(all);
        REQUIRE(plain_page.rows.size() == 4);
        CHECK(plain_page.rows[3].extra == json{{"k", "v"}});
    }
}
