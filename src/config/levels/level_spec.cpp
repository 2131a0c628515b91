// The strict parser of spdlog's level syntax ("info,db=debug"), pure: no registry, no I/O.
#include <cctype>
#include <string>

#include "spdlog_ext/runtime_levels.h"

namespace spdlog_ext {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// For messages: at most 40 bytes, control bytes as '?'.
std::string shown(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 40)) {
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    }
    return "'" + out + (s.size() > 40 ? "...'" : "'");
}

std::optional<spdlog::level::level_enum> level_from_name(std::string_view name) {
    std::string lower;
    for (const char c : name)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    using spdlog::level::level_enum;
    if (lower == "trace")
        return level_enum::trace;
    if (lower == "debug")
        return level_enum::debug;
    if (lower == "info")
        return level_enum::info;
    if (lower == "warn" || lower == "warning")
        return level_enum::warn;
    if (lower == "err" || lower == "error")
        return level_enum::err;
    if (lower == "critical")
        return level_enum::critical;
    if (lower == "off")
        return level_enum::off;
    return std::nullopt;
}

bool fail(std::string* error, const std::string& message) {
    if (error != nullptr)
        *error = message;
    return false;
}

bool parse_item(std::string_view item, level_spec& spec, std::string* error) {
    const auto eq = item.find('=');
    const std::string_view level_text =
        trim(eq == std::string_view::npos ? item : item.substr(eq + 1));
    const auto level = level_from_name(level_text);
    if (!level) {
        return fail(error, "unknown level " + shown(level_text) +
                               " (use trace, debug, info, warn, error, critical or off)");
    }
    if (eq == std::string_view::npos) {
        if (spec.global)
            return fail(error, "more than one global level");
        spec.global = level;
        return true;
    }
    const std::string_view name = trim(item.substr(0, eq));
    if (name.empty())
        return fail(error, "a logger name is empty in " + shown(item));
    for (const char c : name) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return fail(error, "the logger name " + shown(name) + " contains a control character");
        }
    }
    if (!spec.loggers.emplace(std::string(name), *level).second) {
        return fail(error, "the logger " + shown(name) + " is named twice");
    }
    return true;
}

}  // namespace

std::optional<level_spec> parse_level_spec(std::string_view text, std::string* error) {
    if (text.size() > max_level_spec_bytes) {
        fail(error, "longer than " + std::to_string(max_level_spec_bytes) + " bytes");
        return std::nullopt;
    }
    level_spec spec;
    if (trim(text).empty())
        return spec;
    for (std::size_t start = 0;;) {
        const auto comma = text.find(',', start);
        const std::string_view item = trim(text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (item.empty()) {
            fail(error, "an empty item (two commas, or a comma at an end)");
            return std::nullopt;
        }
        if (!parse_item(item, spec, error))
            return std::nullopt;
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    return spec;
}

std::string level_spec::to_string() const {
    std::string out;
    if (global)
        out = std::string(spdlog::level::to_string_view(*global).data(),
                          spdlog::level::to_string_view(*global).size());
    for (const auto& entry : loggers) {
        const auto name = spdlog::level::to_string_view(entry.second);
        out += out.empty() ? "" : ",";
        out += entry.first + "=" + std::string(name.data(), name.size());
    }
    return out;
}

}  // namespace spdlog_ext
