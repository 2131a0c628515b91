// influx_timeseries_sink against the real (throwaway) InfluxDB 1.6 of scripts/services.sh, through
// the v1 write API: every point is read back through /query (epoch=ns) and compared with what
// was logged: tags, message, typed fields (SHOW FIELD KEYS), hostile names and strings, records
// sharing one timestamp, metric points, level counts, a record the server refuses, and an
// influxd kill mid-stream. Like every integration test these fail (never skip) without the
// services environment.
//
// Each test writes to measurements of its own (logs_<name>_<pid>_<n>_<random>), dropped at the
// end, and accounts for every record through sink->stats():
// delivered + fallback + dropped == logged, and nothing left queued.
#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "integration/service_env.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::check_accounting;
using test::error_log;

const std::string replacement_char = "\xEF\xBF\xBD";     // U+FFFD in UTF-8
const std::string fullwidth_backslash = "\xEF\xBC\xBC";  // U+FF3C in UTF-8

// A name (measurement, tag key or value, field key) as stored: a backslash InfluxDB cannot read
// back as itself (before ',', '=', ' ' or '"', or ending the name) is written as U+FF3C.
std::string as_stored_name(const std::string& name) {
    std::string out;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const bool unreadable =
            name[i] == '\\' && (i + 1 == name.size() || name[i + 1] == ',' || name[i + 1] == '=' ||
                                name[i + 1] == ' ' || name[i + 1] == '"');
        out += unreadable ? fullwidth_backslash : std::string(1, name[i]);
    }
    return out;
}
const std::string emoji = "\xF0\x9F\x9A\x80";  // U+1F680 (rocket)

// ---------------------------------------------------------------- the server

std::string influx_url() {
    return spdlog_ext_test::require_env("SPDLOG_EXT_TEST_INFLUX_URL");
}
std::string influx_db() {
    return spdlog_ext_test::require_env("SPDLOG_EXT_TEST_INFLUX_DB");
}

// A name no other test (or earlier run) uses: <base>_<pid>_<n>_<random hex>.
std::string unique_name(const std::string& base) {
    static std::atomic<unsigned> counter{0};
    static const unsigned long long seed = std::random_device{}();
    std::mt19937_64 rng(seed + counter.load());
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(rng() & 0xffffffffu));
    return base + "_" + std::to_string(static_cast<long long>(::getpid())) + "_" +
           std::to_string(counter.fetch_add(1)) + "_" + hex;
}

// `text` between `quote` characters, with backslashes and that quote escaped (InfluxQL).
std::string quoted(const std::string& text, char quote) {
    std::string out(1, quote);
    for (char c : text) {
        if (c == '\\' || c == quote) {
            out += '\\';
        }
        out += c;
    }
    return out + quote;
}
std::string quote_ident(const std::string& name) {  // "an identifier"
    return quoted(name, '"');
}
std::string quote_literal(const std::string& text) {  // 'a string'
    return quoted(text, '\'');
}

// Runs one InfluxQL statement against the test database (times as ns since the epoch) and
// returns the server's JSON text. Throws (failing the test) on a transport error or a non-200
// answer.
std::string influx_query_text(const std::string& q) {
    const std::string url = influx_url() + "/query?db=" + spdlog_ext_test::url_encode(influx_db()) +
                            "&epoch=ns&q=" + spdlog_ext_test::url_encode(q);
    const auto r = spdlog_ext_test::http_get(url, 60000);
    if (!r.ok()) {
        throw std::runtime_error("InfluxDB query failed: " + r.error + "\n  query: " + q);
    }
    if (r.status != 200) {
        throw std::runtime_error("InfluxDB query answered " + std::to_string(r.status) + ": " +
                                 r.body + "\n  query: " + q);
    }
    return r.body;
}

// The same, parsed: the statement's result object. Throws on an error in the result.
json influx_query(const std::string& q) {
    const json doc = json::parse(influx_query_text(q));
    if (doc.contains("error")) {
        throw std::runtime_error("InfluxDB query error: " + doc["error"].dump() +
                                 "\n  query: " + q);
    }
    const json& result = doc.at("results").at(0);
    if (result.contains("error")) {
        throw std::runtime_error("InfluxDB query error: " + result["error"].dump() +
                                 "\n  query: " + q);
    }
    return result;
}

// POSTs a statement that changes things (DROP MEASUREMENT ...); returns the error text, if any.
std::string influx_command(const std::string& q) {
    const auto r = spdlog_ext_test::http_post(
        influx_url() + "/query?db=" + spdlog_ext_test::url_encode(influx_db()),
        "q=" + spdlog_ext_test::url_encode(q), "application/x-www-form-urlencoded", 30000);
    if (!r.ok()) {
        return r.error;
    }
    return r.status == 200 && r.body.find("\"error\"") == std::string::npos ? std::string()
                                                                            : r.body;
}

// The rows of a SELECT as objects {column: value}, with the series' GROUP BY tags merged in.
std::vector<json> select_rows(const std::string& q) {
    const json result = influx_query(q);
    std::vector<json> rows;
    for (const auto& series : result.value("series", json::array())) {
        const auto& columns = series.at("columns");
        for (const auto& values : series.value("values", json::array())) {
            json row = json::object();
            for (std::size_t i = 0; i < columns.size() && i < values.size(); ++i) {
                row[columns[i].get<std::string>()] = values[i];
            }
            const json tags = series.value("tags", json::object());
            for (const auto& tag : tags.items()) {
                row[tag.key()] = tag.value();
            }
            rows.push_back(std::move(row));
        }
    }
    return rows;
}

// SHOW FIELD KEYS: field key → type (integer, float, string, boolean).
std::map<std::string, std::string> field_types(const std::string& measurement) {
    std::map<std::string, std::string> out;
    for (const auto& row : select_rows("SHOW FIELD KEYS FROM " + quote_ident(measurement))) {
        out[row.at("fieldKey").get<std::string>()] = row.at("fieldType").get<std::string>();
    }
    return out;
}

// SHOW TAG KEYS.
std::set<std::string> tag_keys(const std::string& measurement) {
    std::set<std::string> out;
    for (const auto& row : select_rows("SHOW TAG KEYS FROM " + quote_ident(measurement))) {
        out.insert(row.at("tagKey").get<std::string>());
    }
    return out;
}

// SELECT count(<field>): 0 when the measurement has no such points.
long long count_points(const std::string& measurement, const std::string& field = "message") {
    const auto rows =
        select_rows("SELECT count(" + quote_ident(field) + ") FROM " + quote_ident(measurement));
    if (rows.empty()) {
        return 0;
    }
    return rows.front().at("count").get<long long>();
}

std::set<std::string> measurements_named_like(const std::string& prefix) {
    std::set<std::string> out;
    for (const auto& row : select_rows("SHOW MEASUREMENTS")) {
        const std::string name = row.at("name").get<std::string>();
        if (name.compare(0, prefix.size(), prefix) == 0) {
            out.insert(name);
        }
    }
    return out;
}

std::int64_t ns_of(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// A system_clock time point at exactly `ns` nanoseconds since the epoch.
std::chrono::system_clock::time_point time_at_ns(std::int64_t ns) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(ns)));
}

std::string text_of(const json& row, const std::string& column) {
    const auto it = row.find(column);
    if (it == row.end() || it->is_null()) {
        return "<absent>";
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

using spdlog_ext_test::services;

bool influx_answers() {
    const auto r = spdlog_ext_test::http_get(influx_url() + "/ping", 2000);
    return r.ok() && r.status == 204;
}

// Starts influxd again when it leaves scope (after a test that kills it, even when an assertion
// failed half-way).
struct influx_restart_guard {
    influx_restart_guard() = default;
    ~influx_restart_guard() {
        try {
            if (!influx_answers() && services("influx-start") != 0) {
                (void)services("influx-start");
            }
        } catch (...) {
        }
    }
    influx_restart_guard(const influx_restart_guard&) = delete;
    influx_restart_guard& operator=(const influx_restart_guard&) = delete;
};

// ---------------------------------------------------------------- the fixture

struct influx_fixture {
    std::string measurement;                      // unique per test
    std::vector<std::string> extra_measurements;  // also dropped at the end
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<error_log> errors = std::make_shared<error_log>();

    explicit influx_fixture(const std::string& name) : measurement(unique_name("logs_" + name)) {}
    ~influx_fixture() {
        try {
            if (influx_answers()) {
                for (const auto& m : all_measurements()) {
                    (void)influx_command("DROP MEASUREMENT " + quote_ident(m));
                }
            }
        } catch (...) {
        }
    }
    influx_fixture(const influx_fixture&) = delete;
    influx_fixture& operator=(const influx_fixture&) = delete;

    std::vector<std::string> all_measurements() const {
        std::vector<std::string> all = extra_measurements;
        all.push_back(measurement);
        return all;
    }

    // Another measurement of this test, dropped with the others.
    std::string another(const std::string& base) {
        extra_measurements.push_back(unique_name(base));
        return extra_measurements.back();
    }

    spdlog_ext::influx_config config() const {
        spdlog_ext::influx_config cfg;
        cfg.api = spdlog_ext::influx_api::v1;
        cfg.url = influx_url();
        cfg.database = influx_db();
        cfg.measurement = measurement;
        cfg.unsigned_integers = false;  // InfluxDB 1.x has no unsigned integers
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 50ms;
        cfg.engine.retry_max_delay = 1s;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& e) { errs->add(e); };
        return cfg;
    }

    // What to show when a check fails.
    // Flushes `sink` and checks that every one of the `logged` records was delivered (none to
    // the fallback). Returns the stats for further checks.
    spdlog_ext::sink_stats expect_all_delivered(spdlog_ext::influx_timeseries_sink& sink,
                                                std::uint64_t logged,
                                                std::chrono::seconds limit = 30s) const {
        const bool flushed = sink.flush_for(limit);
        const auto s = sink.stats();
        INFO(describe(s));
        REQUIRE(flushed);
        check_accounting(s, logged);
        CHECK(s.delivered == logged);
        CHECK(s.fallback == 0);
        return s;
    }

    std::string describe(const spdlog_ext::sink_stats& s) const {
        std::string out = "measurement: " + measurement + "\nstats: " + s.to_json().dump() +
                          "\nerrors:" + errors->text();
        const auto fb = fallback->records();
        out += "\nfallback records: " + std::to_string(fb.size());
        for (std::size_t i = 0; i < fb.size() && i < 5; ++i) {
            out += "\n  [" + fb[i].message.substr(0, 80) + "] reason: " +
                   fb[i].fields.value("fallback_reason", std::string("?")).substr(0, 300);
        }
        return out;
    }
};

}  // namespace

TEST_SUITE("influx") {
    TEST_CASE("influx round trip: tags + message + typed fields + exact event time") {
        influx_fixture f("roundtrip");
        auto cfg = f.config();
        cfg.service = "checkout-svc";
        cfg.hostname = "it-host-1";
        cfg.tag_fields = {"region", "tenant"};
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        auto logger = std::make_shared<spdlog::logger>("rt.logger", sink);
        logger->set_level(spdlog::level::trace);

        const json obj = {{"k", "v"}, {"inner", {{"x", 1}, {"list", {1, 2.5, "three"}}}}};
        const json arr = json::array({1, "two", 3.5, false, nullptr});
        std::uint64_t logged = 0;
        const auto before = std::chrono::system_clock::now();
        spdlog_ext::log(logger, spdlog::level::warn,
                        {{"region", "eu-west-1"},
                         {"tenant", "acme"},
                         {"n", 42},
                         {"neg", -7},
                         {"i64max", std::numeric_limits<std::int64_t>::max()},
                         {"i64min", std::numeric_limits<std::int64_t>::min()},
                         {"u64max", std::numeric_limits<std::uint64_t>::max()},
                         {"f", 0.1},
                         {"huge", 1e300},
                         {"tiny", 5e-324},
                         {"negzero", -0.0},
                         {"whole", 2.0},
                         {"b", true},
                         {"bf", false},
                         {"s", "text value"},
                         {"empty_s", ""},
                         {"obj", obj},
                         {"arr", arr},
                         {"nul", nullptr},
                         {"nan", std::nan("")},
                         {"inf", std::numeric_limits<double>::infinity()}},
                        "typed fields {}", 1);
        ++logged;
        const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
            {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"},
            {spdlog::level::info, "info"},   {spdlog::level::warn, "warning"},
            {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"}};
        for (const auto& [level, name] : levels) {
            logger->log(level, "level {}", name);
            ++logged;
        }
        const auto after = std::chrono::system_clock::now();

        // An explicit event time with nanosecond digits: 2024-02-29 13:45:59.123456789 UTC.
        const std::int64_t exact_ns = 1709214359123456789LL;
        logger->log(time_at_ns(exact_ns), spdlog::source_loc{}, spdlog::level::info,
                    "explicit time");
        ++logged;

        const auto s = f.expect_all_delivered(*sink, logged);
        INFO(f.describe(s));
        CHECK(f.fallback->size() == 0);

        const auto rows = select_rows("SELECT * FROM " + quote_ident(f.measurement));
        REQUIRE(rows.size() == logged);
        std::map<std::string, json> by_message;
        for (const auto& r : rows) {
            by_message[text_of(r, "message")] = r;
        }
        REQUIRE(by_message.size() == logged);

        // Tags: host, level, logger, service on every point; the tag fields as tags.
        for (const auto& entry : by_message) {
            const std::string& message = entry.first;
            const json& r = entry.second;
            CAPTURE(message);
            CHECK(text_of(r, "host") == "it-host-1");
            CHECK(text_of(r, "logger") == "rt.logger");
            CHECK(text_of(r, "service") == "checkout-svc");
            if (message != "explicit time") {
                const auto t = r.at("time").get<std::int64_t>();
                CHECK(t >= ns_of(before));
                CHECK(t <= ns_of(after) + 1000);  // + the same-time shift, if any
            }
        }
        for (const auto& level_name : levels) {
            const std::string& name = level_name.second;
            CAPTURE(name);
            REQUIRE(by_message.count("level " + name) == 1);
            CHECK(text_of(by_message["level " + name], "level") == name);
            CHECK(text_of(by_message["level " + name], "region") == "<absent>");
        }
        CHECK(text_of(by_message["explicit time"], "level") == "info");
        CHECK(by_message["explicit time"].at("time").get<std::int64_t>() == exact_ns);

        CHECK(tag_keys(f.measurement) ==
              std::set<std::string>{"host", "level", "logger", "region", "service", "tenant"});

        // Field types, as InfluxDB stored them.
        const auto types = field_types(f.measurement);
        {
            std::string listed;
            for (const auto& [k, t] : types) {
                listed += k + ":" + t + " ";
            }
            INFO("SHOW FIELD KEYS: " << listed);
            const std::map<std::string, std::string> expected = {
                {"message", "string"}, {"n", "integer"},      {"neg", "integer"},
                {"i64max", "integer"}, {"i64min", "integer"}, {"u64max", "float"},
                {"f", "float"},        {"huge", "float"},     {"tiny", "float"},
                {"negzero", "float"},  {"whole", "float"},    {"b", "boolean"},
                {"bf", "boolean"},     {"s", "string"},       {"empty_s", "string"},
                {"obj", "string"},     {"arr", "string"}};
            for (const auto& key_type : expected) {
                const std::string& key = key_type.first;
                CAPTURE(key);
                CHECK(types.count(key) == 1);
                if (types.count(key) == 1) {
                    CHECK(types.at(key) == key_type.second);
                }
            }
            // Null, NaN and Inf fields are left out; tag fields are not fields.
            for (const auto* key : {"nul", "nan", "inf", "region", "tenant", "level", "logger"}) {
                CAPTURE(key);
                CHECK(types.count(key) == 0);
            }
            CHECK(types.size() == expected.size());
        }

        // Field values.
        const json& t = by_message["typed fields 1"];
        INFO("typed point: " << t.dump());
        CHECK(text_of(t, "level") == "warning");
        CHECK(text_of(t, "region") == "eu-west-1");
        CHECK(text_of(t, "tenant") == "acme");
        CHECK(t.at("n") == 42);
        CHECK(t.at("neg") == -7);
        CHECK(t.at("i64max").get<std::int64_t>() == std::numeric_limits<std::int64_t>::max());
        CHECK(t.at("i64min").get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
        CHECK(t.at("u64max").get<double>() ==
              static_cast<double>(std::numeric_limits<std::uint64_t>::max()));
        CHECK(t.at("f").get<double>() == 0.1);
        CHECK(t.at("huge").get<double>() == 1e300);
        CHECK(t.at("tiny").get<double>() == 5e-324);
        CHECK(t.at("whole").get<double>() == 2.0);
        CHECK(t.at("negzero").get<double>() == 0.0);
        CHECK(t.at("b") == true);
        CHECK(t.at("bf") == false);
        CHECK(t.at("s") == "text value");
        CHECK(t.at("empty_s") == "");
        REQUIRE(t.at("obj").is_string());
        CHECK(json::parse(t.at("obj").get<std::string>()) == obj);
        REQUIRE(t.at("arr").is_string());
        CHECK(json::parse(t.at("arr").get<std::string>()) == arr);
        CHECK(t.value("nul", json()).is_null());
        // nlohmann reads -0 as the integer 0: look at the server's own text for the sign.
        {
            const std::string text =
                influx_query_text("SELECT negzero FROM " + quote_ident(f.measurement));
            INFO("SELECT negzero answered: " << text);
            CHECK(contains(text, ",-0]"));
        }
    }

    TEST_CASE("influx default host tag is this machine and no service tag when unset") {
        influx_fixture f("defaulthost");
        auto cfg = f.config();
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("plain", sink);
        logger.info("hello");
        logger.error("world");
        const auto s = f.expect_all_delivered(*sink, 2);
        INFO(f.describe(s));
        const auto rows = select_rows("SELECT * FROM " + quote_ident(f.measurement));
        REQUIRE(rows.size() == 2);
        for (const auto& r : rows) {
            CHECK(text_of(r, "host") == spdlog_ext::host_name());
            CHECK(text_of(r, "logger") == "plain");
        }
        CHECK(tag_keys(f.measurement) == std::set<std::string>{"host", "level", "logger"});
        CHECK(field_types(f.measurement) ==
              std::map<std::string, std::string>{{"message", "string"}});
    }

    TEST_CASE("influx hostile strings and names round-trip or are made safe as documented") {
        influx_fixture f("nasty");
        auto cfg = f.config();
        // A measurement name with a comma, a space, '=' and a backslash.
        f.measurement += " m,x=y\\z";
        cfg.measurement = f.measurement;
        const std::string tag_key_nasty = "tag key,=x\\y";
        cfg.tag_fields = {"tv", tag_key_nasty, "_zone", "nl", "trail", "bad", "ctlkey\x01"};
        cfg.service = "svc with space,comma=eq";
        cfg.hostname = "host\\name";
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        const std::string nasty_logger_name = "logger \"q\" ,= \\ " + emoji;
        auto nasty_logger = std::make_shared<spdlog::logger>(nasty_logger_name, sink);
        auto plain_logger = std::make_shared<spdlog::logger>("plain", sink);

        // Values for tags and string fields alike: separators, quotes, backslashes (also before
        // a separator), an emoji.
        const std::string nasty = "a,b c=\"d\" \\e \\,f \\\"g\\ =h 'i' " + emoji;
        const std::string multiline = "line1\nline2\r\n\tindented \"quoted\" back\\slash\\";
        const std::string bad_utf8 = std::string("bad \xC3\x28 and truncated \xF0\x9F\x98") + "!";
        const std::string bad_utf8_fixed =
            std::string("bad ") + replacement_char + "( and truncated " + replacement_char + "!";
        const std::string colour = "colour \x1b[31mred\x1b[0m";

        std::uint64_t logged = 0;
        // 1. Hostile tags and keys (no line break anywhere in this record).
        spdlog_ext::log(nasty_logger, spdlog::level::info,
                        {{"tv", nasty},
                         {tag_key_nasty, "v"},
                         {"_zone", "z1"},
                         {"nl",
                          "tag\nvalue\twith\x01"
                          "controls"},
                         {"trail", "ends with backslash\\"},
                         {"bad", bad_utf8},
                         {"ctlkey\x01", "k"},
                         {"s_nasty", nasty},
                         {"s_bad", bad_utf8},
                         {"s_emoji", emoji + " " + emoji},
                         {"s_trailing", "x\\"},
                         {"field key,=x y", 1},
                         {"bs\\key", 2},
                         {"bs\\,key", 3},
                         {"q\"key", 4},
                         {"trailing\\", 6},
                         {"nl\nkey", 7},
                         {"bad\xFEkey", 8},
                         {"emoji" + emoji, 9},
                         {"time", 10},
                         {"_x", 11},
                         {"message", "structured message field"}},
                        "{}", nasty);
        ++logged;
        // 2. Line breaks in the message and in string fields.
        spdlog_ext::log(plain_logger, spdlog::level::info,
                        {{"s_multi", multiline}, {"s_nasty", nasty}, {"q\"key", 4}}, "{}",
                        multiline);
        ++logged;
        plain_logger->info("{}", bad_utf8);
        ++logged;
        // A tab, CR and LF are kept in string values; so should ESC be (ANSI colours).
        plain_logger->info("{}", colour);
        ++logged;
        // 3. A backslash before a '"' in a field key (becomes U+FF3C: InfluxDB would drop it).
        spdlog_ext::log(plain_logger, spdlog::level::info, {{"bsq\\\"key", 5}},
                        "backslash quote in a field key");
        ++logged;
        // 4. Hostile tags (backslashes before separators) and a line break in the message.
        spdlog_ext::log(nasty_logger, spdlog::level::err, {{"tv", nasty}},
                        "stack trace:\n  at frame 1\n  at frame 2");
        ++logged;

        // Measurement names with a backslash before '=' and before '"', and a leading '#'.
        f.another("logs_nasty_m");
        f.extra_measurements.back() += " a\\=b c\\\"d";
        const std::string odd_measurement = f.extra_measurements.back();
        f.extra_measurements.push_back(as_stored_name(odd_measurement));  // dropped as stored
        const std::string hash_measurement = "#" + f.another("logs_nasty_h");
        f.extra_measurements.push_back("\xEF\xBC\x83" + hash_measurement.substr(1));
        for (const auto& m : {odd_measurement, hash_measurement}) {
            CAPTURE(m);
            auto cfg2 = f.config();
            cfg2.measurement = m;
            auto sink2 = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg2);
            spdlog::logger logger2("odd", sink2);
            logger2.info("odd measurement");
            const bool flushed2 = sink2->flush_for(30s);
            const auto s2 = sink2->stats();
            INFO("second sink: " << s2.to_json().dump());
            REQUIRE(flushed2);
            check_accounting(s2, 1);
            CHECK(s2.delivered == 1);
        }

        const auto s = f.expect_all_delivered(*sink, logged);
        INFO(f.describe(s));

        // The measurement names, exactly (a leading '#' as U+FF03).
        {
            const auto names = measurements_named_like("");
            std::string listed;
            for (const auto& n : names) {
                if (contains(n, "logs_nasty_")) {
                    listed += "[" + n + "] ";
                }
            }
            INFO("measurements: " << listed);
            CHECK(names.count(as_stored_name(odd_measurement)) == 1);
            CHECK(names.count("\xEF\xBC\x83" + hash_measurement.substr(1)) == 1);
            REQUIRE(names.count(f.measurement) == 1);
        }

        const auto rows = select_rows("SELECT * FROM " + quote_ident(f.measurement));
        std::map<std::string, json> by_message;
        for (const auto& r : rows) {
            by_message[text_of(r, "message")] = r;
        }
        {
            std::string listed;
            for (const auto& [m, r] : by_message) {
                listed += "\n  " + json(m).dump();
            }
            INFO("messages stored:" << listed);
            CHECK(rows.size() == s.delivered);
            // Messages: string field values round-trip exactly (newlines, quotes, backslashes).
            CHECK(by_message.count(nasty) == 1);
            CHECK(by_message.count(multiline) == 1);
            CHECK(by_message.count(bad_utf8_fixed) == 1);
            CHECK(by_message.count("stack trace:\n  at frame 1\n  at frame 2") == 1);
            WARN_MESSAGE(by_message.count(colour) == 1, "ESC in a message was not kept");
        }

        if (by_message.count(multiline) == 1) {
            const json& r = by_message[multiline];
            INFO("point: " << r.dump());
            CHECK(text_of(r, "s_multi") == multiline);
            CHECK(text_of(r, "s_nasty") == nasty);
            CHECK(text_of(r, "q\"key") == "4");
            CHECK(text_of(r, "logger") == "plain");
        }
        if (by_message.count("backslash quote in a field key") == 1) {
            const json& r = by_message["backslash quote in a field key"];
            INFO("point: " << r.dump());
            CHECK(text_of(r, "bsq" + fullwidth_backslash + "\"key") == "5");
        }
        if (by_message.count("stack trace:\n  at frame 1\n  at frame 2") == 1) {
            const json& r = by_message["stack trace:\n  at frame 1\n  at frame 2"];
            CHECK(text_of(r, "tv") == as_stored_name(nasty));
            CHECK(text_of(r, "logger") == as_stored_name(nasty_logger_name));
        }

        REQUIRE(by_message.count(nasty) == 1);
        const json& r = by_message[nasty];
        INFO("point: " << r.dump());
        // Tags.
        CHECK(text_of(r, "tv") == as_stored_name(nasty));
        CHECK(text_of(r, tag_key_nasty) == "v");
        CHECK(text_of(r, "tag__zone") == "z1");
        CHECK(text_of(r, "_zone") == "<absent>");
        CHECK(text_of(r, "nl") == "tag" + replacement_char + "value" + replacement_char + "with" +
                                      replacement_char + "controls");
        CHECK(text_of(r, "trail") == "ends with backslash" + fullwidth_backslash);
        CHECK(text_of(r, "bad") == bad_utf8_fixed);
        CHECK(text_of(r, "ctlkey" + replacement_char) == "k");
        CHECK(text_of(r, "service") == "svc with space,comma=eq");
        CHECK(text_of(r, "host") == "host\\name");
        CHECK(text_of(r, "logger") == as_stored_name(nasty_logger_name));
        // String fields.
        CHECK(text_of(r, "s_nasty") == nasty);
        CHECK(text_of(r, "s_bad") == bad_utf8_fixed);
        CHECK(text_of(r, "s_emoji") == emoji + " " + emoji);
        CHECK(text_of(r, "s_trailing") == "x\\");
        // Field keys; a backslash before a separator in a field key becomes U+FF3C.
        CHECK(text_of(r, "field key,=x y") == "1");
        CHECK(text_of(r, "bs\\key") == "2");
        CHECK(text_of(r, "bs" + fullwidth_backslash + ",key") == "3");
        CHECK(text_of(r, "q\"key") == "4");
        CHECK(text_of(r, "trailing" + fullwidth_backslash) == "6");
        CHECK(text_of(r, "nl" + replacement_char + "key") == "7");
        CHECK(text_of(r, "bad" + replacement_char + "key") == "8");
        CHECK(text_of(r, "emoji" + emoji) == "9");
        CHECK(text_of(r, "field_time") == "10");
        CHECK(text_of(r, "field__x") == "11");
        CHECK(text_of(r, "field_message") == "structured message field");

        CHECK(tag_keys(f.measurement) ==
              std::set<std::string>{"bad", "ctlkey" + replacement_char, "host", "level", "logger",
                                    "nl", "service", tag_key_nasty, "tag__zone", "trail", "tv"});
        const auto types = field_types(f.measurement);
        std::string listed;
        for (const auto& [k, t] : types) {
            listed += "[" + k + "]:" + t + " ";
        }
        INFO("SHOW FIELD KEYS: " << listed);
        CHECK(types.count("time") == 0);
        CHECK(types.count("_x") == 0);
        CHECK(types.count("field_time") == 1);
        CHECK(types.count("field__x") == 1);
    }

    TEST_CASE("influx structured fields named like the sink's tags do not shadow those tags") {
        // In InfluxQL a field wins over a tag of the same name: a field `level` would make
        // WHERE level = 'error' miss every point of the measurement.
        influx_fixture f("clash");
        auto cfg = f.config();
        cfg.service = "svc";
        cfg.tag_fields = {"region"};
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("clash", sink);
        spdlog_ext::log(logger, spdlog::level::err,
                        {{"host", "db-7"},
                         {"level", 3},
                         {"logger", "inner"},
                         {"service", "billing"},
                         {"region", "eu"}},
                        "clashing field names");
        const auto s = f.expect_all_delivered(*sink, 1);
        INFO(f.describe(s));

        const auto tags = tag_keys(f.measurement);
        const auto types = field_types(f.measurement);
        std::string listed;
        for (const auto& [k, t] : types) {
            listed += k + ":" + t + " ";
        }
        INFO("SHOW FIELD KEYS: " << listed);
        for (const auto& tag : tags) {
            CAPTURE(tag);
            CHECK(types.count(tag) == 0);
        }
        // The tags still select the point.
        CHECK(select_rows("SELECT message FROM " + quote_ident(f.measurement) +
                          " WHERE \"level\" = 'error' AND \"logger\" = 'clash' AND \"service\" = "
                          "'svc' AND \"host\" = " +
                          quote_literal(spdlog_ext::host_name()))
                  .size() == 1);
        // And the fields' values are kept, under other names.
        const auto rows = select_rows("SELECT * FROM " + quote_ident(f.measurement));
        REQUIRE(rows.size() == 1);
        INFO("point: " << rows[0].dump());
        CHECK(text_of(rows[0], "field_host") == "db-7");
        CHECK(text_of(rows[0], "field_level") == "3");
        CHECK(text_of(rows[0], "field_logger") == "inner");
        CHECK(text_of(rows[0], "field_service") == "billing");
        CHECK(text_of(rows[0], "region") == "eu");
    }

    TEST_CASE("influx 1000 records with one event time are 1000 distinct points") {
        std::size_t batch = 5000;
        SUBCASE("one batch") {
            batch = 5000;
        }
        SUBCASE("batches of 100") {
            batch = 100;
        }
        CAPTURE(batch);
        influx_fixture f("sametime");
        auto cfg = f.config();
        cfg.engine.batch_max_records = batch;
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("same", sink);

        constexpr int n = 1000;
        // One event time (a whole second, an hour ago) for every record: one series.
        const std::int64_t t0 =
            (ns_of(std::chrono::system_clock::now() - 1h) / 1000000000LL) * 1000000000LL;
        const auto tp = time_at_ns(t0);
        for (int i = 0; i < n; ++i) {
            logger.log(tp, spdlog::source_loc{}, spdlog::level::info,
                       "same time " + std::to_string(i));
        }
        const auto s = f.expect_all_delivered(*sink, n, 60s);
        INFO(f.describe(s));

        CHECK(count_points(f.measurement) == n);
        const auto rows = select_rows("SELECT message FROM " + quote_ident(f.measurement));
        CHECK(rows.size() == n);
        std::set<std::int64_t> times;
        std::set<std::string> messages;
        std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = 0;
        for (const auto& r : rows) {
            const auto t = r.at("time").get<std::int64_t>();
            times.insert(t);
            lo = std::min(lo, t);
            hi = std::max(hi, t);
            messages.insert(text_of(r, "message"));
        }
        INFO("times in [t0 + " << (lo - t0) << ", t0 + " << (hi - t0) << "] ns");
        CHECK(times.size() == rows.size());
        CHECK(messages.size() == static_cast<std::size_t>(n));
        CHECK(lo >= t0);
        CHECK(hi <= t0 + n);
        for (int i = 0; i < n; ++i) {
            if (messages.count("same time " + std::to_string(i)) == 0) {
                FAIL_CHECK("missing: same time " << i);
                break;
            }
        }
    }

    TEST_CASE("influx record_metric points are exactly the metric - also at the same time") {
        influx_fixture f("metriclogs");
        const std::string metric = f.another("metric");
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(f.config());
        auto logger = std::make_shared<spdlog::logger>("metrics", sink);

        const std::int64_t t1 = 1709214359123456789LL;  // 2024-02-29 13:45:59.123456789 UTC
        const std::int64_t t2 = 1709214360000000000LL;
        spdlog_ext::record_metric(logger, metric, {{"route", "/pay"}, {"code", "200"}},
                                  {{"count", 1},
                                   {"latency_ms", 12.5},
                                   {"ok", true},
                                   {"note", "a \"q\" \\ z"},
                                   {"detail", json{{"a", 1}}}},
                                  time_at_ns(t1));
        // Twice the same series and time: both points kept.
        spdlog_ext::record_metric(logger, metric, {{"route", "/dup"}, {"code", "500"}},
                                  {{"count", 1}}, time_at_ns(t2));
        spdlog_ext::record_metric(logger, metric, {{"route", "/dup"}, {"code", "500"}},
                                  {{"count", 2}}, time_at_ns(t2));
        // Default time: now.
        const auto before = std::chrono::system_clock::now();
        spdlog_ext::record_metric(logger, metric, {{"route", "/now"}, {"code", "201"}},
                                  {{"count", 3}});
        const auto after = std::chrono::system_clock::now();
        constexpr std::uint64_t logged = 4;

        const auto s = f.expect_all_delivered(*sink, logged);
        INFO(f.describe(s));

        // Nothing in the logs measurement: a metric is its point, not a log line.
        CHECK(count_points(f.measurement) == 0);
        // Exactly the metric's tags and fields.
        CHECK(tag_keys(metric) == std::set<std::string>{"code", "route"});
        CHECK(field_types(metric) == std::map<std::string, std::string>{{"count", "integer"},
                                                                        {"detail", "string"},
                                                                        {"latency_ms", "float"},
                                                                        {"note", "string"},
                                                                        {"ok", "boolean"}});

        const auto rows = select_rows("SELECT * FROM " + quote_ident(metric));
        INFO("rows: " << json(rows).dump());
        REQUIRE(rows.size() == 4);
        std::vector<json> pay, dup, now;
        for (const auto& r : rows) {
            const std::string route = text_of(r, "route");
            (route == "/pay" ? pay : route == "/dup" ? dup : now).push_back(r);
        }
        REQUIRE(pay.size() == 1);
        CHECK(pay[0].at("time").get<std::int64_t>() == t1);
        CHECK(text_of(pay[0], "code") == "200");
        CHECK(pay[0].at("count") == 1);
        CHECK(pay[0].at("latency_ms").get<double>() == 12.5);
        CHECK(pay[0].at("ok") == true);
        CHECK(pay[0].at("note") == "a \"q\" \\ z");
        CHECK(json::parse(pay[0].at("detail").get<std::string>()) == json{{"a", 1}});

        REQUIRE(dup.size() == 2);
        std::set<long long> counts;
        std::set<std::int64_t> times;
        for (const auto& r : dup) {
            counts.insert(r.at("count").get<long long>());
            times.insert(r.at("time").get<std::int64_t>());
            CHECK(text_of(r, "code") == "500");
            CHECK(r.at("time").get<std::int64_t>() >= t2);
            CHECK(r.at("time").get<std::int64_t>() <= t2 + 1);
        }
        CHECK(counts == std::set<long long>{1, 2});
        CHECK(times.size() == 2);

        REQUIRE(now.size() == 1);
        CHECK(text_of(now[0], "route") == "/now");
        CHECK(now[0].at("count") == 3);
        CHECK(now[0].at("time").get<std::int64_t>() >= ns_of(before));
        CHECK(now[0].at("time").get<std::int64_t>() <= ns_of(after));
    }

    TEST_CASE("influx level counts: the counts per level add up to the records logged") {
        influx_fixture f("levelcountlogs");
        const std::string counts = f.another("counts");
        auto cfg = f.config();
        cfg.hostname = "counts-host";
        cfg.level_counts_interval = 1s;
        cfg.level_counts_measurement = counts;
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger a("counts.a", sink);
        spdlog::logger b("counts.b", sink);

        // Over about 2.5 s: several intervals, several batches per interval.
        constexpr int rounds = 6;
        int errors_a = 0, infos_a = 0, infos_b = 0, warns_b = 0;
        for (int round = 0; round < rounds; ++round) {
            for (int i = 0; i < 7 + round; ++i) {
                a.error("error {} {}", round, i);
                ++errors_a;
            }
            for (int i = 0; i < 11 + 2 * round; ++i) {
                a.info("info {} {}", round, i);
                ++infos_a;
            }
            for (int i = 0; i < 5; ++i) {
                b.info("b info {} {}", round, i);
                ++infos_b;
            }
            b.warn("b warn {}", round);
            ++warns_b;
            sink->flush_for(10s);
            std::this_thread::sleep_for(450ms);
        }
        const std::uint64_t logged =
            static_cast<std::uint64_t>(errors_a + infos_a + infos_b + warns_b);
        const auto s = f.expect_all_delivered(*sink, logged);
        INFO(f.describe(s));
        CHECK(count_points(f.measurement) == static_cast<long long>(logged));

        const auto sums = select_rows("SELECT sum(\"count\") FROM " + quote_ident(counts) +
                                      " GROUP BY \"level\", \"logger\"");
        std::map<std::string, long long> by_key;
        for (const auto& r : sums) {
            by_key[text_of(r, "level") + "/" + text_of(r, "logger")] = r.at("sum").get<long long>();
        }
        INFO("sums: " << json(by_key).dump());
        CHECK(by_key.size() == 4);
        CHECK(by_key["error/counts.a"] == errors_a);
        CHECK(by_key["info/counts.a"] == infos_a);
        CHECK(by_key["info/counts.b"] == infos_b);
        CHECK(by_key["warning/counts.b"] == warns_b);

        // One point per interval, level and logger, at the interval's start.
        const auto points = select_rows("SELECT * FROM " + quote_ident(counts));
        CHECK(points.size() >= 8);  // >= 2 intervals for each of the 4 (level, logger)
        std::set<std::string> intervals;
        for (const auto& p : points) {
            CHECK(p.at("time").get<std::int64_t>() % 1000000000LL == 0);
            CHECK(text_of(p, "host") == "counts-host");
            intervals.insert(text_of(p, "time"));
        }
        CHECK(intervals.size() >= 2);
        CHECK(field_types(counts) == std::map<std::string, std::string>{{"count", "integer"}});
    }

    TEST_CASE("influx a record the server refuses goes to the fallback - the batch's others kept") {
        bool same_time = false;
        SUBCASE("distinct times") {
            same_time = false;
        }
        SUBCASE("one event time for all") {
            same_time = true;
        }
        CAPTURE(same_time);
        influx_fixture f("refused");
        auto cfg = f.config();
        cfg.engine.batch_max_delay = 300ms;  // the good and the bad records in one batch
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("refused", sink);
        const auto tp = std::chrono::system_clock::now() - 1h;
        const auto emit = [&](const spdlog_ext::field_list& fields, const std::string& message) {
            spdlog_ext::scoped_fields scope(fields);
            if (same_time) {
                logger.log(tp, spdlog::source_loc{}, spdlog::level::info, message);
            } else {
                logger.info(message);
            }
        };

        // x is an integer field of the measurement from now on.
        emit({{"x", 1}}, "first");
        REQUIRE(sink->flush_for(30s));
        REQUIRE(sink->stats().delivered == 1);

        constexpr int good = 20;
        for (int i = 0; i < good; ++i) {
            if (i == good / 2) {
                emit({{"x", "not an integer"}}, "bad");
            }
            emit({{"x", i + 2}}, "good " + std::to_string(i));
        }
        const std::uint64_t logged = 1 + good + 1;
        const bool flushed = sink->flush_for(60s);
        const auto s = sink->stats();
        INFO(f.describe(s));
        REQUIRE(flushed);
        check_accounting(s, logged);
        CHECK(s.delivered == logged - 1);
        CHECK(s.fallback == 1);
        CHECK(s.dropped == 0);
        const auto fb = f.fallback->records();
        REQUIRE(fb.size() == 1);
        CHECK(fb[0].message == "bad");
        const std::string reason = fb[0].fields.value("fallback_reason", std::string());
        INFO("fallback_reason: " << reason);
        CHECK(contains(reason, "field type conflict"));

        CHECK(count_points(f.measurement) == static_cast<long long>(logged - 1));
        const auto rows = select_rows("SELECT message, x FROM " + quote_ident(f.measurement));
        std::map<std::string, int> messages;  // message → points
        std::set<std::int64_t> times;
        std::string listed;
        for (const auto& r : rows) {
            ++messages[text_of(r, "message")];
            times.insert(r.at("time").get<std::int64_t>());
            listed += "\n  t0+" + std::to_string(r.at("time").get<std::int64_t>() - ns_of(tp)) +
                      " " + text_of(r, "message") + " x=" + text_of(r, "x");
            CHECK(r.at("x").is_number_integer());
        }
        INFO("points:" << listed);
        CHECK(rows.size() == logged - 1);
        CHECK(times.size() == rows.size());
        CHECK(messages["first"] == 1);
        CHECK(messages.count("bad") == 0);
        for (int i = 0; i < good; ++i) {
            CAPTURE(i);
            CHECK(messages["good " + std::to_string(i)] == 1);
        }
        CHECK(field_types(f.measurement) ==
              std::map<std::string, std::string>{{"message", "string"}, {"x", "integer"}});
    }

    TEST_CASE("influx 20k records while influxd is killed and restarted - all present") {
        (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_SCRIPT");
        (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_DIR");
        REQUIRE(influx_answers());
        influx_fixture f("restart");  // drops its measurement after the restart guard ran
        constexpr int total = 20000;

        auto cfg = f.config();
        cfg.engine.queue_max_records = 100000;
        cfg.engine.retry_max_elapsed = 4min;
        cfg.connect_timeout = 2s;
        cfg.timeout = 10s;
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("restart", sink);

        // Declared after the sink: on any exit influxd is started again before the sink drains.
        influx_restart_guard restart_guard;
        std::atomic<int> stop_rc{-100}, start_rc{-100};
        std::atomic<bool> down{false};
        std::thread outage;
        const auto t_start = std::chrono::steady_clock::now();
        for (int i = 0; i < total; ++i) {
            if (i == total / 4) {
                outage = std::thread([&] {
                    stop_rc = services("influx-stop");
                    down = true;
                    std::this_thread::sleep_for(1500ms);
                    int rc = services("influx-start");
                    if (rc != 0) {
                        rc = services("influx-start");
                    }
                    start_rc = rc;
                });
                while (!down) {  // the next records are logged while influxd is gone
                    std::this_thread::sleep_for(1ms);
                }
            }
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "record {}", i);
            if (i % 20 == 19) {
                std::this_thread::sleep_for(2ms);  // logging spans the outage
            }
        }
        const double logging_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        outage.join();
        CHECK(stop_rc == 0);
        REQUIRE(start_rc == 0);
        REQUIRE(influx_answers());

        const auto t_flush = std::chrono::steady_clock::now();
        const bool flushed = sink->flush_for(180s);
        const double flush_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_flush).count();
        const auto s = sink->stats();
        INFO(f.describe(s));
        MESSAGE("logging took " << logging_seconds << " s; flush " << flush_seconds
                                << " s; retries=" << s.retries << " possible_duplicates="
                                << s.possible_duplicates << " batches=" << s.batches);
        REQUIRE(flushed);
        check_accounting(s, total);
        CHECK(s.delivered == total);
        CHECK(s.fallback == 0);
        CHECK(s.dropped == 0);
        CHECK(f.fallback->size() == 0);
        CHECK(s.retries > 0);  // the outage was noticed at all

        CHECK(count_points(f.measurement) == total);
        const auto agg = select_rows("SELECT count(seq), min(seq), max(seq), sum(seq) FROM " +
                                     quote_ident(f.measurement));
        REQUIRE(agg.size() == 1);
        INFO("aggregates: " << agg[0].dump());
        CHECK(agg[0].at("count").get<long long>() == total);
        CHECK(agg[0].at("min").get<long long>() == 0);
        CHECK(agg[0].at("max").get<long long>() == total - 1);
        CHECK(agg[0].at("sum").get<long long>() == static_cast<long long>(total) * (total - 1) / 2);
    }
}
