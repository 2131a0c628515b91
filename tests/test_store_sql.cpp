// The log store's filter → SQL builder without a server: every predicate, values only ever in the
// parameters (hostile text changes the parameters, never the SQL text), the timestamp text both
// ways, and the NUL / invalid UTF-8 cleaning that matches what the sink stored.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "store/postgres/store_sql.h"

namespace {

namespace store = spdlog_ext::detail::store;
using spdlog_ext::log_filter;
using spdlog_ext::log_time;
using spdlog_ext::store_error;

const std::string fffd = "\xEF\xBF\xBD";

std::string sql_of(const log_filter& f, store::sql_params& params) {
    return store::filter_sql(f, params);
}

log_time at_us(long long us) {
    return log_time(std::chrono::microseconds(us));
}

}  // namespace

TEST_SUITE("store") {
    TEST_CASE("store_sql: an empty filter is TRUE with no parameters") {
        store::sql_params params;
        CHECK(sql_of(log_filter{}, params) == "TRUE");
        CHECK(params.empty());
    }

    TEST_CASE("store_sql: each predicate and its parameters") {
        log_filter f;
        f.since = at_us(1700000000123456);
        f.until = at_us(1700003600000000);
        f.min_level = spdlog::level::warn;
        f.loggers = {"app", "db.*"};
        f.hosts = {"web-1"};
        f.search = "timeout";
        f.fields = {nlohmann::json{{"user_id", 7}}};
        f.has_exception = true;
        store::sql_params params = {std::string("already there")};
        const std::string sql = sql_of(f, params);
        CHECK(sql ==
              "timestamp >= $2::timestamptz AND timestamp < $3::timestamptz AND level = "
              "ANY($4::text[]) "
              "AND (logger_name = ANY($6::text[]) OR logger_name LIKE $5 ESCAPE '\\') AND "
              "hostname = ANY($7::text[]) AND (message ILIKE $8 ESCAPE '\\' OR exception ILIKE $8 "
              "ESCAPE '\\') AND extra_data @> $9::jsonb AND exception IS NOT NULL");
        REQUIRE(params.size() == 9);
        CHECK(*params[1] == "2023-11-14T22:13:20.123456Z");
        CHECK(*params[2] == "2023-11-14T23:13:20.000000Z");
        CHECK(*params[3] == "{\"WARNING\",\"ERROR\",\"CRITICAL\"}");
        CHECK(*params[4] == "db.%");
        CHECK(*params[5] == "{\"app\"}");
        CHECK(*params[6] == "{\"web-1\"}");
        CHECK(*params[7] == "%timeout%");
        CHECK(*params[8] == "{\"user_id\":7}");
    }

    TEST_CASE("store_sql: an exact level set wins over min_level") {
        log_filter f;
        f.min_level = spdlog::level::err;
        f.levels = {spdlog::level::debug, spdlog::level::info, spdlog::level::debug};
        store::sql_params params;
        CHECK(sql_of(f, params) == "level = ANY($1::text[])");
        CHECK(*params[0] == "{\"DEBUG\",\"INFO\"}");
        f.levels.clear();
        f.min_level = spdlog::level::trace;  // every level: no predicate
        params.clear();
        CHECK(sql_of(f, params) == "TRUE");
    }

    TEST_CASE("store_sql: has_exception false and prefix-only loggers") {
        log_filter f;
        f.has_exception = false;
        f.loggers = {"a.*"};
        store::sql_params params;
        CHECK(sql_of(f, params) == "logger_name LIKE $1 ESCAPE '\\' AND exception IS NULL");
        CHECK(*params[0] == "a.%");
    }

    TEST_CASE("store_sql: hostile text changes only the parameters") {
        log_filter plain;
        plain.loggers = {"x", "y.*"};
        plain.hosts = {"h"};
        plain.search = "s";
        plain.fields = {nlohmann::json{{"k", "v"}}};
        store::sql_params plain_params;
        const std::string plain_sql = sql_of(plain, plain_params);

        const std::string nasty = std::string("'); DROP TABLE logs; --\"\\%_") + '\0' + "\xC3\x28";
        log_filter hostile;
        hostile.loggers = {nasty, nasty + ".*"};
        hostile.hosts = {nasty};
        hostile.search = nasty;
        hostile.fields = {nlohmann::json{{nasty, nasty}}};
        store::sql_params params;
        CHECK(sql_of(hostile, params) == plain_sql);
        const std::string cleaned =
            std::string("'); DROP TABLE logs; --\"\\%_") + fffd + fffd + "(";
        CHECK(*params[0] == "'); DROP TABLE logs; --\"\\\\\\%\\_" + fffd + fffd + "(." + "%");
        CHECK(*params[1] == "{\"'); DROP TABLE logs; --\\\"\\\\%_" + fffd + fffd + "(\"}");
        CHECK(*params[3] == "%" + store::like_escape(cleaned) + "%");
        const auto field = nlohmann::json::parse(*params[4]);
        CHECK(field == nlohmann::json{{cleaned, cleaned}});
        for (const auto& p : params) {
            REQUIRE(p);
            CHECK(p->find('\0') == std::string::npos);
        }
    }

    TEST_CASE("store_sql: a field that is not an object is a bad filter") {
        log_filter f;
        f.fields = {nlohmann::json(7)};
        store::sql_params params;
        try {
            sql_of(f, params);
            FAIL("no error");
        } catch (const store_error& e) {
            CHECK(e.what_kind() == store_error::kind::bad_filter);
            CHECK(std::string(e.what()).find("JSON object") != std::string::npos);
        }
        f.fields = {nlohmann::json::object()};  // {} constrains nothing
        params.clear();
        CHECK(sql_of(f, params) == "TRUE");
    }

    TEST_CASE("store_sql: times outside years 1..9999 are a bad filter") {
        log_filter f;
        f.until = at_us(253402300800000000LL);  // 10000-01-01
        store::sql_params params;
        CHECK_THROWS_AS(sql_of(f, params), store_error);
        f.until = at_us(-62135596800000000LL - 1);  // just before 0001-01-01
        CHECK_THROWS_AS(sql_of(f, params), store_error);
        f.until = at_us(-62135596800000000LL);
        params.clear();
        CHECK(sql_of(f, params) == "timestamp < $1::timestamptz");
        CHECK(*params[0] == "0001-01-01T00:00:00.000000Z");
    }

    TEST_CASE("store_sql: timestamp text round trip to the microsecond") {
        for (const long long us : {0LL, 1LL, 999999LL, 1700000000123456LL, -1LL, 951782400000001LL,
                                   253402300799999999LL, -62135596800000000LL}) {
            const std::string text = store::format_timestamp(at_us(us));
            const auto back = store::parse_timestamp(text);
            REQUIRE_MESSAGE(back, text);
            CHECK(back->time_since_epoch().count() == us);
        }
        CHECK(store::format_timestamp(at_us(-1)) == "1969-12-31T23:59:59.999999Z");
        CHECK(store::format_timestamp(at_us(951782400000001LL)) == "2000-02-29T00:00:00.000001Z");
        for (const char* bad : {"", "2023-11-14T22:13:20.123456", "2023-11-14 22:13:20.123456Z",
                                "2023-02-29T00:00:00.000000Z", "2023-13-01T00:00:00.000000Z",
                                "2023-11-14T24:00:00.000000Z", "0000-01-01T00:00:00.000000Z",
                                "2023-11-14T22:13:20.12345xZ", "+023-11-14T22:13:20.123456Z"}) {
            CHECK_MESSAGE(!store::parse_timestamp(bad), bad);
        }
    }

    TEST_CASE("store_sql: level names both ways") {
        using spdlog::level::level_enum;
        for (const auto level : {level_enum::trace, level_enum::debug, level_enum::info,
                                 level_enum::warn, level_enum::err, level_enum::critical}) {
            CHECK(store::level_from_name(store::level_name(level)) == level);
        }
        CHECK(std::string(store::level_name(level_enum::warn)) == "WARNING");
        CHECK(!store::level_from_name("warning"));
        CHECK(!store::level_from_name("OFF"));
    }

    TEST_CASE("store_sql: like_escape and text_array") {
        CHECK(store::like_escape("a%b_c\\d") == "a\\%b\\_c\\\\d");
        CHECK(store::text_array({}) == "{}");
        CHECK(store::text_array({"a", "b\"c", "d\\e", "", "NULL"}) ==
              "{\"a\",\"b\\\"c\",\"d\\\\e\",\"\",\"NULL\"}");
    }

    TEST_CASE("store_sql: select_columns names the typed row's columns") {
        const std::string& cols = store::select_columns();
        CHECK(cols.rfind("id, to_char(timestamp AT TIME ZONE 'UTC'", 0) == 0);
        CHECK(cols.find("extra_data::text") != std::string::npos);
    }

}  // TEST_SUITE
