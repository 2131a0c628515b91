#include <doctest/doctest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/details/os.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/civil_time.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/record.h"

using spdlog_ext::json_formatter;
using spdlog_ext::json_time_zone;

namespace {

using spdlog_ext::detail::days_from_civil;

// A UTC instant.
spdlog::log_clock::time_point utc_time(int y, unsigned mo, unsigned d, int h, int mi, int s,
                                       std::int64_t us = 0) {
    const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return spdlog::log_clock::time_point(std::chrono::duration_cast<spdlog::log_clock::duration>(
        std::chrono::microseconds(secs * 1000000 + us)));
}

std::int64_t micros_of(spdlog::log_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

// True when `s` matches ^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}:\d{2}$ (a regex
// spelled out by hand: std::regex trips GCC 12's -Wmaybe-uninitialized under the sanitizers).
bool matches_rfc3339(const std::string& s) {
    static const std::string shape = "dddd-dd-ddTdd:dd:dd.dddddd+dd:dd";
    if (s.size() != shape.size()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const char want = shape[i];
        const bool ok = want == 'd'   ? (c >= '0' && c <= '9')
                        : want == '+' ? (c == '+' || c == '-')
                                      : c == want;
        if (!ok) {
            return false;
        }
    }
    return true;
}

// Parses an RFC 3339 timestamp as written by json_formatter into microseconds since the epoch,
// and its offset in minutes.
bool parse_rfc3339(const std::string& s, std::int64_t& micros, int& offset_minutes) {
    if (!matches_rfc3339(s)) {
        return false;
    }
    auto num = [&](std::size_t pos, std::size_t len) { return std::stoll(s.substr(pos, len)); };
    const std::int64_t local = days_from_civil(num(0, 4), static_cast<unsigned>(num(5, 2)),
                                               static_cast<unsigned>(num(8, 2))) *
                                   86400 +
                               num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2);
    offset_minutes = static_cast<int>((s[26] == '-' ? -1 : 1) * (num(27, 2) * 60 + num(30, 2)));
    micros = (local - offset_minutes * 60) * 1000000 + num(20, 6);
    return true;
}

std::string format_to_string(spdlog::formatter& f, const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t buf;
    f.format(msg, buf);
    return std::string(buf.data(), buf.size());
}

// One formatted line: checks the framing and that it is valid UTF-8 without raw control
// characters, then parses it.
nlohmann::json parse_line(const std::string& line) {
    REQUIRE(!line.empty());
    REQUIRE(line.back() == '\n');
    const std::string body = line.substr(0, line.size() - 1);
    CHECK(spdlog_ext::utf8::is_valid(body));
    for (char c : body) {
        CHECK(static_cast<unsigned char>(c) >= 0x20);  // NUL, newlines, ... all escaped
    }
    return nlohmann::json::parse(body);
}

spdlog::details::log_msg make_msg(spdlog::string_view_t payload,
                                  spdlog::level::level_enum level = spdlog::level::info,
                                  spdlog::string_view_t logger = "test") {
    return spdlog::details::log_msg(utc_time(2026, 11, 21, 19, 37, 21, 123456),
                                    spdlog::source_loc{}, logger, level, payload);
}

// Sets TZ for the lifetime of the object (POSIX TZ strings need no tz database).
class tz_guard {
  public:
    explicit tz_guard(const char* tz) {
        const char* old = std::getenv("TZ");
        had_ = old != nullptr;
        if (had_) {
            old_ = old;
        }
        setenv("TZ", tz, 1);
        tzset();
    }
    ~tz_guard() {
        if (had_) {
            setenv("TZ", old_.c_str(), 1);
        } else {
            unsetenv("TZ");
        }
        tzset();
    }
    tz_guard(const tz_guard&) = delete;
    tz_guard& operator=(const tz_guard&) = delete;

  private:
    bool had_ = false;
    std::string old_;
};

// A logger writing JSON lines into a string.
struct json_logger {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> logger;

    explicit json_logger(json_time_zone zone = json_time_zone::utc) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
        sink->set_formatter(std::make_unique<json_formatter>(zone));
        logger = std::make_shared<spdlog::logger>("json", sink);
        logger->set_level(spdlog::level::trace);
    }

    std::vector<std::string> lines() const {
        std::vector<std::string> result;
        std::istringstream in(out.str());
        for (std::string line; std::getline(in, line);) {
            result.push_back(line + "\n");
        }
        return result;
    }

    nlohmann::json last() const {
        auto all = lines();
        REQUIRE(!all.empty());
        return parse_line(all.back());
    }
};

}  // namespace

TEST_SUITE("format") {
    TEST_CASE(
        "json_formatter: messages with NUL and control characters and quotes and emoji "
        "round-trip") {
        std::string all_controls;
        for (int c = 1; c < 0x20; ++c) {
            all_controls.push_back(static_cast<char>(c));
        }
        const std::vector<std::string> messages = {
            std::string("nul\0inside", 10),
            std::string("\0", 1),
            all_controls,
            "quotes \" and 'single' and \\ backslashes \\\\ and \\u0000 literal",
            "emoji \xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and \xE2\x82\xAC \xC3\xA9",
            "tab\tnewline\ncarriage\rformfeed\fbackspace\b",
            "{\"looks\": \"like json\"}",
            "\x7F del",
            "",
            std::string(5000, 'L'),
        };
        json_formatter f(json_time_zone::utc);
        for (const auto& m : messages) {
            CAPTURE(m);
            const auto line =
                format_to_string(f, make_msg(spdlog::string_view_t(m.data(), m.size())));
            CHECK(line.find('\n') == line.size() - 1);
            const auto j = parse_line(line);
            REQUIRE(j["message"].is_string());
            CHECK(j["message"].get<std::string>() == m);
        }
        // NUL is written as the \u0000 escape.
        const auto line = format_to_string(f, make_msg(spdlog::string_view_t("a\0b", 3)));
        CHECK(line.find("\"message\":\"a\\u0000b\"") != std::string::npos);
    }

    TEST_CASE("json_formatter: invalid UTF-8 becomes U+FFFD everywhere") {
        json_formatter f(json_time_zone::utc);
        const std::string bad_message =
            "bad \xC0\xAF end \xED\xA0\x80 \xF4\x90\x80\x80 trunc \xE2\x82";
        const std::string bad_logger = "log\xFFger";
        const auto msg = make_msg(spdlog::string_view_t(bad_message.data(), bad_message.size()),
                                  spdlog::level::info,
                                  spdlog::string_view_t(bad_logger.data(), bad_logger.size()));
        const auto j = parse_line(format_to_string(f, msg));
        const std::string r = "\xEF\xBF\xBD";
        CHECK(j["message"] ==
              "bad " + r + r + " end " + r + r + r + " " + r + r + r + r + " trunc " + r);
        CHECK(j["logger"] == "log" + r + "ger");
    }

    TEST_CASE("json_formatter: keys come in the documented order") {
        json_formatter f(json_time_zone::utc);
        spdlog_ext::scoped_fields fields{
            {"zeta", 1}, {"alpha", "a"}, {spdlog_ext::exception_field, "boom"}};
        auto msg = make_msg("ordered");
        msg.source = spdlog::source_loc{"main.cpp", 12, "main"};
        const auto line = format_to_string(f, msg);
        const auto j = nlohmann::ordered_json::parse(line);
        std::vector<std::string> keys;
        for (const auto& item : j.items()) {
            keys.push_back(item.key());
        }
        std::vector<std::string> expected = {"timestamp", "level", "logger", "message",
                                             "thread_id"};
        if (!spdlog_ext::current_thread_name().empty()) {
            expected.push_back("thread_name");
        }
        for (const char* k : {"pid", "host", "source", "exception", "fields"}) {
            expected.push_back(k);
        }
        CHECK(keys == expected);
        CHECK(j["fields"].size() == 2);
        CHECK(j["pid"] == spdlog_ext::process_id());
        CHECK(j["host"] == spdlog_ext::host_name());
        CHECK(j["level"] == "info");
        CHECK(j["logger"] == "test");
        CHECK(j["thread_id"].is_number_unsigned());
        CHECK(j["thread_id"].get<std::size_t>() == msg.thread_id);
    }

    TEST_CASE("json_formatter: level names are spdlog's") {
        json_formatter f(json_time_zone::utc);
        const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
            {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"},
            {spdlog::level::info, "info"},   {spdlog::level::warn, "warning"},
            {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"},
        };
        for (const auto& [level, name] : levels) {
            CHECK(parse_line(format_to_string(f, make_msg("x", level)))["level"] == name);
        }
    }

    TEST_CASE("json_formatter: timestamp is RFC 3339 with microseconds and equals the event time") {
        const std::vector<spdlog::log_clock::time_point> times = {
            utc_time(2026, 11, 21, 19, 37, 21, 123456),
            utc_time(2021, 1, 3, 0, 0, 0, 0),
            utc_time(2024, 2, 29, 23, 59, 59, 999999),
            utc_time(1999, 12, 31, 23, 59, 59, 1),
            spdlog::log_clock::now(),
        };
        for (auto zone : {json_time_zone::utc, json_time_zone::local}) {
            json_formatter f(zone);
            for (const auto& t : times) {
                auto msg = make_msg("t");
                msg.time = t;
                const auto j = parse_line(format_to_string(f, msg));
                const std::string ts = j["timestamp"];
                CAPTURE(ts);
                CHECK(matches_rfc3339(ts));
                std::int64_t micros = 0;
                int offset = 0;
                REQUIRE(parse_rfc3339(ts, micros, offset));
                CHECK(micros == micros_of(t));
                if (zone == json_time_zone::utc) {
                    CHECK(offset == 0);
                    CHECK(ts.substr(ts.size() - 6) == "+00:00");
                }
                CHECK(ts == spdlog_ext::format_rfc3339(t, zone));
            }
        }
    }

    TEST_CASE("format_rfc3339: exact strings in UTC") {
        CHECK(matches_rfc3339("2026-11-21T19:37:21.123456-01:30"));
        CHECK_FALSE(matches_rfc3339("2026-11-21T19:37:21.123+00:00"));
        CHECK_FALSE(matches_rfc3339("2026-11-21T19:37:21.123456Z"));
        CHECK_FALSE(matches_rfc3339("2026-11-21 19:37:21.123456+00:00"));
        CHECK(spdlog_ext::format_rfc3339(utc_time(2026, 11, 21, 19, 37, 21, 123456),
                                         json_time_zone::utc) ==
              "2026-11-21T19:37:21.123456+00:00");
        CHECK(spdlog_ext::format_rfc3339(utc_time(2000, 1, 1, 0, 0, 0, 7), json_time_zone::utc) ==
              "2000-01-01T00:00:00.000007+00:00");
        // Before the epoch the fraction still counts forward from the whole second.
        CHECK(spdlog_ext::format_rfc3339(utc_time(1970, 1, 1, 0, 0, 0, -500000),
                                         json_time_zone::utc) ==
              "1969-12-31T23:59:59.500000+00:00");
        // Sub-microsecond digits are truncated.
        const auto t = utc_time(2026, 1, 2, 3, 4, 5, 6) + std::chrono::nanoseconds(999);
        CHECK(spdlog_ext::format_rfc3339(t, json_time_zone::utc) ==
              "2026-01-02T03:04:05.000006+00:00");
    }

    TEST_CASE("json_formatter: local time uses the offset in effect at the event") {
        {
            tz_guard tz("CET-1CEST,M3.5.0,M10.5.0/3");
            json_formatter f(json_time_zone::local);
            auto winter = make_msg("w");
            winter.time = utc_time(2026, 1, 15, 12, 0, 0, 250000);
            auto summer = make_msg("s");
            summer.time = utc_time(2026, 7, 1, 12, 0, 0, 250000);
            CHECK(parse_line(format_to_string(f, winter))["timestamp"] ==
                  "2026-01-15T13:00:00.250000+01:00");
            CHECK(parse_line(format_to_string(f, summer))["timestamp"] ==
                  "2026-07-01T14:00:00.250000+02:00");
            // Across the end of summer time: 01:00 UTC on the last Sunday of October.
            CHECK(spdlog_ext::format_rfc3339(utc_time(2026, 10, 25, 0, 59, 59),
                                             json_time_zone::local) ==
                  "2026-10-25T02:59:59.000000+02:00");
            CHECK(spdlog_ext::format_rfc3339(utc_time(2026, 10, 25, 1, 0, 0),
                                             json_time_zone::local) ==
                  "2026-10-25T02:00:00.000000+01:00");
            // The UTC formatter ignores TZ.
            json_formatter u(json_time_zone::utc);
            CHECK(parse_line(format_to_string(u, summer))["timestamp"] ==
                  "2026-07-01T12:00:00.250000+00:00");
        }
        {
            tz_guard tz("<+0530>-5:30");
            CHECK(
                spdlog_ext::format_rfc3339(utc_time(2026, 3, 1, 20, 0, 0), json_time_zone::local) ==
                "2026-03-02T01:30:00.000000+05:30");
        }
        {
            tz_guard tz("<-0330>3:30");
            CHECK(
                spdlog_ext::format_rfc3339(utc_time(2026, 3, 1, 2, 0, 0), json_time_zone::local) ==
                "2026-02-28T22:30:00.000000-03:30");
        }
    }

    TEST_CASE("json_formatter: clone keeps the settings") {
        json_formatter f(json_time_zone::utc, "\r\n");
        CHECK(f.time_zone() == json_time_zone::utc);
        CHECK(f.eol() == "\r\n");
        auto copy = f.clone();
        const auto line = format_to_string(*copy, make_msg("cloned"));
        REQUIRE(line.size() > 2);
        CHECK(line.substr(line.size() - 2) == "\r\n");
        const auto j = nlohmann::json::parse(line);
        CHECK(j["timestamp"] == "2026-11-21T19:37:21.123456+00:00");

        json_formatter no_eol(json_time_zone::utc, "");
        const auto bare = format_to_string(no_eol, make_msg("bare"));
        CHECK(bare.back() == '}');
    }

    TEST_CASE("json_formatter: source location only when the call carries one") {
        json_logger jl;
        jl.logger->info("no location");
        auto j = jl.last();
        CHECK_FALSE(j.contains("source"));

        jl.logger->log(spdlog::source_loc{"src/app/main.cpp", 42, "run"}, spdlog::level::warn,
                       "with location");
        j = jl.last();
        REQUIRE(j.contains("source"));
        CHECK(j["source"]["file"] == "src/app/main.cpp");
        CHECK(j["source"]["line"] == 42);
        CHECK(j["source"]["line"].is_number_integer());
        CHECK(j["source"]["function"] == "run");
        CHECK(j["level"] == "warning");
        CHECK(j["message"] == "with location");
    }

    TEST_CASE("json_formatter: scoped fields are captured with their JSON types") {
        json_logger jl;
        jl.logger->info("before");
        CHECK_FALSE(jl.last().contains("fields"));
        {
            spdlog_ext::scoped_fields outer{
                {"user_id", 123},
                {"negative", -7},
                {"big", std::numeric_limits<std::uint64_t>::max()},
                {"ratio", 1.5},
                {"ok", true},
                {"nothing", nullptr},
                {"name", "ada"},
                {"obj", nlohmann::json::object({{"k", "v"}, {"inner", {{"x", 1}}}})},
                {"arr", nlohmann::json::array({1, "two", 3.5, false})},
                {"shadowed", "outer"},
            };
            spdlog_ext::scoped_fields inner{{"shadowed", "inner"}, {"bad\xFFkey", "bad\xC0value"}};
            jl.logger->info("user {} logged in", 123);
        }
        const auto j = jl.last();
        CHECK(j["message"] == "user 123 logged in");
        REQUIRE(j.contains("fields"));
        const auto& f = j["fields"];
        CHECK(f["user_id"].is_number_integer());
        CHECK(f["user_id"] == 123);
        CHECK(f["negative"] == -7);
        CHECK(f["big"].is_number_unsigned());
        CHECK(f["big"].get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
        CHECK(f["ratio"].is_number_float());
        CHECK(f["ratio"].get<double>() == 1.5);
        CHECK(f["ok"].is_boolean());
        CHECK(f["ok"] == true);
        CHECK(f["nothing"].is_null());
        CHECK(f["name"] == "ada");
        CHECK(f["obj"].is_object());
        CHECK(f["obj"]["k"] == "v");
        CHECK(f["obj"]["inner"]["x"] == 1);
        CHECK(f["arr"] == nlohmann::json::array({1, "two", 3.5, false}));
        CHECK(f["shadowed"] == "inner");
        CHECK(f["bad\xEF\xBF\xBDkey"] == "bad\xEF\xBF\xBDvalue");
        CHECK_FALSE(j.contains("exception"));

        jl.logger->info("after");
        CHECK_FALSE(jl.last().contains("fields"));
    }

    TEST_CASE("json_formatter: non-finite doubles become null and the line stays valid") {
        json_logger jl;
        spdlog_ext::scoped_fields f{{"nan", std::numeric_limits<double>::quiet_NaN()},
                                    {"inf", std::numeric_limits<double>::infinity()},
                                    {"tiny", 5e-324},
                                    {"whole", 2.0}};
        jl.logger->info("numbers");
        const auto j = jl.last();
        CHECK(j["fields"]["nan"].is_null());
        CHECK(j["fields"]["inf"].is_null());
        CHECK(j["fields"]["tiny"].get<double>() == 5e-324);
        CHECK(j["fields"]["whole"].is_number_float());
    }

    TEST_CASE("json_formatter: the exception field goes to the top level") {
        json_logger jl;
        spdlog_ext::log_exception(jl.logger, spdlog::level::err,
                                  std::runtime_error("disk \"full\"\nretry later"), "write failed");
        auto j = jl.last();
        CHECK(j["level"] == "error");
        CHECK(j["message"] == "write failed");
        CHECK(j["exception"] == "disk \"full\"\nretry later");
        CHECK_FALSE(j.contains("fields"));  // the exception was the only field

        {
            spdlog_ext::scoped_fields ctx{{"order", 42}};
            try {
                try {
                    throw std::runtime_error("inner");
                } catch (...) {
                    std::throw_with_nested(std::logic_error("outer"));
                }
            } catch (const std::exception& e) {
                spdlog_ext::log_exception(jl.logger, spdlog::level::critical, e, "nested {}", 1);
            }
        }
        j = jl.last();
        CHECK(j["exception"] == "outer\ncaused by: inner");
        REQUIRE(j.contains("fields"));
        CHECK(j["fields"] == nlohmann::json{{"order", 42}});

        // A non-string exception field is rendered as text.
        {
            spdlog_ext::scoped_fields odd{{spdlog_ext::exception_field, {{"code", 5}}}};
            jl.logger->warn("odd");
        }
        j = jl.last();
        CHECK(j["exception"].is_string());
        CHECK(nlohmann::json::parse(j["exception"].get<std::string>()) ==
              nlohmann::json{{"code", 5}});
    }

    TEST_CASE("json_formatter: per-call fields through spdlog_ext::log") {
        json_logger jl;
        spdlog_ext::log(jl.logger, spdlog::level::info, {{"order", 7}, {"late", true}},
                        "late by {} s", 3);
        const auto j = jl.last();
        CHECK(j["message"] == "late by 3 s");
        CHECK(j["fields"] == nlohmann::json{{"late", true}, {"order", 7}});
    }

    TEST_CASE("json_formatter: thread name of the logging thread and none for a foreign record") {
        std::string line;
        std::size_t tid = 0;
        std::thread worker([&] {
            spdlog_ext::set_thread_name("json-worker");
            json_formatter f(json_time_zone::utc);
            const auto msg = make_msg("from worker");
            tid = msg.thread_id;
            line = format_to_string(f, msg);
        });
        worker.join();
        auto j = parse_line(line);
        CHECK(j["thread_name"] == "json-worker");
        CHECK(j["thread_id"].get<std::size_t>() == tid);

        // A stored record formatted by another thread (as the engine worker does): its fields
        // come from the record_scope, its thread name is unknown here and left out.
        spdlog_ext::record r;
        r.time = utc_time(2026, 11, 21, 8, 0, 0);
        r.level = spdlog::level::debug;
        r.logger_name = "stored";
        r.message = "replayed";
        r.thread_id = spdlog::details::os::thread_id() + 1;
        r.fields = nlohmann::json{{"k", "v"}};
        json_formatter f(json_time_zone::utc);
        std::string replayed;
        {
            spdlog_ext::record_scope scope(r);
            replayed = format_to_string(f, r.to_log_msg());
        }
        j = parse_line(replayed);
        CHECK_FALSE(j.contains("thread_name"));
        CHECK(j["thread_id"].get<std::size_t>() == r.thread_id);
        CHECK(j["fields"] == nlohmann::json{{"k", "v"}});
        CHECK(j["logger"] == "stored");
        CHECK(j["level"] == "debug");
        CHECK(j["timestamp"] == "2026-11-21T08:00:00.000000+00:00");
    }

    TEST_CASE("json_formatter: many records through a logger and every line parses") {
        json_logger jl(json_time_zone::local);
        for (int i = 0; i < 200; ++i) {
            spdlog_ext::scoped_fields f{{"i", i}};
            jl.logger->info("record {} \xE2\x9C\x93", i);
        }
        const auto lines = jl.lines();
        REQUIRE(lines.size() == 200);
        for (int i = 0; i < 200; ++i) {
            const auto j = parse_line(lines[static_cast<std::size_t>(i)]);
            CHECK(j["fields"]["i"] == i);
            CHECK(j["message"] == "record " + std::to_string(i) + " \xE2\x9C\x93");
        }
    }

    TEST_CASE("%* pattern flag: nothing without fields + one separating space with them") {
        auto render = [](const std::string& pattern, auto&& log_it) {
            std::ostringstream out;
            auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
            sink->set_formatter(spdlog_ext::make_pattern_formatter(pattern));
            spdlog::logger logger("flag", sink);
            log_it(logger);
            std::string line = out.str();
            if (!line.empty() && line.back() == '\n') {
                line.pop_back();
            }
            return line;
        };
        auto plain = [](spdlog::logger& l) { l.info("msg"); };
        auto with_fields = [](spdlog::logger& l) {
            spdlog_ext::log(l, spdlog::level::info, {{"k", 1}}, "msg");
        };
        auto empty_scope = [](spdlog::logger& l) {
            spdlog_ext::scoped_fields none{};
            l.info("msg");
        };
        CHECK(render("%l|%v%*", plain) == "info|msg");
        CHECK(render("%l|%v%*", empty_scope) == "info|msg");
        CHECK(render("%l|%v%*|end", plain) == "info|msg|end");
        CHECK(render("%l|%v%*", with_fields) == R"(info|msg {"k":1})");
        CHECK(render("%l|%v %*", with_fields) == R"(info|msg {"k":1})");  // no double space
        CHECK(render("%*", with_fields) == R"({"k":1})");                 // no leading space
        CHECK(render("%* %v", with_fields) == R"({"k":1} msg)");
        CHECK(render("%*", plain) == "");
    }
}
