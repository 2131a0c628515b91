#include "cli_parse.h"

#include <cctype>
#include <cstdint>
#include <ctime>

namespace spdlog_ext_cli {

using spdlog_ext::log_time;

namespace {

std::string lower(std::string text) {
    for (char& c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
}

// Reads exactly `digits` decimal digits at `pos`; false when they are not there.
bool read_number(const std::string& text, std::size_t& pos, std::size_t digits, int& out) {
    if (pos + digits > text.size()) {
        return false;
    }
    int value = 0;
    for (std::size_t i = 0; i < digits; ++i) {
        const char c = text[pos + i];
        if (c < '0' || c > '9') {
            return false;
        }
        value = value * 10 + (c - '0');
    }
    pos += digits;
    out = value;
    return true;
}

bool looks_like_duration(const std::string& text) {
    return !text.empty() && std::isdigit(static_cast<unsigned char>(text[0])) != 0 &&
           std::isalpha(static_cast<unsigned char>(text.back())) != 0 &&
           text.find('-') == std::string::npos && text.find(':') == std::string::npos;
}

}  // namespace

std::chrono::seconds parse_duration(const std::string& text, const std::string& flag) {
    const auto bad = [&] {
        return usage_error(flag + ": '" + text +
                           "' is not a duration (a whole number and a unit: 90s, 30m, 1h, 7d, 2w)");
    };
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
        ++digits;
    }
    if (digits == 0 || digits > 9 || digits == text.size()) {
        throw bad();
    }
    const std::int64_t n = std::stoll(text.substr(0, digits));
    const std::string unit = lower(text.substr(digits));
    std::int64_t scale = 0;
    if (unit == "s") {
        scale = 1;
    } else if (unit == "m" || unit == "min") {
        scale = 60;
    } else if (unit == "h") {
        scale = 3600;
    } else if (unit == "d") {
        scale = 86400;
    } else if (unit == "w") {
        scale = 7 * 86400;
    } else {
        throw bad();
    }
    return std::chrono::seconds(n * scale);
}

log_time parse_time(const std::string& text, const std::string& flag, bool utc, log_time now) {
    if (lower(text) == "now") {
        return now;
    }
    if (looks_like_duration(text)) {
        return now - parse_duration(text, flag);
    }
    const auto bad = [&] {
        return usage_error(flag + ": '" + text +
                           "' is neither a duration (1h, 30m, 7d) nor an ISO-8601 time "
                           "(2026-11-28, 2026-11-28T14:03:07, 2026-11-28 14:03:07.123456+01:00)");
    };
    std::tm tm{};
    std::size_t pos = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    std::int64_t micros = 0;
    if (!read_number(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
        !read_number(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
        !read_number(text, pos, 2, day)) {
        throw bad();
    }
    if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
        ++pos;
        if (!read_number(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
            !read_number(text, pos, 2, minute)) {
            throw bad();
        }
        if (pos < text.size() && text[pos] == ':') {
            ++pos;
            if (!read_number(text, pos, 2, second)) {
                throw bad();
            }
            if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
                ++pos;
                std::int64_t scale = 100000;
                const std::size_t start = pos;
                while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
                    micros += (text[pos] - '0') * scale;
                    scale /= 10;
                    ++pos;
                }
                if (pos == start) {
                    throw bad();
                }
            }
        }
    }
    bool has_offset = false;
    int offset_seconds = 0;
    if (pos < text.size()) {
        if (text[pos] == 'Z' || text[pos] == 'z') {
            has_offset = true;
            ++pos;
        } else if (text[pos] == '+' || text[pos] == '-') {
            const int sign = text[pos++] == '-' ? -1 : 1;
            int oh = 0, om = 0;
            if (!read_number(text, pos, 2, oh)) {
                throw bad();
            }
            if (pos < text.size() && text[pos] == ':') {
                ++pos;
            }
            if (pos < text.size() && !read_number(text, pos, 2, om)) {
                throw bad();
            }
            has_offset = true;
            offset_seconds = sign * (oh * 3600 + om * 60);
        }
    }
    if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        minute > 59 || second > 60) {
        throw bad();
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    tm.tm_isdst = -1;
    std::time_t seconds = 0;
    if (has_offset || utc) {
        seconds = timegm(&tm) - offset_seconds;
    } else {
        seconds = std::mktime(&tm);
        if (seconds == static_cast<std::time_t>(-1)) {
            throw bad();
        }
    }
    return log_time(std::chrono::seconds(seconds)) + std::chrono::microseconds(micros);
}

spdlog::level::level_enum parse_level(const std::string& text, const std::string& flag) {
    const std::string name = lower(text);
    using spdlog::level::level_enum;
    if (name == "trace")
        return level_enum::trace;
    if (name == "debug")
        return level_enum::debug;
    if (name == "info")
        return level_enum::info;
    if (name == "warn" || name == "warning")
        return level_enum::warn;
    if (name == "error" || name == "err")
        return level_enum::err;
    if (name == "critical" || name == "crit")
        return level_enum::critical;
    throw usage_error(flag + ": '" + text +
                      "' is not a level (trace, debug, info, warn, error, critical)");
}

nlohmann::json parse_field(const std::string& text, const std::string& flag) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw usage_error(flag + ": '" + text + "' is not key=value (e.g. user_id=7)");
    }
    const std::string key = text.substr(0, eq);
    const std::string raw = text.substr(eq + 1);
    nlohmann::json value = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        value = raw;
    }
    // "a.b.c" nests, innermost first.
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        const auto dot = key.find('.', start);
        parts.push_back(key.substr(start, dot - start));
        if (dot == std::string::npos) {
            break;
        }
        start = dot + 1;
    }
    for (const auto& part : parts) {
        if (part.empty()) {
            throw usage_error(flag + ": '" + key + "' has an empty key part");
        }
    }
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        nlohmann::json wrapped = nlohmann::json::object();
        wrapped[*it] = std::move(value);
        value = std::move(wrapped);
    }
    return value;
}

spdlog_ext::log_filter make_filter(const filter_args& args, bool utc) {
    spdlog_ext::log_filter filter;
    const log_time now =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    if (!args.since.empty()) {
        filter.since = parse_time(args.since, "--since", utc, now);
    }
    if (!args.until.empty()) {
        filter.until = parse_time(args.until, "--until", utc, now);
    }
    if (!args.level.empty()) {
        filter.min_level = parse_level(args.level, "--level");
    }
    for (const auto& name : args.levels) {
        filter.levels.push_back(parse_level(name, "--levels"));
    }
    filter.loggers = args.loggers;
    filter.hosts = args.hosts;
    filter.search = args.search;
    for (const auto& field : args.fields) {
        filter.fields.push_back(parse_field(field, "--field"));
    }
    if (args.has_exception) {
        filter.has_exception = true;
    }
    return filter;
}

int exit_code_of(const spdlog_ext::store_error& e) {
    using kind = spdlog_ext::store_error::kind;
    switch (e.what_kind()) {
        case kind::config:
            return exit_config;
        case kind::connection:
            return exit_connection;
        case kind::missing_table:
            return exit_missing_table;
        case kind::bad_cursor:
        case kind::bad_filter:
        case kind::bad_level_spec:
            return exit_usage;
        case kind::server:
            break;
    }
    return exit_runtime;
}

}  // namespace spdlog_ext_cli
