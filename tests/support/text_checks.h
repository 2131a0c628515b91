// Text helpers shared by the strict fake servers and parsers of the test suite. Deliberately
// independent of the library's own (src/core/utf8.h): a check must not share the code it checks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace test::text {

// Byte offset of the first invalid UTF-8 sequence (strict: no overlong forms, surrogates, code
// points above U+10FFFF or truncation), or npos when valid.
inline std::size_t invalid_utf8_at(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80;  // the allowed range of the second byte
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80;  // overlong
            hi = c == 0xED ? 0x9F : 0xBF;  // surrogates U+D800..U+DFFF
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;  // overlong
            hi = c == 0xF4 ? 0x8F : 0xBF;  // above U+10FFFF
        } else {
            return i;  // continuation byte, C0/C1 (overlong) or F5..FF
        }
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) {
            return i;  // truncated or out of range
        }
        for (std::size_t k = 2; k < len; ++k) {
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
                return i;
            }
        }
        i += len;
    }
    return std::string_view::npos;
}

// Code points in a valid UTF-8 string.
inline std::size_t characters(std::string_view s) {
    std::size_t count = 0;
    for (const char ch : s) {
        count += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
    }
    return count;
}

inline std::string lower(std::string s) {
    for (auto& ch : s) {
        if (ch >= 'A' && ch <= 'Z') {
            ch = static_cast<char>(ch - 'A' + 'a');
        }
    }
    return s;
}

// Without leading and trailing spaces and tabs.
inline std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

}  // namespace test::text
