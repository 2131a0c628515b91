// env_options: LOG_<BACKEND>_<OPTION> variables read and parsed (booleans, sizes, durations,
// levels); apply_engine is in engine_options.cpp.
#include "spdlog_ext/env_options.h"

#include <cctype>
#include <cstdlib>
#include <limits>

#include "core/text.h"

namespace spdlog_ext {

namespace {
using detail::boolean_word;
using detail::lower;
using detail::trim;

// Splits "10MB" into 10 and "mb"; false when there is no leading number.
bool split_number(const std::string& text, unsigned long long& number, std::string& unit) {
    std::size_t i = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        ++i;
    }
    if (i == 0 || i > 18) {
        return false;
    }
    number = std::stoull(text.substr(0, i));
    unit = lower(trim(text.substr(i)));
    return true;
}

}  // namespace

std::optional<std::string> getenv_value(const std::string& name) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
        return std::nullopt;
    }
    return std::string(value);
}

env_options::env_options(std::string backend) : backend_(std::move(backend)) {
    prefix_ = "LOG_";
    for (char c : backend_) {
        prefix_ += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    prefix_ += '_';
}

std::string env_options::variable(std::string_view option) const {
    return prefix_ + std::string(option);
}

std::optional<std::string> env_options::raw(std::string_view option) const {
    looked_up_.insert(std::string(option));
    return getenv_value(variable(option));
}

void env_options::fail(std::string_view option, const std::string& problem) const {
    const std::string name = variable(option);
    throw config_error(name, name + ": " + problem);
}

std::string env_options::get_string(std::string_view option, std::string fallback_value) const {
    auto value = raw(option);
    return value ? *value : std::move(fallback_value);
}

bool env_options::get_bool(std::string_view option, bool fallback_value) const {
    auto value = raw(option);
    if (!value) {
        return fallback_value;
    }
    if (const auto b = boolean_word(lower(trim(*value)))) {
        return *b;
    }
    fail(option, "'" + *value + "' is not a boolean: use true or false");
}

std::size_t env_options::get_size(std::string_view option, std::size_t fallback_value) const {
    auto value = raw(option);
    if (!value) {
        return fallback_value;
    }
    unsigned long long n = 0;
    std::string unit;
    if (!split_number(trim(*value), n, unit) || !unit.empty()) {
        fail(option, "'" + *value + "' is not a whole number (e.g. 1000)");
    }
    return static_cast<std::size_t>(n);
}

std::size_t env_options::get_bytes(std::string_view option, std::size_t fallback_value) const {
    auto value = raw(option);
    if (!value) {
        return fallback_value;
    }
    unsigned long long n = 0;
    std::string unit;
    if (!split_number(trim(*value), n, unit)) {
        fail(option, "'" + *value + "' is not a size (e.g. 1048576, 512k, 10MB, 1GiB)");
    }
    unsigned long long scale = 1;
    if (unit.empty() || unit == "b") {
        scale = 1;
    } else if (unit == "k" || unit == "kb" || unit == "kib") {
        scale = 1ull << 10;
    } else if (unit == "m" || unit == "mb" || unit == "mib") {
        scale = 1ull << 20;
    } else if (unit == "g" || unit == "gb" || unit == "gib") {
        scale = 1ull << 30;
    } else {
        fail(option, "'" + *value + "' has an unknown unit (use b, k, MB or GiB)");
    }
    if (n > std::numeric_limits<std::size_t>::max() / scale) {
        fail(option, "'" + *value + "' is too large");
    }
    return static_cast<std::size_t>(n * scale);
}

std::chrono::milliseconds env_options::get_duration(
    std::string_view option, std::chrono::milliseconds fallback_value) const {
    auto value = raw(option);
    if (!value) {
        return fallback_value;
    }
    unsigned long long n = 0;
    std::string unit;
    if (!split_number(trim(*value), n, unit)) {
        fail(option, "'" + *value + "' is not a duration (e.g. 250ms, 2s, 5m)");
    }
    unsigned long long ms_per_unit = 0;
    if (unit.empty() || unit == "ms") {
        ms_per_unit = 1;
    } else if (unit == "s" || unit == "sec") {
        ms_per_unit = 1000;
    } else if (unit == "m" || unit == "min") {
        ms_per_unit = 60 * 1000;
    } else if (unit == "h") {
        ms_per_unit = 3600 * 1000;
    } else {
        fail(option, "'" + *value + "' has an unknown unit (use ms, s, m or h)");
    }
    // Compared in the value's own unit: n * ms_per_unit could overflow first.
    constexpr unsigned long long year_ms = 1000ull * 3600 * 24 * 365;
    if (n > year_ms / ms_per_unit) {
        fail(option, "'" + *value + "' is too long (at most a year)");
    }
    return std::chrono::milliseconds(static_cast<long long>(n * ms_per_unit));
}

spdlog::level::level_enum env_options::get_level(std::string_view option,
                                                 spdlog::level::level_enum fallback_value) const {
    using spdlog::level::level_enum;
    return get_enum<level_enum>(option, fallback_value,
                                {{"trace", level_enum::trace},
                                 {"debug", level_enum::debug},
                                 {"info", level_enum::info},
                                 {"warn", level_enum::warn},
                                 {"warning", level_enum::warn},
                                 {"err", level_enum::err},
                                 {"error", level_enum::err},
                                 {"critical", level_enum::critical},
                                 {"off", level_enum::off}});
}

}  // namespace spdlog_ext
