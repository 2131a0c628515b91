#include "sinks/influx/influx_escape.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

#include "core/utf8.h"

namespace spdlog_ext::detail {

namespace {
constexpr std::string_view replacement = "\uFFFD";
constexpr std::string_view fullwidth_backslash = "\uFF3C";  // for a name's trailing '\'

// Bytes that need a look in names: controls, backslash, the separators, and non-ASCII (UTF-8
// validation). Everything else is copied as is.
struct name_table {
    bool attention[256] = {};
    constexpr name_table(bool escape_equals) {
        for (int c = 0; c < 0x20; ++c) {
            attention[c] = true;
        }
        for (int c = 0x7f; c < 256; ++c) {
            attention[c] = true;
        }
        attention[static_cast<unsigned char>(',')] = true;
        attention[static_cast<unsigned char>(' ')] = true;
        attention[static_cast<unsigned char>('\\')] = true;
        attention[static_cast<unsigned char>('=')] = escape_equals;
    }
};
constexpr name_table measurement_table(false);
constexpr name_table key_table(true);

// Bytes of a string value that need a look: the two escapes, NUL, non-ASCII.
struct value_table {
    bool attention[256] = {};
    constexpr value_table() {
        attention[0] = true;
        attention[static_cast<unsigned char>('"')] = true;
        attention[static_cast<unsigned char>('\\')] = true;
        for (int c = 0x80; c < 256; ++c) {
            attention[c] = true;
        }
    }
};
constexpr value_table string_table;

// Length of the leading part of `value` without '"', '\\', NUL or non-ASCII: eight bytes at a time
// (messages are most of a line's bytes), then byte by byte.
std::size_t plain_prefix(std::string_view value) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr std::uint64_t highs = 0x8080808080808080ULL;
    const auto has_zero_byte = [](std::uint64_t x) { return ((x - ones) & ~x & highs) != 0; };
    const char* p = value.data();
    const std::size_t n = value.size();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        if ((w & highs) != 0 || has_zero_byte(w) || has_zero_byte(w ^ (ones * '"')) ||
            has_zero_byte(w ^ (ones * '\\'))) {
            break;
        }
    }
    while (i < n && !string_table.attention[static_cast<unsigned char>(p[i])]) {
        ++i;
    }
    return i;
}

// InfluxDB reads a backslash before ',', '=', ' ' or '"' as an escape in some places and pairs
// up backslash runs in others (field keys; its line splitter everywhere), and a name ending in
// one swallows the separator: such a backslash cannot be written as itself.
bool unreadable_backslash(std::string_view s, std::size_t i) {
    if (i + 1 == s.size()) {
        return true;
    }
    const char next = s[i + 1];
    return next == ',' || next == '=' || next == ' ' || next == '"';
}

void append_name(std::string& out, std::string_view name, const name_table& table,
                 bool escape_equals) {
    bool simple = true;
    for (char c : name) {
        if (table.attention[static_cast<unsigned char>(c)]) {
            simple = false;
            break;
        }
    }
    if (simple) {
        out.append(name);
        return;
    }
    const std::string valid = utf8::sanitize(name);
    for (std::size_t i = 0; i < valid.size(); ++i) {
        const char c = valid[i];
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += replacement;  // a raw newline would end the line; no escape exists for it
        } else if (c == ',' || c == ' ' || (escape_equals && c == '=')) {
            out += '\\';
            out += c;
        } else if (c == '\\' && unreadable_backslash(valid, i)) {
            out += fullwidth_backslash;
        } else {
            out += c;
        }
    }
}
}  // namespace

void append_measurement(std::string& out, std::string_view name) {
    if (!name.empty() && name.front() == '#') {
        out += "\uFF03";  // a line starting with '#' is a comment: the point would vanish
        name.remove_prefix(1);
    }
    append_name(out, name, measurement_table, false);
}

void append_tag(std::string& out, std::string_view text) {
    append_name(out, text, key_table, true);
}

void append_field_key(std::string& out, std::string_view key) {
    append_name(out, key, key_table, true);
}

void append_string_value(std::string& out, std::string_view value) {
    out += '"';
    const std::size_t plain = plain_prefix(value);  // the leading run that needs nothing
    if (plain == value.size()) {
        out.append(value);
    } else {
        // Control characters other than NUL stay: InfluxDB stores them and JSON escapes them.
        out.append(value.substr(0, plain));
        const std::string valid = utf8::sanitize(value.substr(plain));
        for (char c : valid) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if (c == '\0') {
                out += replacement;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void append_float(std::string& out, double value) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip
    out.append(buf, r.ptr);
}

std::int64_t ns_since_epoch(spdlog::log_clock::time_point t) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return std::clamp<std::int64_t>(ns, min_timestamp, max_timestamp);
}

void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

std::string tag_pair(std::string_view key, std::string_view value) {
    std::string out;
    if (!value.empty()) {
        out += ',';
        out.append(key);
        out += '=';
        append_tag(out, value);
    }
    return out;
}

}  // namespace spdlog_ext::detail
