// Fields promoted to typed columns (LOG_POSTGRES_COLUMNS / postgres_config::columns), without a
// server: parsing and validation of the specification, each type's client-side check, and the
// COPY rows (the promoted columns after extra_data; a value that does not fit stays in
// extra_data).
#include <doctest/doctest.h>

#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sinks/postgres/postgres_config.h"
#include "sinks/postgres/postgres_ddl.h"
#include "sinks/postgres/postgres_encoder.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "store/postgres/store_sql.h"
#include "support/env_guard.h"

using namespace std::chrono_literals;
using nlohmann::json;
using spdlog_ext::postgres_column;
using spdlog_ext::postgres_column_type;

namespace {

const std::string fffd = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The config_error's what() for parsing `spec` then validating it, "" when both pass; the
// variable it names in `variable`.
std::string columns_error(const std::string& spec, std::string* variable = nullptr) {
    try {
        spdlog_ext::postgres_config cfg;
        cfg.columns = spdlog_ext::detail::parse_postgres_columns(spec);
        spdlog_ext::detail::validate_postgres_settings(cfg);
        return {};
    } catch (const spdlog_ext::config_error& e) {
        if (variable != nullptr) {
            *variable = e.variable();
        }
        return e.what();
    }
}

std::string columns_error(const std::vector<postgres_column>& columns) {
    try {
        spdlog_ext::postgres_config cfg;
        cfg.columns = columns;
        spdlog_ext::detail::validate_postgres_settings(cfg);
        return {};
    } catch (const spdlog_ext::config_error& e) {
        CHECK(e.variable() == "LOG_POSTGRES_COLUMNS");
        return e.what();
    }
}

// promoted_column_text's verdict: the text, or "<no fit>".
std::string as_column(const json& value, postgres_column_type type) {
    std::string out = "left over";
    return spdlog_ext::detail::promoted_column_text(value, type, out) ? out : "<no fit>";
}

spdlog::log_clock::time_point fixed_time() {
    return spdlog::log_clock::time_point(
        std::chrono::duration_cast<spdlog::log_clock::duration>(std::chrono::seconds(1700000000)));
}

spdlog_ext::record record_with(const json& fields) {
    spdlog_ext::record r;
    r.time = fixed_time();
    r.level = spdlog::level::info;
    r.logger_name = "app";
    r.message = "m";
    r.thread_id = 7;
    r.fields = fields;
    return r;
}

const std::vector<postgres_column> four_columns = {
    {"request_id", postgres_column_type::text, false},
    {"user_id", postgres_column_type::bigint, true},
    {"latency_ms", postgres_column_type::double_precision, false},
    {"ok", postgres_column_type::boolean, false}};

// Each encoded line split at tabs: the 15 fixed fields by name, then the promoted ones by their
// column's name.
std::vector<std::map<std::string, std::string>> rows_of(
    const std::string& encoded, const std::vector<postgres_column>& columns) {
    std::vector<std::map<std::string, std::string>> rows;
    std::size_t line_start = 0;
    while (line_start < encoded.size()) {
        const auto line_end = encoded.find('\n', line_start);
        REQUIRE(line_end != std::string::npos);
        std::vector<std::string> fields;
        std::size_t start = line_start;
        for (;;) {
            const auto tab = encoded.find('\t', start);
            if (tab == std::string::npos || tab > line_end) {
                fields.push_back(encoded.substr(start, line_end - start));
                break;
            }
            fields.push_back(encoded.substr(start, tab - start));
            start = tab + 1;
        }
        const auto& fixed = spdlog_ext::detail::copy_columns;
        REQUIRE(fields.size() == fixed.size() + columns.size());
        std::map<std::string, std::string> row;
        for (std::size_t i = 0; i < fixed.size(); ++i) {
            row[fixed[i]] = fields[i];
        }
        for (std::size_t i = 0; i < columns.size(); ++i) {
            row["+" + columns[i].name] = fields[fixed.size() + i];
        }
        rows.push_back(std::move(row));
        line_start = line_end + 1;
    }
    return rows;
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("LOG_POSTGRES_COLUMNS parses name:type and name:type:index") {
        using spdlog_ext::detail::parse_postgres_columns;
        const auto columns = parse_postgres_columns(
            "request_id:text,user_id:bigint:index,latency_ms:double precision,ok:boolean");
        REQUIRE(columns.size() == 4);
        for (std::size_t i = 0; i < columns.size(); ++i) {
            CHECK(columns[i].name == four_columns[i].name);
            CHECK(columns[i].type == four_columns[i].type);
            CHECK(columns[i].index == four_columns[i].index);
        }
        // Spaces around the pieces, any case, aliases, several spaces inside a type, empty items.
        const auto loose = parse_postgres_columns(
            " a : INT8 , b:Double   Precision:INDEX,c:int,d:int2,e:float4,f:bool,g:float8,"
            "h:timestamp with time zone,i:TIMESTAMPTZ,j:uuid,k:jsonb,l:real,m:smallint,n:integer,");
        const postgres_column_type expected[] = {postgres_column_type::bigint,
                                                 postgres_column_type::double_precision,
                                                 postgres_column_type::integer,
                                                 postgres_column_type::smallint,
                                                 postgres_column_type::real,
                                                 postgres_column_type::boolean,
                                                 postgres_column_type::double_precision,
                                                 postgres_column_type::timestamptz,
                                                 postgres_column_type::timestamptz,
                                                 postgres_column_type::uuid,
                                                 postgres_column_type::jsonb,
                                                 postgres_column_type::real,
                                                 postgres_column_type::smallint,
                                                 postgres_column_type::integer};
        REQUIRE(loose.size() == std::size(expected));
        for (std::size_t i = 0; i < loose.size(); ++i) {
            CHECK(loose[i].type == expected[i]);
        }
        CHECK(loose[0].name == "a");
        CHECK(loose[1].index);
        CHECK(parse_postgres_columns("").empty());
        CHECK(parse_postgres_columns(" , ").empty());
        // Non-ASCII names pass through.
        const auto unicode = parse_postgres_columns("n\xC3\xA4me:text");
        REQUIRE(unicode.size() == 1);
        CHECK(unicode[0].name == "n\xC3\xA4me");
    }

    TEST_CASE("LOG_POSTGRES_COLUMNS refuses unknown types and shapes naming the variable") {
        struct bad_case {
            const char* spec;
            const char* expected;
        };
        const bad_case cases[] = {
            {"user_id:varchar", "'varchar' (column 'user_id') is not a supported type"},
            {"user_id:numeric", "numeric"},
            {"user_id:timestamp", "timestamp"},  // without a zone: ambiguous, refused
            {"user_id", "not name:type"},
            {"user_id:bigint:unique", "can only be 'index'"},
            {"a:text:index:x", "not name:type"},
            {":text", "empty"},
        };
        for (const auto& c : cases) {
            INFO(c.spec);
            std::string variable;
            const std::string error = columns_error(c.spec, &variable);
            CHECK(contains(error, c.expected));
            CHECK(contains(error, "LOG_POSTGRES_COLUMNS"));
            CHECK(variable == "LOG_POSTGRES_COLUMNS");
        }
        // The message lists what is supported.
        CHECK(contains(columns_error("x:money"),
                       "text, bigint, integer, smallint, double "
                       "precision, real, boolean, timestamptz, uuid, "
                       "jsonb"));
    }

    TEST_CASE("promoted column names: fixed columns - duplicates - long - NUL refused") {
        for (const char* reserved :
             {"id", "timestamp", "level", "logger_name", "message", "extra_data", "txid",
              "created_at", "exception", "hostname", "lineno", "Level", "ID", "TXID"}) {
            INFO(reserved);
            CHECK(contains(columns_error(std::string(reserved) + ":text"),
                           "is a column of the log table itself"));
        }
        CHECK(contains(columns_error("a:text,b:bigint,a:bigint"), "'a' is listed twice"));
        CHECK(columns_error("a:text,A:text").empty());  // quoted names are case-sensitive
        CHECK(contains(columns_error(std::string(64, 'x') + ":text"), "63-byte"));
        CHECK(columns_error(std::string(63, 'x') + ":text").empty());
        CHECK(contains(columns_error({{std::string("a\0b", 3), postgres_column_type::text, false}}),
                       "NUL or invalid UTF-8"));
        CHECK(contains(columns_error({{"a\xFF", postgres_column_type::text, false}}),
                       "NUL or invalid UTF-8"));
        CHECK(contains(columns_error({{"", postgres_column_type::text, false}}), "empty"));
        // Hostile but valid names are quoted, not refused.
        CHECK(columns_error({{"we\"ird name", postgres_column_type::text, false},
                             {"x'); DROP TABLE logs; --", postgres_column_type::bigint, true},
                             {"\xE5\x90\x8D\xE5\x89\x8D", postgres_column_type::boolean, false}})
                  .empty());
    }

    TEST_CASE("the sink and from_env refuse a bad column list with config_error") {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = "host=127.0.0.1 port=1";
        cfg.columns = {{"message", postgres_column_type::text, false}};
        CHECK_THROWS_AS(spdlog_ext::postgres_batch_sink{cfg}, spdlog_ext::config_error);
        test::env_guard env{{"LOG_POSTGRES_COLUMNS", "user_id:bigint:index,ok:boolean"}};
        const auto from_env = spdlog_ext::postgres_config::from_env();
        REQUIRE(from_env.columns.size() == 2);
        CHECK(from_env.columns[0].name == "user_id");
        CHECK(from_env.columns[0].index);
        CHECK(from_env.columns[1].type == postgres_column_type::boolean);
        test::env_guard bad{{"LOG_POSTGRES_COLUMNS", "level:text"}};
        try {
            (void)spdlog_ext::postgres_config::from_env();
            FAIL("no config_error");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "LOG_POSTGRES_COLUMNS");
            CHECK(contains(e.what(), "'level'"));
        }
    }

    TEST_CASE("promoted index names stay within 63 bytes and differ per column") {
        using spdlog_ext::detail::pg_promoted_index_name;
        CHECK(pg_promoted_index_name("logs", "user_id") == "logs_user_id_idx");
        const std::string long_table(63, 't');
        const std::string long_a = std::string(63, 'c');
        const std::string long_b = std::string(62, 'c') + "d";
        for (const auto& table : {std::string("logs"), long_table}) {
            for (const auto& column : {std::string("user_id"), long_a, long_b}) {
                CHECK(pg_promoted_index_name(table, column).size() <= 63);
            }
            CHECK(pg_promoted_index_name(table, long_a) != pg_promoted_index_name(table, long_b));
        }
    }

    TEST_CASE("text columns take strings only - cleaned of NUL and invalid UTF-8") {
        const auto t = postgres_column_type::text;
        CHECK(as_column("abc", t) == "abc");
        CHECK(as_column("", t) == "");
        CHECK(as_column(std::string("a\0b", 3), t) == "a" + fffd + "b");
        CHECK(as_column("a\xFF", t) == "a" + fffd);
        CHECK(as_column("tab\tnew\nline\\", t) == "tab\tnew\nline\\");  // escaped by COPY later
        for (const json& other :
             {json(5), json(2.5), json(true), json::object({{"a", 1}}), json::array({1})}) {
            INFO(other.dump());
            CHECK(as_column(other, t) == "<no fit>");
        }
    }

    TEST_CASE("integer columns take JSON integers within their range only") {
        const auto big = postgres_column_type::bigint;
        const auto integer = postgres_column_type::integer;
        const auto small = postgres_column_type::smallint;
        CHECK(as_column(42, big) == "42");
        CHECK(as_column(-7, big) == "-7");
        CHECK(as_column(std::numeric_limits<std::int64_t>::max(), big) == "9223372036854775807");
        CHECK(as_column(std::numeric_limits<std::int64_t>::min(), big) == "-9223372036854775808");
        CHECK(as_column(std::uint64_t(9223372036854775807ull), big) == "9223372036854775807");
        CHECK(as_column(std::uint64_t(9223372036854775808ull), big) == "<no fit>");
        CHECK(as_column(json::parse("18446744073709551615"), big) == "<no fit>");
        CHECK(as_column(2147483647, integer) == "2147483647");
        CHECK(as_column(-2147483648LL, integer) == "-2147483648");
        CHECK(as_column(2147483648LL, integer) == "<no fit>");
        CHECK(as_column(-2147483649LL, integer) == "<no fit>");
        CHECK(as_column(32767, small) == "32767");
        CHECK(as_column(-32768, small) == "-32768");
        CHECK(as_column(32768, small) == "<no fit>");
        CHECK(as_column(-32769, small) == "<no fit>");
        for (const auto type : {big, integer, small}) {
            for (const json& other :
                 {json("12"), json(2.0), json(2.5), json(true), json::array()}) {
                INFO(other.dump());
                CHECK(as_column(other, type) == "<no fit>");
            }
        }
    }

    TEST_CASE(
        "double precision and real take numbers - NaN and infinities spelled for the server") {
        const auto d = postgres_column_type::double_precision;
        const auto r = postgres_column_type::real;
        CHECK(as_column(3.5, d) == "3.5");
        CHECK(as_column(42, d) == "42");
        CHECK(as_column(-0.1, d) == "-0.1");
        CHECK(as_column(1e308, d) == "1e+308");
        CHECK(as_column(DBL_MIN, d) != "<no fit>");
        CHECK(as_column(DBL_MIN / 4, d) == "<no fit>");  // subnormal
        CHECK(as_column(std::nan(""), d) == "NaN");
        CHECK(as_column(INFINITY, d) == "Infinity");
        CHECK(as_column(-INFINITY, d) == "-Infinity");
        CHECK(as_column(0.0, r) == "0.0");
        CHECK(as_column(12.5, r) == "12.5");
        CHECK(as_column(double(FLT_MAX), r) != "<no fit>");
        CHECK(as_column(1e39, r) == "<no fit>");
        CHECK(as_column(-1e39, r) == "<no fit>");
        CHECK(as_column(1e-39, r) == "<no fit>");
        CHECK(as_column(-INFINITY, r) == "-Infinity");
        for (const auto type : {d, r}) {
            for (const json& other : {json("1.5"), json(true), json::object()}) {
                INFO(other.dump());
                CHECK(as_column(other, type) == "<no fit>");
            }
        }
    }

    TEST_CASE("boolean columns take true and false only") {
        const auto b = postgres_column_type::boolean;
        CHECK(as_column(true, b) == "t");
        CHECK(as_column(false, b) == "f");
        for (const json& other : {json(1), json(0), json("true"), json("t"), json::array()}) {
            INFO(other.dump());
            CHECK(as_column(other, b) == "<no fit>");
        }
    }

    TEST_CASE("timestamptz columns take RFC 3339 strings with a zone and a real date") {
        const auto ts = postgres_column_type::timestamptz;
        for (const char* good :
             {"2024-05-01T12:00:00Z", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00.5+02:00",
              "2024-02-29T23:59:59.123456789-14:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
              "2000-02-29T00:00:00+00:00"}) {
            INFO(good);
            CHECK(as_column(good, ts) == good);
        }
        for (const char* bad :
             {"2024-05-01T12:00:00", "2024-05-01", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
              "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "0000-01-01T00:00:00Z",
              "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:00:60Z",
              "2024-05-01T12:00:00+15:00", "2024-05-01T12:00:00.1234567890Z",
              "2024-05-01T12:00:00.Z", "2024-05-01t12:00:00z", "2024-05-01T12:00:00Z ",
              "2024-05-01T12:00:00+0200", "now", "epoch", ""}) {
            INFO(bad);
            CHECK(as_column(bad, ts) == "<no fit>");
        }
        CHECK(as_column(1700000000, ts) == "<no fit>");
    }

    TEST_CASE("uuid columns take 8-4-4-4-12 hex strings") {
        const auto u = postgres_column_type::uuid;
        CHECK(as_column("123e4567-e89b-12d3-a456-426614174000", u) ==
              "123e4567-e89b-12d3-a456-426614174000");
        CHECK(as_column("123E4567-E89B-12D3-A456-426614174000", u) != "<no fit>");
        for (const char* bad :
             {"123e4567e89b12d3a456426614174000", "{123e4567-e89b-12d3-a456-426614174000}",
              "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-42661417400g",
              "123e4567-e89b-12d3-a456_426614174000", ""}) {
            INFO(bad);
            CHECK(as_column(bad, u) == "<no fit>");
        }
        CHECK(as_column(5, u) == "<no fit>");
    }

    TEST_CASE("jsonb columns take any JSON value - cleaned like extra_data") {
        const auto j = postgres_column_type::jsonb;
        CHECK(as_column(json{{"a", 1}}, j) == "{\"a\":1}");
        CHECK(as_column(json::array({1, "x"}), j) == "[1,\"x\"]");
        CHECK(as_column(5, j) == "5");
        CHECK(as_column("s", j) == "\"s\"");
        CHECK(as_column(json{{"k", std::string("a\0b", 3)}}, j) == "{\"k\":\"a" + fffd + "b\"}");
    }

    TEST_CASE("promoted fields leave extra_data - mismatches stay and are counted") {
        spdlog_ext::detail::copy_text_encoder encoder("1234", "host", four_columns);
        const std::vector<spdlog_ext::record> batch = {
            // all four fit: extra_data keeps only the rest
            record_with({{"request_id", "r-1"},
                         {"user_id", 42},
                         {"latency_ms", 12.5},
                         {"ok", true},
                         {"other", "x"}}),
            // all four missing: NULL columns, extra_data as it was
            record_with({{"other", "y"}}),
            // mismatches: a string for bigint, a number for text, out of range, "true"
            record_with(
                {{"request_id", 7}, {"user_id", "42"}, {"latency_ms", "fast"}, {"ok", "true"}}),
            // JSON nulls: NULL columns, gone from extra_data; escaping of promoted text
            record_with({{"request_id", "a\tb\nc\\d"}, {"user_id", nullptr}, {"ok", false}}),
            // no fields at all
            record_with(json()),
            // out of range for bigint; a mix
            record_with({{"user_id", json::parse("18446744073709551615")}, {"latency_ms", 3}}),
        };
        std::string out;
        encoder.encode(spdlog_ext::record_span(batch.data(), batch.size()), out);
        const auto rows = rows_of(out, four_columns);
        REQUIRE(rows.size() == batch.size());

        CHECK(rows[0].at("+request_id") == "r-1");
        CHECK(rows[0].at("+user_id") == "42");
        CHECK(rows[0].at("+latency_ms") == "12.5");
        CHECK(rows[0].at("+ok") == "t");
        CHECK(rows[0].at("extra_data") == "{\"other\":\"x\"}");

        for (const char* column : {"+request_id", "+user_id", "+latency_ms", "+ok"}) {
            CHECK(rows[1].at(column) == "\\N");
            CHECK(rows[2].at(column) == "\\N");
            CHECK(rows[4].at(column) == "\\N");
        }
        CHECK(rows[1].at("extra_data") == "{\"other\":\"y\"}");
        CHECK(json::parse(rows[2].at("extra_data")) == batch[2].fields);  // all stayed
        CHECK(rows[4].at("extra_data") == "\\N");

        CHECK(rows[3].at("+request_id") == "a\\tb\\nc\\\\d");
        CHECK(rows[3].at("+user_id") == "\\N");
        CHECK(rows[3].at("+latency_ms") == "\\N");
        CHECK(rows[3].at("+ok") == "f");
        CHECK(rows[3].at("extra_data") == "\\N");  // nothing left

        CHECK(rows[5].at("+user_id") == "\\N");
        CHECK(rows[5].at("+latency_ms") == "3");
        CHECK(rows[5].at("extra_data") == "{\"user_id\":18446744073709551615}");

        const std::vector<std::uint64_t> expected_mismatches = {1, 2, 1, 1};
        CHECK(encoder.last_mismatches() == expected_mismatches);
        // Counts are per encode() (the backend adds those of committed batches).
        encoder.encode(spdlog_ext::record_span(batch.data(), 1), out);
        CHECK(encoder.last_mismatches() == std::vector<std::uint64_t>{0, 0, 0, 0});
    }

    TEST_CASE("promoted fields with an exception field and text needing cleaning") {
        const std::vector<postgres_column> columns = {
            {"we\"ird name", postgres_column_type::text, false},
            {"n", postgres_column_type::integer, false}};
        spdlog_ext::detail::copy_text_encoder encoder("1", "h", columns);
        const std::vector<spdlog_ext::record> batch = {
            record_with({{"exception", "boom"},
                         {"we\"ird name", std::string("v\0", 2)},
                         {"n", 1},
                         {"k", "a\xFF"}}),
            record_with({{"exception", "boom"}, {"n", 1.5}}),
        };
        std::string out;
        encoder.encode(spdlog_ext::record_span(batch.data(), batch.size()), out);
        const auto rows = rows_of(out, columns);
        REQUIRE(rows.size() == 2);
        CHECK(rows[0].at("exception") == "boom");
        CHECK(rows[0].at("+we\"ird name") == "v" + fffd);
        CHECK(rows[0].at("+n") == "1");
        CHECK(rows[0].at("extra_data") == "{\"k\":\"a" + fffd + "\"}");
        CHECK(rows[1].at("exception") == "boom");
        CHECK(rows[1].at("+n") == "\\N");
        CHECK(rows[1].at("extra_data") == "{\"n\":1.5}");
        CHECK(encoder.last_mismatches() == std::vector<std::uint64_t>{0, 1});
    }

    TEST_CASE("without promoted columns the rows are the 15 fixed fields as before") {
        spdlog_ext::detail::copy_text_encoder plain("1", "h");
        const auto r = record_with({{"user_id", 42}});
        std::string out;
        plain.encode(spdlog_ext::record_span(&r, 1), out);
        const auto rows = rows_of(out, {});
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].at("extra_data") == "{\"user_id\":42}");
        CHECK(plain.last_mismatches().empty());
    }

    TEST_CASE(
        "store_sql: promoted columns are merged into the fields and filtered in both places") {
        namespace store = spdlog_ext::detail::store;
        const std::vector<postgres_column> promoted = {
            {"user_id", postgres_column_type::bigint, true},
            {"it's\\\"odd", postgres_column_type::text, false}};
        // Without promoted columns: as before.
        CHECK(store::merged_extra_sql({}) == "extra_data");
        CHECK(contains(store::select_columns(), ", extra_data::text"));
        const std::string merged = store::merged_extra_sql(promoted);
        CHECK(merged ==
              "nullif(coalesce(extra_data, '{}'::jsonb) || CASE WHEN \"user_id\" IS NULL THEN "
              "'{}'::jsonb ELSE jsonb_build_object(E'user_id', \"user_id\") END || CASE WHEN "
              "\"it's\\\"\"odd\" IS NULL THEN '{}'::jsonb ELSE "
              "jsonb_build_object(E'it''s\\\\\"odd', \"it's\\\"\"odd\") END, '{}'::jsonb)");
        CHECK(contains(store::select_columns(promoted), ", " + merged + "::text"));

        spdlog_ext::log_filter f;
        f.fields = {json{{"user_id", 7}, {"service", "api"}}, json{{"other", 1}}};
        store::sql_params params;
        const std::string sql = store::filter_sql(f, params, promoted);
        CHECK(sql ==
              "((CASE WHEN \"user_id\" IS NULL THEN '{}'::jsonb ELSE "
              "jsonb_build_object(E'user_id', \"user_id\") END) @> $1::jsonb OR extra_data @> "
              "$1::jsonb) AND extra_data @> $2::jsonb AND extra_data @> $3::jsonb");
        REQUIRE(params.size() == 3);
        CHECK(*params[0] == "{\"user_id\":7}");
        CHECK(*params[1] == "{\"service\":\"api\"}");
        CHECK(*params[2] == "{\"other\":1}");
        // Without promoted columns the same filter is one containment per object.
        store::sql_params plain;
        CHECK(store::filter_sql(f, plain) == "extra_data @> $1::jsonb AND extra_data @> $2::jsonb");
    }
}
