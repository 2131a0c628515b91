// log_viewer: query parameters (?since=1h&level=warn&field=user_id=7...) turned into
// postgres_log_store filters. Malformed values throw bad_request, which becomes HTTP 400.
#pragma once

#include <spdlog_ext/postgres_log_store.h>

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

namespace log_viewer {

class bad_request : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// "90s", "30m", "1h", "7d", "2w".
inline std::chrono::seconds parse_duration(const std::string& text, const std::string& name) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
        ++digits;
    }
    const std::string unit = digits < text.size() ? text.substr(digits) : std::string();
    const long long scale = unit == "s"   ? 1
                            : unit == "m" ? 60
                            : unit == "h" ? 3600
                            : unit == "d" ? 86400
                            : unit == "w" ? 7 * 86400
                                          : 0;
    if (digits == 0 || digits > 9 || scale == 0) {
        throw bad_request(name + ": '" + text + "' is not a duration (90s, 30m, 1h, 7d, 2w)");
    }
    return std::chrono::seconds(std::stoll(text.substr(0, digits)) * scale);
}

// A duration back from now ("1h"), or an RFC 3339 / ISO-8601 UTC time such as
// 2026-11-28T14:03:07Z or 2026-11-28T14:03:07.123456+01:00 (no offset: UTC).
inline spdlog_ext::log_time parse_time(const std::string& text, const std::string& name) {
    const auto now =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    if (!text.empty() && text.find('-') == std::string::npos &&
        std::isalpha(static_cast<unsigned char>(text.back())) != 0) {
        return now - parse_duration(text, name);
    }
    std::tm tm{};
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
    const int fields = std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed);
    if (fields != 3) {
        throw bad_request(name + ": '" + text + "' is neither a duration nor an ISO-8601 time");
    }
    std::size_t pos = static_cast<std::size_t>(consumed);
    long long micros = 0;
    int offset = 0;
    if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
        int n = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &hour, &minute, &n) != 2) {
            throw bad_request(name + ": '" + text + "' has a malformed time of day");
        }
        pos += 1 + static_cast<std::size_t>(n);
        if (pos < text.size() && text[pos] == ':') {
            if (std::sscanf(text.c_str() + pos + 1, "%2d%n", &second, &n) != 1) {
                throw bad_request(name + ": '" + text + "' has malformed seconds");
            }
            pos += 1 + static_cast<std::size_t>(n);
        }
        if (pos < text.size() && text[pos] == '.') {
            long long scale = 100000;
            for (++pos; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]));
                 ++pos) {
                micros += (text[pos] - '0') * scale;
                scale /= 10;
            }
        }
    }
    if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
        ++pos;
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        int oh = 0, om = 0, n = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &n) != 2) {
            throw bad_request(name + ": '" + text + "' has a malformed offset (+01:00)");
        }
        offset = (text[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        pos += 1 + static_cast<std::size_t>(n);
    }
    if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
        minute > 59 || second > 60) {
        throw bad_request(name + ": '" + text + "' is not a valid ISO-8601 time");
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return spdlog_ext::log_time(std::chrono::seconds(timegm(&tm) - offset)) +
           std::chrono::microseconds(micros);
}

inline spdlog::level::level_enum parse_level(const std::string& text, const std::string& name) {
    using spdlog::level::level_enum;
    if (text == "trace")
        return level_enum::trace;
    if (text == "debug")
        return level_enum::debug;
    if (text == "info")
        return level_enum::info;
    if (text == "warn" || text == "warning")
        return level_enum::warn;
    if (text == "error" || text == "err")
        return level_enum::err;
    if (text == "critical")
        return level_enum::critical;
    throw bad_request(name + ": '" + text + "' is not a level (trace ... critical)");
}

// "key=value": the value as JSON when it parses, else as a string.
inline nlohmann::json parse_field(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw bad_request("field: '" + text + "' is not key=value");
    }
    nlohmann::json value = nlohmann::json::parse(text.substr(eq + 1), nullptr, false);
    if (value.is_discarded()) {
        value = text.substr(eq + 1);
    }
    return nlohmann::json{{text.substr(0, eq), value}};
}

inline std::vector<std::string> values_of(const httplib::Request& req, const char* key) {
    std::vector<std::string> out;
    const auto n = req.get_param_value_count(key);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string value = req.get_param_value(key, i);
        if (!value.empty()) {
            out.push_back(value);
        }
    }
    return out;
}

inline std::string value_of(const httplib::Request& req, const char* key) {
    return req.has_param(key) ? req.get_param_value(key) : std::string();
}

inline long long number_of(const httplib::Request& req, const char* key, long long fallback) {
    const std::string text = value_of(req, key);
    if (text.empty()) {
        return fallback;
    }
    std::size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size()) {
        throw bad_request(std::string(key) + ": '" + text + "' is not a whole number");
    }
    return n;
}

// since, until, level, levels (comma-separated), logger (repeatable, "db.*" prefixes), host
// (repeatable), search, field=key=value (repeatable), has_exception=1.
inline spdlog_ext::log_filter filter_of(const httplib::Request& req) {
    spdlog_ext::log_filter filter;
    if (const auto since = value_of(req, "since"); !since.empty()) {
        filter.since = parse_time(since, "since");
    }
    if (const auto until = value_of(req, "until"); !until.empty()) {
        filter.until = parse_time(until, "until");
    }
    if (const auto level = value_of(req, "level"); !level.empty()) {
        filter.min_level = parse_level(level, "level");
    }
    const std::string levels = value_of(req, "levels");
    for (std::size_t start = 0; start < levels.size();) {
        const auto comma = levels.find(',', start);
        const auto name = levels.substr(start, comma - start);
        if (!name.empty()) {
            filter.levels.push_back(parse_level(name, "levels"));
        }
        start = comma == std::string::npos ? levels.size() : comma + 1;
    }
    filter.loggers = values_of(req, "logger");
    filter.hosts = values_of(req, "host");
    filter.search = value_of(req, "search");
    for (const auto& field : values_of(req, "field")) {
        filter.fields.push_back(parse_field(field));
    }
    const std::string has_exception = value_of(req, "has_exception");
    if (has_exception == "1" || has_exception == "true") {
        filter.has_exception = true;
    }
    return filter;
}

}  // namespace log_viewer
