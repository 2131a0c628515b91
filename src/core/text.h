// Internal: small string helpers shared by the registry, the transport and the sinks.
#pragma once

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The pieces of `text` between any of `separators`, empty pieces kept: each caller decides
// what to trim, drop or reject (a port list must keep " 5432" invalid, a tag list drops empties).
inline std::vector<std::string_view> split_any(std::string_view text, std::string_view separators) {
    std::vector<std::string_view> pieces;
    std::size_t start = 0;
    while (true) {
        const auto end = text.find_first_of(separators, start);
        pieces.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) {
            return pieces;
        }
        start = end + 1;
    }
}

}  // namespace spdlog_ext::detail
