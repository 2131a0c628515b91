// A strict InfluxDB line-protocol parser for the tests: an independent reference (it shares no
// code with src/) that checks what our encoder writes, as InfluxDB 1.x/2.x parse it, plus a few
// rules of our own on top.
//
//   test::lp::parse_result r = test::lp::parse(body, /*allow_unsigned*/ true);
//   CHECK(r.errors.empty());                    // "line 3: tags not sorted ('a' after 'b')"
//   r.points[0].tags, r.points[0].fields.at("message").s, r.points[0].timestamp ...
//
// Grammar (one point per line):
//   measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [time]
//   - Lines are separated by '\n'. An empty line (and so a final newline) is allowed, and a line
//     starting with '#' is a comment. A raw '\n' may appear inside a double-quoted string field
//     value, where it does not end the line; anywhere else it ends the line. Line numbers in the
//     errors count these logical lines from 1 (a string value spanning two physical lines still
//     makes one line). Leading whitespace is an error (InfluxDB skips it; our encoder must not
//     write it).
//   - measurement: up to the first unescaped ',' or ' '; "\," and "\ " unescape to the char,
//     any other backslash is literal. Non-empty.
//   - tags: ",key=value" pairs; in keys and values "\,", "\=" and "\ " unescape to the char and
//     any other backslash is literal: an escape is a backslash right before one of those chars,
//     whatever precedes the backslash (InfluxDB looks at the previous byte only). So the raw
//     bytes a\\<space>b are the value `a\ b`, and a value ending in a lone backslash right before
//     its separator escapes the separator and the line then fails ("invalid tag format"). An
//     unescaped '=' inside a tag value is an error. Keys and values are non-empty.
//     Our rules on top: tags sorted by (unescaped) key in byte order, keys unique.
//   - one unescaped space, then fields: comma-separated key=value, at least one, keys unique.
//     Keys unescape like tag keys and are non-empty. Our rule on top (InfluxDB reads these
//     differently from the rule above, so an encoder must never write them): in a field key, an
//     even run of backslashes right before ',', '=' or ' ' (InfluxDB's field scanner pairs the
//     backslashes and sees an unescaped separator), and a backslash before '"' (InfluxDB
//     unescapes "\"" in field keys), are errors.
//     Values:
//       integer   -?[0-9]+i        fits int64
//       unsigned  [0-9]+u          fits uint64; only when allow_unsigned (InfluxDB 2.x)
//       float     -?(D+(.D*)?|.D+)([eE][+-]?D+)?   e.g. 1, -1.5, 1e+06, 1.5E-07, .5; finite
//                 (no NaN/Inf, no overflow to infinity)
//       boolean   t T true True TRUE f F false False FALSE
//       string    "..." where only \" and \\ are escapes (a backslash before any other char is
//                 literal); may contain raw newlines
//   - optionally one space and an integer timestamp (ns, may be negative, within InfluxDB's
//     range [-9223372036854775806, 9223372036854775806]). Nothing may follow it; a trailing
//     space is an error.
//   - Reserved keys (InfluxDB refuses or drops them): a tag key or field key `time` or starting
//     with '_' is an error.
//   - Every name, tag value and string value must be valid UTF-8 (strict: no overlong forms,
//     surrogates, code points above U+10FFFF, truncated sequences) and hold no control character
//     (U+0000..U+001F, U+007F), except that string field values may hold every one but NUL.
// A line with an error yields no point; parsing goes on with the next line.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "text_checks.h"

namespace test::lp {

struct value {
    enum kind_t { integer, unsigned_integer, floating, boolean, string } kind = integer;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double f = 0;
    bool b = false;
    std::string s;

    // Same kind and same value (floats compare with ==).
    friend bool operator==(const value& x, const value& y) {
        if (x.kind != y.kind) {
            return false;
        }
        switch (x.kind) {
            case integer:
                return x.i == y.i;
            case unsigned_integer:
                return x.u == y.u;
            case floating:
                return x.f == y.f;
            case boolean:
                return x.b == y.b;
            case string:
                return x.s == y.s;
        }
        return false;
    }
    friend bool operator!=(const value& x, const value& y) { return !(x == y); }

    // For messages: 5i, 5u, 1.5, true, "text" (quotes and backslashes escaped).
    std::string to_string() const {
        switch (kind) {
            case integer:
                return std::to_string(i) + "i";
            case unsigned_integer:
                return std::to_string(u) + "u";
            case floating: {
                char buf[32];
                std::snprintf(buf, sizeof buf, "%.17g", f);
                return buf;
            }
            case boolean:
                return b ? "true" : "false";
            case string: {
                std::string out = "\"";
                for (const char c : s) {
                    if (c == '"' || c == '\\') {
                        out += '\\';
                    }
                    out += c;
                }
                return out + "\"";
            }
        }
        return {};
    }
};

struct point {
    std::string measurement;
    std::vector<std::pair<std::string, std::string>> tags;  // unescaped, in line order
    std::map<std::string, value> fields;                    // unescaped keys
    std::optional<std::int64_t> timestamp;

    // The measurement and the tags sorted by key, unescaped and re-escaped unambiguously
    // ('\\', ',', '=' and ' ' preceded by a backslash): "cpu,host=a\ b,region=eu".
    std::string series_key() const {
        auto sorted = tags;
        std::sort(sorted.begin(), sorted.end());
        std::string key = escape(measurement);
        for (const auto& [k, v] : sorted) {
            key += ',' + escape(k) + '=' + escape(v);
        }
        return key;
    }

    // "f=1i,g=\"x\"" (for messages).
    std::string fields_text() const {
        std::string out;
        for (const auto& [k, v] : fields) {
            out += (out.empty() ? "" : ",") + escape(k) + '=' + v.to_string();
        }
        return out;
    }

  private:
    static std::string escape(const std::string& s) {
        std::string out;
        for (const char c : s) {
            if (c == '\\' || c == ',' || c == '=' || c == ' ') {
                out += '\\';
            }
            out += c;
        }
        return out;
    }
};

struct parse_result {
    std::vector<point> points;        // the valid lines, in order
    std::vector<std::string> errors;  // "line N: what" (N from 1), in order
};

namespace detail {

using test::text::invalid_utf8_at;

// A short quoted excerpt of a token for messages: control bytes (and every byte >= 0x80 when
// `s` is not valid UTF-8) shown as \xNN. The cut at 60 bytes may split a UTF-8 sequence.
inline std::string quote(std::string_view s) {
    std::string out = "'";
    const std::size_t max = 60;
    const bool valid = invalid_utf8_at(s) == std::string_view::npos;
    for (std::size_t k = 0; k < s.size() && k < max; ++k) {
        const auto c = static_cast<unsigned char>(s[k]);
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !valid)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + (s.size() > max ? "...'" : "'");
}

// Empty when `s` is valid UTF-8 without control characters (but those in `allowed`).
inline std::string check_text(std::string_view s, std::string_view allowed = {}) {
    const std::size_t bad = invalid_utf8_at(s);
    if (bad != std::string_view::npos) {
        return "invalid UTF-8 at byte " + std::to_string(bad) + " of " + quote(s);
    }
    for (std::size_t k = 0; k < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[k]);
        if ((c < 0x20 || c == 0x7F) && allowed.find(static_cast<char>(c)) == allowed.npos) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "0x%02X", c);
            return std::string("control character ") + buf + " at byte " + std::to_string(k) +
                   " of " + quote(s);
        }
    }
    return {};
}

inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

inline bool all_digits(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (const char c : s) {
        if (!is_digit(c)) {
            return false;
        }
    }
    return true;
}

// Where the logical line starting at `start` ends (its '\n' or the end of the body). Follows
// the same grammar as parse_line but forgives everything else, so a bad line never swallows
// the next one unless it opens a string it never closes.
inline std::size_t line_end(std::string_view body, std::size_t start) {
    const std::size_t n = body.size();
    std::size_t i = start;
    if (i < n && body[i] == '#') {
        const std::size_t nl = body.find('\n', i);
        return nl == body.npos ? n : nl;
    }
    auto escapable = [](char c) { return c == ',' || c == '=' || c == ' '; };
    enum { in_key, in_field_key, in_field_value, in_time } state = in_key;
    while (i < n) {
        const char c = body[i];
        if (c == '\n') {
            return i;
        }
        switch (state) {
            case in_key:
            case in_field_key:
                if (c == '\\' && i + 1 < n && escapable(body[i + 1])) {
                    i += 2;
                    continue;
                }
                if (c == ' ') {
                    state = state == in_key ? in_field_key : in_time;
                } else if (c == '=' && state == in_field_key) {
                    state = in_field_value;
                    if (i + 1 < n && body[i + 1] == '"') {  // a string: skip to its closing quote
                        i += 2;
                        while (i < n && body[i] != '"') {
                            i += body[i] == '\\' && i + 1 < n ? 2 : 1;
                        }
                    }
                }
                break;
            case in_field_value:
                if (c == ',') {
                    state = in_field_key;
                } else if (c == ' ') {
                    state = in_time;
                }
                break;
            case in_time:
                break;
        }
        ++i;
    }
    return n;
}

inline bool reserved_key(const std::string& k) {
    return k == "time" || (!k.empty() && k[0] == '_');
}

class line_parser {
  public:
    line_parser(std::string_view line, bool allow_unsigned)
        : s_(line), allow_unsigned_(allow_unsigned) {}

    // Parses the line into `p`; returns the error (empty when valid).
    std::string parse(point& p) {
        if (s_[0] == ' ' || s_[0] == '\t') {
            return "leading whitespace";
        }
        // Measurement.
        const char stop = read_token(p.measurement, ", ", ", ");
        if (p.measurement.empty()) {
            return "missing measurement";
        }
        std::string problem = check_text(p.measurement);
        if (!problem.empty()) {
            return "measurement: " + problem;
        }
        if (stop == 0) {
            return "missing fields (no space after the measurement and tags)";
        }
        // Tags.
        if (stop == ',') {
            problem = parse_tags(p);
            if (!problem.empty()) {
                return problem;
            }
        }
        // Here s_[pos_] is the space before the fields.
        ++pos_;
        problem = parse_fields(p);
        if (!problem.empty()) {
            return problem;
        }
        if (pos_ >= s_.size()) {
            return {};
        }
        // s_[pos_] is the space before the timestamp.
        ++pos_;
        const std::string_view ts = s_.substr(pos_);
        if (ts.empty()) {
            return "trailing space";
        }
        if (ts[0] == ' ') {
            return "more than one space after the fields";
        }
        const std::size_t space = ts.find_first_of(" \t");
        if (space != ts.npos) {
            return space + 1 == ts.size() && ts[space] == ' '
                       ? "trailing space after the timestamp"
                       : "unexpected text after the timestamp: " + quote(ts.substr(space));
        }
        const bool negative = ts[0] == '-';
        if (!all_digits(negative ? ts.substr(1) : ts)) {
            return "bad timestamp " + quote(ts) + " (want an integer of nanoseconds)";
        }
        std::int64_t t = 0;
        const auto [ptr, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
        if (ec != std::errc() || ptr != ts.data() + ts.size()) {
            return "timestamp " + quote(ts) + " does not fit int64";
        }
        if (t < std::numeric_limits<std::int64_t>::min() + 2 ||
            t > std::numeric_limits<std::int64_t>::max() - 1) {
            return "timestamp " + quote(ts) + " out of InfluxDB's range";
        }
        p.timestamp = t;
        return {};
    }

  private:
    // Reads up to an unescaped char of `stops` (returned, left at pos_) or the end (0).
    // A backslash before a char of `escapable` escapes it; any other backslash is literal.
    char read_token(std::string& out, std::string_view escapable, std::string_view stops) {
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (c == '\\' && pos_ + 1 < s_.size() && escapable.find(s_[pos_ + 1]) != s_.npos) {
                out += s_[pos_ + 1];
                pos_ += 2;
                continue;
            }
            if (stops.find(c) != stops.npos) {
                return c;
            }
            out += c;
            ++pos_;
        }
        return 0;
    }

    // From just after the measurement's ','; leaves pos_ at the space before the fields.
    std::string parse_tags(point& p) {
        char stop = ',';
        while (stop == ',') {
            ++pos_;
            std::string key;
            std::string val;
            const std::size_t key_at = pos_;
            stop = read_token(key, ",= ", ",= ");
            if (key.empty()) {
                return "missing tag key at column " + std::to_string(key_at + 1);
            }
            const std::string what = "tag " + quote(key);
            if (stop != '=') {
                return what + ": missing tag value (no '=')";
            }
            ++pos_;
            stop = read_token(val, ",= ", ",= ");
            if (stop == '=') {
                return what + ": unescaped '=' in the tag value (invalid tag format)";
            }
            if (val.empty()) {
                return what + ": empty tag value";
            }
            std::string problem = check_text(key);
            if (problem.empty()) {
                problem = check_text(val);
            }
            if (!problem.empty()) {
                return what + ": " + problem;
            }
            if (reserved_key(key)) {
                return what + ": reserved tag key (time or _...)";
            }
            if (!p.tags.empty() && key <= p.tags.back().first) {
                return key == p.tags.back().first ? "duplicate tag " + quote(key)
                                                  : "tags not sorted (" + quote(key) + " after " +
                                                        quote(p.tags.back().first) + ")";
            }
            p.tags.emplace_back(std::move(key), std::move(val));
            if (stop == 0) {
                return "missing fields (no space after the tags)";
            }
        }
        return {};
    }

    // From just after the space; leaves pos_ at the end or at the space before the timestamp.
    std::string parse_fields(point& p) {
        while (true) {
            const std::size_t key_at = pos_;
            std::string key;
            const char stop = read_token(key, ",= ", ",= ");
            if (key.empty()) {
                return pos_ >= s_.size() && key_at == pos_ && p.fields.empty()
                           ? "missing fields"
                           : "missing field key at column " + std::to_string(key_at + 1);
            }
            const std::string what = "field " + quote(key);
            if (stop != '=') {
                return what + ": no '=' and value";
            }
            std::string problem = check_field_key_escapes(s_.substr(key_at, pos_ - key_at));
            if (problem.empty()) {
                problem = check_text(key);
            }
            if (!problem.empty()) {
                return what + ": " + problem;
            }
            if (reserved_key(key)) {
                return what + ": reserved field key (time or _...)";
            }
            ++pos_;  // '='
            value v;
            problem = s_.substr(pos_, 1) == "\"" ? parse_string(v) : parse_scalar(v);
            if (!problem.empty()) {
                return what + ": " + problem;
            }
            if (!p.fields.emplace(key, std::move(v)).second) {
                return "duplicate field " + quote(key);
            }
            if (pos_ >= s_.size() || s_[pos_] == ' ') {
                return {};
            }
            ++pos_;  // ','
        }
    }

    // The raw key (escaped form): no sequence InfluxDB reads differently (see the file comment).
    static std::string check_field_key_escapes(std::string_view raw) {
        for (std::size_t k = 0; k < raw.size(); ++k) {
            if (raw[k] != '\\') {
                continue;
            }
            std::size_t run = 1;
            while (k + run < raw.size() && raw[k + run] == '\\') {
                ++run;
            }
            const char next = k + run < raw.size() ? raw[k + run] : '\0';
            if (next == '"') {
                return "backslash before '\"' in the field key (InfluxDB unescapes it)";
            }
            if (run % 2 == 0 && (next == ',' || next == '=' || next == ' ')) {
                return "an even run of backslashes before '" + std::string(1, next) +
                       "' in the field key (InfluxDB pairs them and ends the key there)";
            }
            k += run - 1;
        }
        return {};
    }

    std::string parse_string(value& v) {
        v.kind = value::string;
        ++pos_;  // opening quote
        while (true) {
            if (pos_ >= s_.size()) {
                return "unterminated string";
            }
            const char c = s_[pos_];
            if (c == '\\' && pos_ + 1 < s_.size() &&
                (s_[pos_ + 1] == '"' || s_[pos_ + 1] == '\\')) {
                v.s += s_[pos_ + 1];
                pos_ += 2;
                continue;
            }
            ++pos_;
            if (c == '"') {
                break;
            }
            v.s += c;
        }
        if (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ' ') {
            return "unexpected " + quote(s_.substr(pos_, 1)) + " after the closing quote";
        }
        // Every control character but NUL: InfluxDB stores them (checked against influxd 1.6.7)
        // and our encoder keeps them in string values.
        static constexpr char controls[] =
            "\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
            "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
            "\x1d\x1e\x1f\x7f";
        const std::string problem =
            check_text(v.s, std::string_view(controls, sizeof controls - 1));
        return problem.empty() ? problem : "string value: " + problem;
    }

    std::string parse_scalar(value& v) {
        const std::size_t end = s_.find_first_of(", ", pos_);
        const std::string_view raw = s_.substr(pos_, end == s_.npos ? s_.npos : end - pos_);
        pos_ += raw.size();
        if (raw.empty()) {
            return "empty value";
        }
        if (raw == "t" || raw == "T" || raw == "true" || raw == "True" || raw == "TRUE") {
            v.kind = value::boolean;
            v.b = true;
            return {};
        }
        if (raw == "f" || raw == "F" || raw == "false" || raw == "False" || raw == "FALSE") {
            v.kind = value::boolean;
            v.b = false;
            return {};
        }
        const char last = raw.back();
        const std::string_view digits = raw.substr(0, raw.size() - 1);
        if (last == 'i') {
            v.kind = value::integer;
            const bool negative = !digits.empty() && digits[0] == '-';
            if (!all_digits(negative ? digits.substr(1) : digits)) {
                return "bad integer " + quote(raw);
            }
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), v.i);
            if (ec != std::errc() || ptr != digits.data() + digits.size()) {
                return "integer " + quote(raw) + " does not fit int64";
            }
            return {};
        }
        if (last == 'u') {
            v.kind = value::unsigned_integer;
            if (!allow_unsigned_) {
                return "unsigned integer " + quote(raw) + " not allowed";
            }
            if (!all_digits(digits)) {
                return "bad unsigned integer " + quote(raw);
            }
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), v.u);
            if (ec != std::errc() || ptr != digits.data() + digits.size()) {
                return "unsigned integer " + quote(raw) + " does not fit uint64";
            }
            return {};
        }
        v.kind = value::floating;
        if (!float_syntax(raw)) {
            std::string lower;
            for (const char c : raw) {
                lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            }
            if (lower.find("nan") != lower.npos || lower.find("inf") != lower.npos) {
                return "NaN/Inf " + quote(raw) + " is not a valid value";
            }
            return "bad value " + quote(raw) +
                   " (not a float, integer, unsigned, boolean or string)";
        }
        // from_chars is locale-independent; overflow (out of range) is refused like InfluxDB
        // (Go's ParseFloat gives ±Inf and an error). An underflow reads as 0, as in Go.
        const auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v.f);
        if (ec == std::errc::result_out_of_range) {
            if (huge_exponent(raw)) {
                return "float " + quote(raw) + " out of range";
            }
            v.f = 0;
            return {};
        }
        if (ec != std::errc() || ptr != raw.data() + raw.size() || !std::isfinite(v.f)) {
            return "bad float " + quote(raw);
        }
        return {};
    }

    // -?(D+(.D*)?|.D+)([eE][+-]?D+)?
    static bool float_syntax(std::string_view r) {
        std::size_t k = 0;
        if (k < r.size() && r[k] == '-') {
            ++k;
        }
        std::size_t int_digits = 0;
        while (k < r.size() && is_digit(r[k])) {
            ++k;
            ++int_digits;
        }
        std::size_t frac_digits = 0;
        if (k < r.size() && r[k] == '.') {
            ++k;
            while (k < r.size() && is_digit(r[k])) {
                ++k;
                ++frac_digits;
            }
        }
        if (int_digits + frac_digits == 0) {
            return false;
        }
        if (k < r.size() && (r[k] == 'e' || r[k] == 'E')) {
            ++k;
            if (k < r.size() && (r[k] == '+' || r[k] == '-')) {
                ++k;
            }
            if (k >= r.size() || !is_digit(r[k])) {
                return false;
            }
            while (k < r.size() && is_digit(r[k])) {
                ++k;
            }
        }
        return k == r.size();
    }

    // For an out-of-range float: true when it is too large (not too small). Compares the decimal
    // exponent of the first significant digit with 0.
    static bool huge_exponent(std::string_view r) {
        long long exp10 = 0;
        const std::size_t e = r.find_first_of("eE");
        if (e != r.npos) {
            std::string_view ex = r.substr(e + 1);
            if (!ex.empty() && ex[0] == '+') {
                ex.remove_prefix(1);
            }
            long long parsed = 0;
            const auto res = std::from_chars(ex.data(), ex.data() + ex.size(), parsed);
            if (res.ec == std::errc::result_out_of_range) {
                return ex[0] != '-';
            }
            exp10 = parsed;
        }
        const std::string_view mant = r.substr(0, e == r.npos ? r.size() : e);
        const std::size_t dot = mant.find('.');
        const std::size_t first = mant.find_first_of("123456789");
        if (first == mant.npos) {
            return false;  // zero
        }
        const long long int_end = static_cast<long long>(dot == mant.npos ? mant.size() : dot);
        const long long pos = static_cast<long long>(first);
        const long long magnitude = pos < int_end ? int_end - pos - 1 : int_end - pos;
        return magnitude + exp10 > 0;
    }

    std::string_view s_;
    bool allow_unsigned_;
    std::size_t pos_ = 0;
};

}  // namespace detail

// Parses a request body (see the file comment). unsigned values (5u) are errors unless
// allow_unsigned.
inline parse_result parse(std::string_view body, bool allow_unsigned) {
    parse_result result;
    std::size_t start = 0;
    std::size_t number = 0;
    while (true) {
        ++number;
        const std::size_t end = detail::line_end(body, start);
        const std::string_view line = body.substr(start, end - start);
        if (!line.empty() && line[0] != '#') {
            point p;
            const std::string problem = detail::line_parser(line, allow_unsigned).parse(p);
            if (problem.empty()) {
                result.points.push_back(std::move(p));
            } else {
                result.errors.push_back("line " + std::to_string(number) + ": " + problem);
            }
        }
        if (end >= body.size()) {
            break;
        }
        start = end + 1;
    }
    return result;
}

}  // namespace test::lp
