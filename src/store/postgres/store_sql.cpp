#include "store/postgres/store_sql.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "core/civil_time.h"
#include "core/utf8.h"

namespace spdlog_ext::detail::store {

namespace {

constexpr spdlog::level::level_enum stored_levels[] = {
    spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
    spdlog::level::warn,  spdlog::level::err,   spdlog::level::critical};
constexpr const char* stored_names[] = {"TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};

std::string param(sql_params& params, std::string value, const char* cast) {
    params.emplace_back(std::move(value));
    return "$" + std::to_string(params.size()) + cast;
}

std::string checked_timestamp(log_time t, const char* which) {
    const std::string text = format_timestamp(t);
    if (!parse_timestamp(text)) {
        throw store_error(store_error::kind::bad_filter,
                          std::string("filter: ") + which + " is outside years 1..9999");
    }
    return text;
}

}  // namespace

std::string format_timestamp(log_time t) {
    const std::int64_t us = t.time_since_epoch().count();
    std::int64_t secs = us / 1000000;
    std::int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    const civil_date c = civil_from_days(days);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                  static_cast<long long>(c.year), c.month, c.day,
                  static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                  static_cast<long long>(rem % 60), static_cast<long long>(frac));
    return buf;
}

std::optional<log_time> parse_timestamp(std::string_view s) {
    // YYYY-MM-DDTHH:MM:SS.uuuuuuZ
    if (s.size() != 27)
        return std::nullopt;
    const auto digits = [&](std::size_t at, std::size_t n, unsigned& out) {
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            out = out * 10 + static_cast<unsigned>(s[i] - '0');
        }
        return true;
    };
    unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, us = 0;
    if (!digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
        s[10] != 'T' || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' ||
        !digits(17, 2, se) || s[19] != '.' || !digits(20, 6, us) || s[26] != 'Z') {
        return std::nullopt;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
        return std::nullopt;
    static constexpr unsigned month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap))
        return std::nullopt;
    const std::int64_t secs =
        days_from_civil(y, mo, d) * 86400 + std::int64_t{h} * 3600 + mi * 60 + se;
    return log_time(std::chrono::microseconds(secs * 1000000 + us));
}

const char* level_name(spdlog::level::level_enum level) {
    for (std::size_t i = 0; i < 6; ++i) {
        if (stored_levels[i] == level)
            return stored_names[i];
    }
    return "CRITICAL";  // off: the sink stores it as critical
}

std::optional<spdlog::level::level_enum> level_from_name(std::string_view name) {
    for (std::size_t i = 0; i < 6; ++i) {
        if (name == stored_names[i])
            return stored_levels[i];
    }
    return std::nullopt;
}

std::vector<spdlog::level::level_enum> effective_levels(const log_filter& filter) {
    std::vector<spdlog::level::level_enum> out;
    for (const auto level : stored_levels) {
        const bool in = !filter.levels.empty()
                            ? std::find(filter.levels.begin(), filter.levels.end(), level) !=
                                  filter.levels.end()
                            : (!filter.min_level || level >= *filter.min_level);
        if (in)
            out.push_back(level);
    }
    return out;
}

std::string clean_text(std::string_view text) {
    return utf8::sanitize(text, utf8::nul_policy::replace);
}

nlohmann::json clean_json(const nlohmann::json& value) {
    if (value.is_string())
        return clean_text(value.get_ref<const std::string&>());
    if (value.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& v : value)
            out.push_back(clean_json(v));
        return out;
    }
    if (value.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (auto it = value.begin(); it != value.end(); ++it)
            out[clean_text(it.key())] = clean_json(it.value());
        return out;
    }
    return value;
}

std::string like_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\\' || c == '%' || c == '_')
            out += '\\';
        out += c;
    }
    return out;
}

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ',';
        out += '"';
        for (const char c : items[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

namespace {

// A column name (validated by the sink's rules: no NUL, valid UTF-8) as a quoted identifier and
// as an E'' string literal (right whatever standard_conforming_strings says).
std::string quoted_identifier(const std::string& name) {
    std::string out = "\"";
    for (const char c : name) {
        out += c;
        if (c == '"')
            out += '"';
    }
    return out + "\"";
}

std::string escaped_literal(const std::string& text) {
    std::string out = "E'";
    for (const char c : text) {
        if (c == '\'' || c == '\\')
            out += c;
        out += c;
    }
    return out + "'";
}

// {"name": value} of a promoted column, '{}' when it is NULL.
std::string promoted_object_sql(const postgres_column& column) {
    const std::string name = quoted_identifier(column.name);
    return "CASE WHEN " + name + " IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(" +
           escaped_literal(column.name) + ", " + name + ") END";
}

}  // namespace

std::string merged_extra_sql(const std::vector<postgres_column>& promoted) {
    if (promoted.empty())
        return "extra_data";
    std::string merged = "coalesce(extra_data, '{}'::jsonb)";
    for (const auto& column : promoted)
        merged += " || " + promoted_object_sql(column);
    return "nullif(" + merged + ", '{}'::jsonb)";
}

std::string select_columns(const std::vector<postgres_column>& promoted) {
    return "id, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), level, "
           "logger_name, message, exception, hostname, process_id, thread_id, thread_name, "
           "pathname, lineno, function_name, " +
           merged_extra_sql(promoted) + "::text";
}

std::string filter_sql(const log_filter& filter, sql_params& params,
                       const std::vector<postgres_column>& promoted) {
    std::vector<std::string> terms;
    if (filter.since) {
        terms.push_back("timestamp >= " +
                        param(params, checked_timestamp(*filter.since, "since"), "::timestamptz"));
    }
    if (filter.until) {
        terms.push_back("timestamp < " +
                        param(params, checked_timestamp(*filter.until, "until"), "::timestamptz"));
    }
    if (!filter.levels.empty() || filter.min_level) {
        const auto levels = effective_levels(filter);
        if (levels.size() < 6) {
            std::vector<std::string> names;
            for (const auto level : levels)
                names.emplace_back(level_name(level));
            terms.push_back("level = ANY(" + param(params, text_array(names), "::text[]") + ")");
        }
    }
    if (!filter.loggers.empty()) {
        std::vector<std::string> exact;
        std::vector<std::string> alternatives;
        for (const auto& name : filter.loggers) {
            const std::string clean = clean_text(name);
            if (clean.size() >= 2 && clean.compare(clean.size() - 2, 2, ".*") == 0) {
                alternatives.push_back(
                    "logger_name LIKE " +
                    param(params,
                          like_escape(std::string_view(clean).substr(0, clean.size() - 1)) + "%",
                          "") +
                    " ESCAPE '\\'");
            } else {
                exact.push_back(clean);
            }
        }
        if (!exact.empty()) {
            alternatives.insert(
                alternatives.begin(),
                "logger_name = ANY(" + param(params, text_array(exact), "::text[]") + ")");
        }
        std::string any;
        for (const auto& a : alternatives)
            any += (any.empty() ? "" : " OR ") + a;
        terms.push_back(alternatives.size() == 1 ? any : "(" + any + ")");
    }
    if (!filter.hosts.empty()) {
        std::vector<std::string> hosts;
        for (const auto& h : filter.hosts)
            hosts.push_back(clean_text(h));
        terms.push_back("hostname = ANY(" + param(params, text_array(hosts), "::text[]") + ")");
    }
    if (!filter.search.empty()) {
        const std::string p = param(params, "%" + like_escape(clean_text(filter.search)) + "%", "");
        terms.push_back("(message ILIKE " + p + " ESCAPE '\\' OR exception ILIKE " + p +
                        " ESCAPE '\\')");
    }
    for (const auto& field : filter.fields) {
        if (!field.is_object()) {
            throw store_error(
                store_error::kind::bad_filter,
                "filter: a field predicate must be a JSON object, e.g. {\"user_id\": 7}; got " +
                    field.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
        if (field.empty())
            continue;  // {} constrains nothing
        const nlohmann::json clean = clean_json(field);
        // A promoted key is looked up in its column or in extra_data (a value that did not fit
        // the column stayed there); the rest of the object in extra_data as before.
        nlohmann::json rest = nlohmann::json::object();
        for (const auto& item : clean.items()) {
            const auto column =
                std::find_if(promoted.begin(), promoted.end(),
                             [&](const postgres_column& c) { return c.name == item.key(); });
            if (column == promoted.end()) {
                rest[item.key()] = item.value();
                continue;
            }
            const nlohmann::json one = {{item.key(), item.value()}};
            const std::string p =
                param(params, one.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "::jsonb");
            terms.push_back("((" + promoted_object_sql(*column) + ") @> " + p +
                            " OR extra_data @> " + p + ")");
        }
        if (!rest.empty()) {
            terms.push_back(
                "extra_data @> " +
                param(params, rest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                      "::jsonb"));
        }
    }
    if (filter.has_exception) {
        terms.push_back(*filter.has_exception ? "exception IS NOT NULL" : "exception IS NULL");
    }
    if (terms.empty())
        return "TRUE";
    std::string out;
    for (const auto& t : terms)
        out += (out.empty() ? "" : " AND ") + t;
    return out;
}

}  // namespace spdlog_ext::detail::store
