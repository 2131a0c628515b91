// Internal: small string helpers shared by the registry, the transport and the sinks.
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog_ext::detail {

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

inline std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// Without leading and trailing white space (including the \n of `$(cat file)`).
inline std::string trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return std::string(s);
}

// The words every LOG_* on/off switch takes, lower-cased: 1/true/on/yes and 0/false/off/no.
// Empty for anything else.
inline std::optional<bool> boolean_word(std::string_view lowered) {
    if (lowered == "1" || lowered == "true" || lowered == "on" || lowered == "yes") {
        return true;
    }
    if (lowered == "0" || lowered == "false" || lowered == "off" || lowered == "no") {
        return false;
    }
    return std::nullopt;
}

// "src/app/main.cpp" → "main.cpp"
inline std::string base_name(const std::string& path) {
    const auto slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "src/app/main.cpp" → "main"
inline std::string file_stem(const std::string& path) {
    std::string name = base_name(path);
    const auto dot = name.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

}  // namespace spdlog_ext::detail
