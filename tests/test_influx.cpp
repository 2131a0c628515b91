// influx_timeseries_sink without a server: the line-protocol encoder checked by an independent
// strict parser (tests/support/line_protocol_parser.h), and the sink against a fake InfluxDB v2
// write API (tests/support/fake_influx_v2.h): token/org/bucket, gzip, 422 partial writes, 413,
// 429, 401, configuration. The real InfluxDB 1.x is in tests/integration/test_influx.cpp.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sinks/influx/influx_encoder.h"
#include "sinks/influx/level_counts.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "support/env_guard.h"
#include "support/fake_influx_v2.h"
#include "support/line_protocol_parser.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;
using spdlog_ext::detail::line_encoder;
using spdlog_ext::detail::line_protocol_options;
using test::check_accounting;

namespace {

const spdlog::log_clock::time_point t0{std::chrono::seconds(1795000000)};

spdlog_ext::record make_record(std::string message, json fields = nullptr,
                               spdlog::log_clock::time_point time = t0,
                               spdlog::level::level_enum level = spdlog::level::info,
                               std::string logger = "app") {
    spdlog_ext::record r;
    r.time = time;
    r.level = level;
    r.logger_name = std::move(logger);
    r.message = std::move(message);
    r.fields = std::move(fields);
    return r;
}

line_protocol_options options(bool unsigned_integers = true) {
    line_protocol_options o;
    o.hostname = "web-1";
    o.service = "shop";
    o.unsigned_integers = unsigned_integers;
    return o;
}

// Encodes and parses back strictly; fails the test on any parse error.
std::vector<test::lp::point> round_trip(line_encoder& encoder,
                                        const std::vector<spdlog_ext::record>& records,
                                        bool allow_unsigned = true) {
    std::string body;
    encoder.encode({records.data(), records.size()}, body);
    const auto parsed = test::lp::parse(body, allow_unsigned);
    for (const auto& e : parsed.errors) {
        MESSAGE("parse error: " << e);
    }
    CHECK(parsed.errors.empty());
    return parsed.points;
}

// The fake server's 422 partial write: the points with a "poison" field are refused.
test::influx_fault reject_poisoned(const test::influx_request&,
                                   const std::vector<test::lp::point>& points) {
    std::vector<std::size_t> bad;
    for (std::size_t i = 0; i < points.size(); ++i) {
        if (points[i].fields.count("poison")) {
            bad.push_back(i);
        }
    }
    return bad.empty() ? test::influx_fault{} : test::influx_fault::reject(bad);
}

std::string tag(const test::lp::point& p, const std::string& key) {
    for (const auto& [k, v] : p.tags) {
        if (k == key) {
            return v;
        }
    }
    return "<absent>";
}

struct influx_fixture {
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<test::error_log> errors = std::make_shared<test::error_log>();

    spdlog_ext::influx_config config(const test::fake_influx_v2& server) const {
        spdlog_ext::influx_config cfg;
        cfg.url = server.url();
        cfg.api = spdlog_ext::influx_api::v2;
        cfg.token = "test-token";
        cfg.org = "test-org";
        cfg.bucket = "test-bucket";
        cfg.hostname = "web-1";
        cfg.timeout = 1s;
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 20ms;
        cfg.engine.retry_max_delay = 200ms;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& line) { errs->add(line); };
        return cfg;
    }
};

void check_no_violations(const test::fake_influx_v2& server) {
    const auto v = server.violations();
    for (std::size_t i = 0; i < v.size() && i < 5; ++i) {
        MESSAGE("protocol violation: " << v[i]);
    }
    CHECK(v.size() == 0);
    CHECK(server.collapsed().empty());  // no point was overwritten by a different one
}

std::set<std::string> messages_of(const std::vector<test::lp::point>& points) {
    std::set<std::string> out;
    for (const auto& p : points) {
        const auto it = p.fields.find("message");
        if (it != p.fields.end()) {
            out.insert(it->second.s);
        }
    }
    return out;
}

// A backslash InfluxDB cannot read back as itself (before a separator or a quote, or ending the
// name) is written as U+FF3C instead.
std::string as_name(const std::string& key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const bool unreadable =
            key[i] == '\\' && (i + 1 == key.size() || key[i + 1] == ',' || key[i + 1] == ' ' ||
                               key[i + 1] == '=' || key[i + 1] == '"');
        out += unreadable ? std::string("\xef\xbc\xbc") : std::string(1, key[i]);
    }
    return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("influx") {
    TEST_CASE("line protocol - nasty names and strings parse back to what was logged") {
        line_encoder encoder(options());
        const std::vector<std::string> nasty = {
            "comma,here", "space here", "equals=here", "quote\"here", "back\\slash", "back\\,comma",
            "emoji 🎉",    "semi;colon", "a\\ b",       "=,\\ \"",     "q\\\"uote",
        };
        std::vector<spdlog_ext::record> records;
        for (const auto& s : nasty) {
            json fields{{"k " + s, s}};
            records.push_back(make_record("msg " + s, fields, t0, spdlog::level::warn, s));
        }
        const auto points = round_trip(encoder, records);
        REQUIRE(points.size() == nasty.size());
        for (std::size_t i = 0; i < nasty.size(); ++i) {
            CAPTURE(nasty[i]);
            const auto& p = points[i];
            CHECK(p.measurement == "logs");
            CHECK(tag(p, "logger") == as_name(nasty[i]));
            CHECK(tag(p, "level") == "warning");
            CHECK(tag(p, "host") == "web-1");
            CHECK(tag(p, "service") == "shop");
            CHECK(p.fields.at("message").s == "msg " + nasty[i]);
            CHECK(p.fields.at(as_name("k " + nasty[i])).s == nasty[i]);
        }
    }

    TEST_CASE("line protocol - what cannot be written as is is made safe") {
        line_encoder encoder(options());
        const std::string nul_message("new\nline \r\t kept, NUL\0 not", 26);
        std::vector<spdlog_ext::record> records;
        records.push_back(make_record(nul_message, json{{"region", "eu\\"}}, t0, spdlog::level::err,
                                      "bad\xff\xfeutf8\nlogger"));
        records.push_back(make_record("", json{{"time", 5}, {"_x", true}, {"message", "dup"}}));
        const auto points = round_trip(encoder, records);
        REQUIRE(points.size() == 2);
        // String values keep \n \r \t (InfluxDB stores them); NUL becomes U+FFFD.
        CHECK(points[0].fields.at("message").s ==
              std::string("new\nline \r\t kept, NUL\xef\xbf\xbd not"));
        // Names: invalid UTF-8 and control characters become U+FFFD.
        CHECK(tag(points[0], "logger") == "bad\xef\xbf\xbd\xef\xbf\xbdutf8\xef\xbf\xbdlogger");
        // A trailing backslash cannot be parsed back: U+FF3C takes its place.
        CHECK(points[0].fields.at("region").s == "eu\\");  // as a string value it is fine
        // Reserved keys are renamed; an empty message is still a field.
        CHECK(points[1].fields.at("message").s.empty());
        CHECK(points[1].fields.at("field_time").i == 5);
        CHECK(points[1].fields.at("field__x").b);
        CHECK(points[1].fields.at("field_message").s == "dup");
        CHECK(encoder.stats().renamed_keys == 3);
        // Fields named like our tags would shadow them in InfluxQL: renamed too.
        const auto shadow = round_trip(
            encoder,
            {make_record(
                "m",
                json{{"host", "h"}, {"level", 1}, {"logger", "l"}, {"service", "s"}, {"ok", 1}})});
        REQUIRE(shadow.size() == 1);
        CHECK(tag(shadow[0], "host") == "web-1");
        CHECK(tag(shadow[0], "level") == "info");
        CHECK(shadow[0].fields.at("field_host").s == "h");
        CHECK(shadow[0].fields.at("field_level").i == 1);
        CHECK(shadow[0].fields.at("field_logger").s == "l");
        CHECK(shadow[0].fields.at("field_service").s == "s");
        CHECK(shadow[0].fields.at("ok").i == 1);

        // A measurement starting with '#' would make the line a comment.
        std::string hash;
        spdlog_ext::detail::append_measurement(hash, "#cpu");
        CHECK(hash ==
              "\xef\xbc\x83"
              "cpu");  // U+FF03

        line_protocol_options tagged = options();
        tagged.tag_fields = {"region", "level", "empty"};
        line_encoder tag_encoder(tagged);
        const auto tagged_points = round_trip(
            tag_encoder, {make_record("m", json{{"region", "eu\\"}, {"level", 3}, {"empty", ""}})});
        REQUIRE(tagged_points.size() == 1);
        CHECK(tag(tagged_points[0], "region") == "eu\xef\xbc\xbc");  // U+FF3C
        CHECK(tag(tagged_points[0], "tag_level") == "3");  // would clash with our level tag
        CHECK(tag(tagged_points[0], "level") == "info");
        CHECK(tag(tagged_points[0], "empty") == "<absent>");  // empty tag values are omitted
        CHECK(tagged_points[0].fields.count("region") == 0);  // a tag, not also a field
    }

    TEST_CASE("line protocol - field types and numbers") {
        const json fields{{"int", -42},
                          {"uint_small", 42u},
                          {"uint_big", std::numeric_limits<std::uint64_t>::max()},
                          {"float", 0.1},
                          {"huge", 1e300},
                          {"tiny", -1.5e-7},
                          {"negzero", -0.0},
                          {"whole", 3.0},
                          {"yes", true},
                          {"no", false},
                          {"text", "3"},
                          {"nested", {{"a", {1, 2}}}},
                          {"nan", std::nan("")},
                          {"inf", std::numeric_limits<double>::infinity()},
                          {"null", nullptr}};
        for (bool with_unsigned : {true, false}) {
            CAPTURE(with_unsigned);
            line_encoder encoder(options(with_unsigned));
            const auto points = round_trip(encoder, {make_record("m", fields)}, with_unsigned);
            REQUIRE(points.size() == 1);
            const auto& f = points[0].fields;
            using kind = test::lp::value;
            CHECK(f.at("int").kind == kind::integer);
            CHECK(f.at("int").i == -42);
            CHECK(f.at("uint_small").kind == kind::integer);
            CHECK(f.at("uint_small").i == 42);
            if (with_unsigned) {
                CHECK(f.at("uint_big").kind == kind::unsigned_integer);
                CHECK(f.at("uint_big").u == std::numeric_limits<std::uint64_t>::max());
            } else {
                CHECK(f.at("uint_big").kind == kind::floating);
            }
            CHECK(f.at("float").kind == kind::floating);
            CHECK(f.at("float").f == 0.1);  // shortest round-trip text parses to the same double
            CHECK(f.at("huge").f == 1e300);
            CHECK(f.at("tiny").f == -1.5e-7);
            CHECK(std::signbit(f.at("negzero").f));
            CHECK(f.at("whole").kind == kind::floating);  // stays a float, never 3i
            CHECK(f.at("yes").kind == kind::boolean);
            CHECK(f.at("yes").b);
            CHECK_FALSE(f.at("no").b);
            CHECK(f.at("text").kind == kind::string);
            CHECK(f.at("nested").s == R"({"a":[1,2]})");
            CHECK(f.count("nan") == 0);
            CHECK(f.count("inf") == 0);
            CHECK(f.count("null") == 0);
            CHECK(encoder.stats().nan_fields_dropped == 2);
        }
        std::string text;
        spdlog_ext::detail::append_float(text, 0.1);
        CHECK(text == "0.1");
    }

    TEST_CASE("line protocol - tags are sorted and the series key is stable") {
        line_protocol_options o = options();
        o.tag_fields = {"zone", "app_version", "a"};
        line_encoder encoder(o);
        std::string body;
        const std::vector<spdlog_ext::record> records = {
            make_record("m", json{{"zone", "z1"}, {"app_version", "2"}, {"a", "x"}})};
        encoder.encode({records.data(), records.size()}, body);
        CHECK(body.rfind("logs,a=x,app_version=2,host=web-1,level=info,logger=app,service=shop,"
                         "zone=z1 message=\"m\" ",
                         0) == 0);
    }

    TEST_CASE("line protocol - same-timestamp records become distinct points deterministically") {
        line_encoder encoder(options());
        std::vector<spdlog_ext::record> records;
        for (int i = 0; i < 1000; ++i) {
            records.push_back(make_record("same " + std::to_string(i)));
        }
        std::string first;
        encoder.encode({records.data(), records.size()}, first, 7, 0);
        std::string again;  // e.g. after a 503: the retry must write the very same points
        encoder.encode({records.data(), records.size()}, again, 7, 0);
        CHECK(first == again);
        const auto parsed = test::lp::parse(again, true);
        REQUIRE(parsed.points.size() == 1000);
        const std::int64_t base =
            std::chrono::duration_cast<std::chrono::nanoseconds>(t0.time_since_epoch()).count();
        for (std::size_t i = 0; i < parsed.points.size(); ++i) {
            CHECK(*parsed.points[i].timestamp == base + static_cast<std::int64_t>(i));
        }
        CHECK(encoder.stats().timestamps_shifted == 999);  // once per record, not per encode
        // A bisection half (records 500.. of the same source) keeps their timestamps, even with
        // a record before them gone (refused): the server may hold them already.
        std::string half;
        encoder.encode({records.data() + 501, 499}, half, 7, 501);
        const auto half_points = test::lp::parse(half, true).points;
        REQUIRE(half_points.size() == 499);
        CHECK(*half_points.front().timestamp == base + 501);
        CHECK(*half_points.back().timestamp == base + 999);

        // The next batch continues after those points; another series is not moved.
        const std::vector<spdlog_ext::record> more = {
            make_record("later"), make_record("other series", nullptr, t0, spdlog::level::err)};
        const auto next = round_trip(encoder, more);
        REQUIRE(next.size() == 2);
        CHECK(*next[0].timestamp == base + 1000);
        CHECK(*next[1].timestamp == base);

        // A backfilled metric far in the past only avoids exact clashes.
        const auto old_time = t0 - std::chrono::hours(1);
        const std::vector<spdlog_ext::record> old = {make_record("old", nullptr, old_time),
                                                     make_record("old", nullptr, old_time)};
        const auto backfill = round_trip(encoder, old);
        REQUIRE(backfill.size() == 2);
        CHECK(*backfill[0].timestamp == base - 3600 * 1000000000LL);
        CHECK(*backfill[1].timestamp == base - 3600 * 1000000000LL + 1);
    }

    TEST_CASE("line protocol - a metric with an empty measurement is written as a log line") {
        // Found by fuzz_line_protocol: the line began with a space and InfluxDB refused it.
        line_encoder encoder(options());
        const json metric{
            {spdlog_ext::metric_field,
             {{"measurement", ""}, {"tags", json::object()}, {"fields", {{"x", 1}}}}}};
        const auto points = round_trip(encoder, {make_record("metric", metric)});
        REQUIRE(points.size() == 1);
        CHECK(points[0].measurement == options().measurement);
    }

    TEST_CASE("line protocol - times at the ends of the clock stay in InfluxDB's range") {
        // Found by fuzz_line_protocol: INT64_MAX (and a same-time run ending there) was written,
        // and InfluxDB refuses INT64_MIN and INT64_MAX.
        line_encoder encoder(options());
        std::vector<spdlog_ext::record> records;
        for (int i = 0; i < 3; ++i) {
            records.push_back(make_record("late"));
            records.back().time = spdlog::log_clock::time_point::max();
            records.push_back(make_record("early"));
            records.back().time = spdlog::log_clock::time_point::min();
        }
        const auto points = round_trip(encoder, records);
        CHECK(points.size() == records.size());
    }

    TEST_CASE("line protocol - empty and repeated tag field names are ignored") {
        // Found by fuzz_line_protocol: an empty name in tag_fields gave "logs,=v" lines.
        auto o = options();
        o.tag_fields = {"", "region", "region"};
        line_encoder encoder(o);
        const auto points =
            round_trip(encoder, {make_record("m", json{{"", "x"}, {"region", "eu"}})});
        REQUIRE(points.size() == 1);
        CHECK(tag(points[0], "region") == "eu");
    }

    TEST_CASE("line protocol - keys that become one once escaped or renamed stay distinct") {
        // Found by fuzz_line_protocol (a 240 s run): two keys of invalid UTF-8 both became U+FFFD.
        // influxd 1.6.7 keeps only the last of repeated fields (one value lost unseen) and answers
        // 400 "duplicate tags" to a repeated tag.
        const std::string fffd = "\xef\xbf\xbd";
        auto o = options();
        o.tag_fields = {"host", "tag_host", "\xfe"};
        line_encoder encoder(o);
        const json fields{{"\xff", 1},          {"\xfe\xfe", 2},      {fffd, 3},
                          {"message", "m2"},    {"field_message", 4}, {"a\\", 5},
                          {"a\xef\xbc\xbc", 6}, {"host", "h1"},       {"tag_host", "h2"},
                          {"\xfe", "t3"}};
        const json metric{
            {spdlog_ext::metric_field,
             {{"measurement", "m"},
              {"tags", {{"\xff", "a"}, {"\xfe", "b"}}},
              {"fields", {{"time", 1}, {"field_time", 2}, {"\xff", 3}, {"\xfe", 4}}}}}};
        const auto points =
            round_trip(encoder, {make_record("m1", fields), make_record("metric", metric)});
        REQUIRE(points.size() == 2);
        // Every value is there, under a distinct key (the parser refuses repeated ones).
        const auto& f = points[0].fields;
        CHECK(f.size() == 8);  // message, 6 fields; host/tag_host/\xfe are tags
        CHECK(f.at("message").s == "m1");
        // Keys come in sorted order: the real field_message first, the renamed message after it.
        CHECK(f.at("field_message").i == 4);
        CHECK(f.at("field_message_2").s == "m2");
        std::set<std::int64_t> ints;
        for (const auto& [key, value] : f) {
            if (key != "field_message" && value.kind == test::lp::value::integer) {
                ints.insert(value.i);
            }
        }
        CHECK(ints == std::set<std::int64_t>{1, 2, 3, 5, 6});
        CHECK(tag(points[0], "host") == "web-1");
        std::set<std::string> tag_values;
        for (const auto& [key, value] : points[0].tags) {
            tag_values.insert(value);
        }
        CHECK(tag_values.count("h1") == 1);  // host field → tag_host
        CHECK(tag_values.count("h2") == 1);  // tag_host field → tag_host_2
        CHECK(tag_values.count("t3") == 1);
        CHECK(tag(points[0], "tag_host") == "h1");
        CHECK(tag(points[0], "tag_host_2") == "h2");
        CHECK(tag(points[0], fffd) == "t3");
        CHECK(points[1].tags.size() == 2);
        CHECK(points[1].fields.size() == 4);
        CHECK(points[1].fields.at("field_time").i + points[1].fields.at("field_time_2").i == 3);
        // message, field_message_2, a＼_2, U+FFFD_2; time, field_time_2, U+FFFD_2 (tags: not
        // counted).
        CHECK(encoder.stats().renamed_keys == 7);
    }

    TEST_CASE("line protocol - a record with tens of thousands of fields encodes in linear time") {
        // Each key used to be compared with every earlier key of its line (40k fields: ~2 s a
        // record), and the n-th repeat of one escaped key tried _2 .. _n, each try against
        // every key (3000 repeats: tens of seconds).
        constexpr int distinct = 100000;
        constexpr int colliding = 3000;  // distinct raw keys that all escape to one
        json wide = json::object();
        for (int i = 0; i < distinct; ++i) {
            wide["f" + std::to_string(i)] = i;
        }
        json repeats = json::object();
        for (int i = 0; i < colliding; ++i) {
            // Three lone continuation bytes: each is one U+FFFD.
            std::string key = "k";
            key += static_cast<char>(0x80 + (i & 0x3f));
            key += static_cast<char>(0x80 + ((i >> 6) & 0x3f));
            key += static_cast<char>(0x80 + ((i >> 12) & 0x3f));
            repeats[key] = i;
        }
        REQUIRE(repeats.size() == static_cast<std::size_t>(colliding));
        line_encoder encoder(options());
        std::vector<test::lp::point> points;
        for (const json* fields : {&wide, &repeats}) {
            std::vector<spdlog_ext::record> records{make_record("wide", *fields)};
            std::string body;
            const auto started = std::chrono::steady_clock::now();
            encoder.encode({records.data(), records.size()}, body);
            const auto took = std::chrono::steady_clock::now() - started;
            MESSAGE(
                "encoding " << fields->size() << " fields took "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                            << " ms");
            CHECK(took < 1s);  // linear: tens of ms
            const auto parsed = test::lp::parse(body, true);
            REQUIRE(parsed.errors.empty());
            REQUIRE(parsed.points.size() == 1);
            points.push_back(parsed.points[0]);
        }

        // Still exact: every value once, under a distinct key.
        const auto& f = points[0].fields;
        CHECK(f.size() == static_cast<std::size_t>(1 + distinct));
        CHECK(f.at("message").s == "wide");
        CHECK(f.at("f0").i == 0);
        CHECK(f.at("f99999").i == 99999);
        const auto& r = points[1].fields;
        CHECK(r.size() == static_cast<std::size_t>(1 + colliding));
        const std::string base = "k\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
        std::set<std::int64_t> values;
        for (const auto& [key, value] : r) {
            if (key.rfind(base, 0) == 0) {
                values.insert(value.i);
            }
        }
        CHECK(values.size() == static_cast<std::size_t>(colliding));
        CHECK(r.count(base) == 1);
        CHECK(r.count(base + "_2") == 1);
        CHECK(r.count(base + "_" + std::to_string(colliding)) == 1);
        CHECK(encoder.stats().renamed_keys == static_cast<std::uint64_t>(colliding - 1));
    }

    TEST_CASE("line protocol - a renamed repeat skips the suffixes real keys already hold") {
        // `message` becomes field_message, taken, then field_message_2, taken too: _3. A key
        // that escapes like an earlier one chains: a\\ and a＼ both read a＼, then a＼_2 ...
        const std::string a = "a\xef\xbc\xbc";  // "a＼": what "a\\" is written as
        const json fields{
            {"field_message", 1}, {"field_message_2", 2}, {"message", "m2"}, {"a\\", 3}, {a, 4},
            {a + "_2", 5},        {a + "_2_2", 6}};
        line_encoder encoder(options());
        const auto points = round_trip(encoder, {make_record("m", fields)});
        REQUIRE(points.size() == 1);
        const auto& f = points[0].fields;
        CHECK(f.size() == 8);
        CHECK(f.at("message").s == "m");
        CHECK(f.at("field_message").i == 1);
        CHECK(f.at("field_message_2").i == 2);
        CHECK(f.at("field_message_3").s == "m2");
        std::set<std::int64_t> ints;
        for (const auto& [key, value] : f) {
            if (key.rfind("a", 0) == 0) {
                ints.insert(value.i);
            }
        }
        CHECK(ints == std::set<std::int64_t>{3, 4, 5, 6});
    }

    TEST_CASE("line protocol - metric records are written as exactly their point") {
        line_encoder encoder(options());
        const json metric{{spdlog_ext::metric_field,
                           {{"measurement", "http requests"},
                            {"tags", {{"route", "/pay"}, {"code", "200"}, {"empty", ""}}},
                            {"fields", {{"count", 1}, {"latency_ms", 12.5}}}}}};
        const json all_nan{
            {spdlog_ext::metric_field,
             {{"measurement", "m"}, {"tags", json::object()}, {"fields", {{"x", std::nan("")}}}}}};
        const std::vector<spdlog_ext::record> records = {make_record("metric ...", metric),
                                                         make_record("metric ...", all_nan)};
        std::string body;
        std::vector<std::size_t> skipped;
        CHECK(encoder.encode({records.data(), records.size()}, body, 0, 0, &skipped) == 1);
        CHECK(skipped == std::vector<std::size_t>{1});
        const auto parsed = test::lp::parse(body, true);
        REQUIRE(parsed.points.size() == 1);
        const auto& p = parsed.points[0];
        CHECK(p.measurement == "http requests");
        CHECK(p.tags ==
              std::vector<std::pair<std::string, std::string>>{{"code", "200"}, {"route", "/pay"}});
        CHECK(p.fields.size() == 2);
        CHECK(p.fields.at("count").i == 1);
        CHECK(p.fields.at("latency_ms").f == 12.5);
    }

    TEST_CASE("line protocol - level counts are cumulative per interval and idempotent") {
        spdlog_ext::detail::level_counts level_counts(10'000'000'000, "log_counts", "web-1",
                                                      "shop");  // 10 s
        // One write as the backend does it: begin, tally, lines; then commit or roll back.
        const auto counts = [&](const std::vector<spdlog_ext::record>& records) {
            level_counts.begin();
            level_counts.tally({records.data(), records.size()});
            std::string body;
            const std::size_t lines = level_counts.append_lines(body);
            CHECK(lines == static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')));
            const auto parsed = test::lp::parse(body, true);
            CHECK(parsed.errors.empty());
            std::map<std::string, std::int64_t> out;
            for (const auto& p : parsed.points) {
                CHECK(p.measurement == "log_counts");
                CHECK(tag(p, "host") == "web-1");
                CHECK(tag(p, "service") == "shop");
                out[tag(p, "level") + "/" + tag(p, "logger")] = p.fields.at("count").i;
            }
            return out;
        };
        std::vector<spdlog_ext::record> first = {
            make_record("a", nullptr, t0, spdlog::level::err),
            make_record("b", nullptr, t0 + 1s, spdlog::level::err),
            make_record("c", nullptr, t0 + 2s, spdlog::level::info, "db"),
            make_record(
                "a metric is not a log",
                json{{spdlog_ext::metric_field, {{"measurement", "m"}, {"fields", {{"x", 1}}}}}})};
        auto c1 = counts(first);
        CHECK(c1["error/app"] == 2);
        CHECK(c1["info/db"] == 1);
        CHECK(c1.count("info/app") == 0);
        level_counts.rollback();  // not delivered: counted again on the retry, not twice
        c1 = counts(first);
        CHECK(c1["error/app"] == 2);
        level_counts.commit();
        const auto c2 = counts({make_record("d", nullptr, t0 + 3s, spdlog::level::err)});
        CHECK(c2.at("error/app") == 3);   // the whole interval so far
        CHECK(c2.count("info/db") == 0);  // untouched intervals are not rewritten
    }

    TEST_CASE("v2 write API - token org bucket precision and gzip validated") {
        test::influx_v2_options server_options;
        server_options.expect_gzip = true;
        test::fake_influx_v2 server(server_options);
        influx_fixture fx;
        auto cfg = fx.config(server);
        cfg.gzip = true;
        cfg.tag_fields = {"tenant"};
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("app", sink);
        for (int i = 0; i < 3000; ++i) {
            spdlog_ext::log(logger, spdlog::level::info,
                            {{"tenant", "t" + std::to_string(i % 3)}, {"seq", i}}, "record {}", i);
        }
        const auto same_time = spdlog::log_clock::now();
        for (int i = 0; i < 500; ++i) {
            logger.log(same_time, spdlog::source_loc{}, spdlog::level::warn, "burst");
        }
        spdlog_ext::record_metric(logger, "queue", {{"name", "orders"}}, {{"depth", 17}});
        REQUIRE(sink->flush_for(5s));
        check_no_violations(server);
        const auto points = server.points();
        CHECK(points.size() == 3501);
        std::set<std::int64_t> seqs;
        std::size_t bursts = 0;
        for (const auto& p : points) {
            if (p.fields.count("seq")) {
                seqs.insert(p.fields.at("seq").i);
                CHECK(tag(p, "tenant") == "t" + std::to_string(p.fields.at("seq").i % 3));
            }
            bursts += p.fields.count("message") && p.fields.at("message").s == "burst" ? 1 : 0;
        }
        CHECK(seqs.size() == 3000);
        CHECK(bursts == 500);
        const auto s = sink->stats();
        CHECK(s.delivered == 3501);
        check_accounting(s, 3501);
        CHECK(s.backend["timestamps_shifted"].get<std::uint64_t>() >= 499);
    }

    TEST_CASE("422 partial write - refused points to the fallback with the reason - rest written") {
        test::fake_influx_v2 server;
        server.set_faults(reject_poisoned);
        influx_fixture fx;
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(fx.config(server));
        spdlog::logger logger("app", sink);
        for (int i = 0; i < 1000; ++i) {
            if (i % 250 == 7) {
                spdlog_ext::log(logger, spdlog::level::info, {{"poison", true}}, "bad {}", i);
            } else {
                logger.info("good {}", i);
            }
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(server);
        const auto written = messages_of(server.points());
        std::size_t good = 0;
        for (const auto& m : written) {
            good += m.rfind("good ", 0) == 0 ? 1 : 0;
            CHECK(m.rfind("bad ", 0) != 0);
        }
        CHECK(good == 996);
        const auto s = sink->stats();
        CHECK(s.delivered == 996);
        CHECK(s.fallback == 4);
        check_accounting(s, 1000);
        for (const auto& r : fx.fallback->records()) {
            CHECK(r.message.rfind("bad ", 0) == 0);
            CHECK(contains(r.fields.value("fallback_reason", ""), "partial write"));
        }
    }

    TEST_CASE("a refused point among same-time records leaves no duplicate and loses none") {
        // The server stores the good points of a partial write at once; the bisection that
        // follows must rewrite them at the same timestamps, not shift them onto each other.
        test::fake_influx_v2 server;
        server.set_faults(reject_poisoned);
        influx_fixture fx;
        auto cfg = fx.config(server);
        cfg.engine.batch_max_delay = 200ms;  // one batch
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("app", sink);
        const auto same = spdlog::log_clock::now();
        for (int i = 0; i < 40; ++i) {
            if (i == 3 || i == 17) {
                spdlog_ext::scoped_fields poison{{"poison", true}};
                logger.log(same, spdlog::source_loc{}, spdlog::level::info,
                           "bad " + std::to_string(i));
            } else {
                logger.log(same, spdlog::source_loc{}, spdlog::level::info,
                           "good " + std::to_string(i));
            }
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(server);  // includes: no point overwritten by another
        std::map<std::int64_t, std::string> by_time;
        for (const auto& p : server.points()) {
            by_time[*p.timestamp] = p.fields.at("message").s;
        }
        CHECK(by_time.size() == 38);  // one point per good record, each at its own time
        CHECK(messages_of(server.points()).size() == 38);
        const auto s = sink->stats();
        CHECK(s.delivered == 38);
        CHECK(s.fallback == 2);
        check_accounting(s, 40);
    }

    TEST_CASE("413 splits the batch until each request fits") {
        test::influx_v2_options server_options;
        server_options.max_body_bytes = 20000;
        test::fake_influx_v2 server(server_options);
        influx_fixture fx;
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(fx.config(server));
        spdlog::logger logger("app", sink);
        for (int i = 0; i < 2000; ++i) {
            logger.info("record {} {}", i, std::string(40, 'x'));
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(server);
        CHECK(messages_of(server.points()).size() == 2000);
        bool saw_413 = false;
        for (const auto& r : server.requests()) {
            saw_413 = saw_413 || r.status == 413;
        }
        CHECK(saw_413);
        check_accounting(sink->stats(), 2000);
        CHECK(sink->stats().delivered == 2000);
    }

    TEST_CASE("429 and 503 with Retry-After - the next write waits") {
        test::fake_influx_v2 server;
        server.set_faults([](const test::influx_request& r, const std::vector<test::lp::point>&) {
            if (r.index == 0) {
                return test::influx_fault::answer(429, "1");
            }
            if (r.index == 1) {
                return test::influx_fault::answer(503, "1");
            }
            return test::influx_fault{};
        });
        influx_fixture fx;
        auto cfg = fx.config(server);
        cfg.engine.retry_max_delay = 2s;  // a server's delay stands up to this
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("app", sink);
        logger.error("must arrive");
        REQUIRE(sink->flush_for(10s));
        const auto requests = server.requests();
        REQUIRE(requests.size() == 3);
        CHECK(requests[1].arrived - requests[0].arrived >= 990ms);
        CHECK(requests[2].arrived - requests[1].arrived >= 990ms);
        check_no_violations(server);
        CHECK(messages_of(server.points()) == std::set<std::string>{"must arrive"});
        check_accounting(sink->stats(), 1);
    }

    TEST_CASE("level counts - a write refused with 503 counts its records once on the retry") {
        // The backend commits a write's level counts only once the server took it.
        test::fake_influx_v2 server;
        server.set_faults([](const test::influx_request& r, const std::vector<test::lp::point>&) {
            return r.index == 0 ? test::influx_fault::answer(503) : test::influx_fault{};
        });
        influx_fixture fx;
        auto cfg = fx.config(server);
        cfg.level_counts_interval = std::chrono::hours(1);
        cfg.engine.batch_max_delay = 200ms;  // one batch
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("app", sink);
        const auto same = spdlog::log_clock::now();
        for (int i = 0; i < 10; ++i) {
            logger.log(same, spdlog::source_loc{}, spdlog::level::err, "e" + std::to_string(i));
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(server);
        REQUIRE(server.requests().size() >= 2);
        CHECK(server.requests()[0].status == 503);
        std::int64_t count = 0;
        for (const auto& p : server.points()) {
            if (p.measurement == "log_counts" && tag(p, "level") == "error") {
                count = std::max(count, p.fields.at("count").i);
            }
        }
        CHECK(count == 10);
        CHECK(messages_of(server.points()).size() == 10);
        check_accounting(sink->stats(), 10);
    }

    TEST_CASE("401 stops the sink with one error naming INFLUX_TOKEN - the token never shown") {
        test::fake_influx_v2 server;
        influx_fixture fx;
        auto cfg = fx.config(server);
        cfg.token = "wrong-secret-token";
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger("app", sink);
        for (int i = 0; i < 10; ++i) {
            logger.info("r {}", i);
        }
        REQUIRE(sink->flush_for(5s));
        logger.info("after");
        REQUIRE(sink->flush_for(5s));
        CHECK(server.auth_failures() == 1);
        const auto s = sink->stats();
        CHECK(s.disabled);
        CHECK(s.fallback == 11);
        check_accounting(s, 11);
        CHECK(contains(fx.errors->text(), "INFLUX_TOKEN"));
        CHECK_FALSE(contains(fx.errors->text(), "wrong-secret-token"));
        CHECK_FALSE(contains(s.to_json().dump(), "wrong-secret-token"));
        for (const auto& r : fx.fallback->records()) {
            CHECK_FALSE(contains(r.fields.dump(), "wrong-secret-token"));
        }
    }

    TEST_CASE("configuration - INFLUX_* variables choose the API and name what is missing") {
        test::env_guard env{{"INFLUX_HOST", nullptr},          {"INFLUX_TOKEN", nullptr},
                            {"INFLUX_ORG", nullptr},           {"INFLUX_BUCKET", nullptr},
                            {"INFLUX_DATABASE", nullptr},      {"INFLUX_USERNAME", nullptr},
                            {"INFLUX_PASSWORD", nullptr},      {"LOG_INFLUX_API", nullptr},
                            {"LOG_INFLUX_TAG_FIELDS", nullptr}};
        const auto variable_of = [] {
            try {
                spdlog_ext::influx_config::from_env();
            } catch (const spdlog_ext::config_error& e) {
                return e.variable();
            }
            return std::string("<no error>");
        };
        CHECK(variable_of() == "INFLUX_HOST");
        test::env_guard host{{"INFLUX_HOST", "https://influx.local:8086/"}};
        CHECK(variable_of() == "INFLUX_BUCKET");  // neither v1 nor v2 settings
        {
            test::env_guard v2{{"INFLUX_TOKEN", "tok"}, {"INFLUX_ORG", "my org"}};
            CHECK(variable_of() == "INFLUX_BUCKET");
            test::env_guard bucket{{"INFLUX_BUCKET", "logs&x"},
                                   {"LOG_INFLUX_TAG_FIELDS", " region , tenant,"}};
            const auto cfg = spdlog_ext::influx_config::from_env();
            CHECK(cfg.api == spdlog_ext::influx_api::v2);
            CHECK(
                cfg.write_url() ==
                "https://influx.local:8086/api/v2/write?org=my%20org&bucket=logs%26x&precision=ns");
            CHECK(cfg.tag_fields == std::vector<std::string>{"region", "tenant"});
        }
        {
            test::env_guard v1{{"INFLUX_DATABASE", "logs"}, {"INFLUX_PASSWORD", "pw"}};
            CHECK(variable_of() == "INFLUX_USERNAME");
            test::env_guard user{{"INFLUX_USERNAME", "u"}};
            const auto cfg = spdlog_ext::influx_config::from_env();
            CHECK(cfg.api == spdlog_ext::influx_api::v1);
            CHECK(cfg.write_url() == "https://influx.local:8086/write?db=logs&precision=ns");
            test::env_guard forced{{"LOG_INFLUX_API", "v2"}};
            CHECK(variable_of() == "INFLUX_TOKEN");
        }
    }
}
