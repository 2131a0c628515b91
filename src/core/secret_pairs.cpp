#include "core/secret_pairs.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/secret_keys.h"

namespace spdlog_ext::detail::redaction {
namespace {

// A JSON number, true, false or null: never masked (a number turned into a string is a field
// type conflict downstream, e.g. in InfluxDB).
bool is_literal(std::string_view v) {
    if (v == "true" || v == "false" || v == "null") {
        return true;
    }
    std::size_t i = 0;
    if (i < v.size() && (v[i] == '-' || v[i] == '+')) {
        ++i;
    }
    const std::size_t digits = i;
    while (i < v.size() && is_digit(v[i])) {
        ++i;
    }
    if (i == digits) {
        return false;
    }
    if (i < v.size() && v[i] == '.') {
        ++i;
        while (i < v.size() && is_digit(v[i])) {
            ++i;
        }
    }
    if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
        ++i;
        if (i < v.size() && (v[i] == '-' || v[i] == '+')) {
            ++i;
        }
        const std::size_t exp = i;
        while (i < v.size() && is_digit(v[i])) {
            ++i;
        }
        if (i == exp) {
            return false;
        }
    }
    return i == v.size();
}

bool blank(char c) {
    return c == ' ' || c == '\t';
}

// Is `key` one of the redactor's keys for an unquoted "Name: value"? As key_matches(), except
// `session`: "session: started" is prose (a session id travels in Cookie:, which counts).
bool header_key_matches(const redactor& r, std::string_view key) {
    const key_words words(key);
    return std::any_of(r.keys().begin(), r.keys().end(), [&](const std::string& secret) {
        return secret != "session" && names_secret(words, secret);
    });
}

// Scheme words that an Authorization value starts with: the credential follows.
bool auth_scheme(std::string_view word) {
    constexpr std::string_view schemes[] = {"basic", "bearer",    "digest",
                                            "token", "negotiate", "ntlm"};
    for (const std::string_view s : schemes) {
        if (word.size() == s.size()) {
            bool same = true;
            for (std::size_t i = 0; same && i < s.size(); ++i) {
                same = lower(word[i]) == s[i];
            }
            if (same) {
                return true;
            }
        }
    }
    return false;
}

// Cookie, Set-Cookie: headers whose value has spaces and ';' in it.
bool ends_with_cookie(std::string_view key) {
    const key_words words(key);
    return words.count() > 0 && words.word(words.count() - 1) == "cookie";
}

std::size_t line_end(std::string_view text, std::size_t from) {
    while (from < text.size() && text[from] != '\r' && text[from] != '\n') {
        ++from;
    }
    return from;
}

}  // namespace

// key=value, key = value, "key": "value", 'key': 'value', \"key\":\"value\" (JSON escaped inside
// a message) and unquoted Name: value headers, where the key matches: query strings, connection
// strings, logfmt, JSON and headers in a message. A key is read back from its separator over
// blanks, a quote and key characters, none of which is a separator: no byte is read back twice.
void key_values(const redactor& r, std::string_view text, span_list& spans) {
    const std::size_t n = text.size();
    for (std::size_t pos = 0; pos < n; ++pos) {
        const char sep = text[pos];
        if (sep != '=' && sep != ':') {
            continue;
        }
        if (sep == '=' && ((pos + 1 < n && text[pos + 1] == '=') ||
                           (pos > 0 && (text[pos - 1] == '=' || text[pos - 1] == '!' ||
                                        text[pos - 1] == '<' || text[pos - 1] == '>')))) {
            continue;  // ==, !=, <=, >=: code, not a pair
        }
        std::size_t key_end = pos;
        while (key_end > 0 && blank(text[key_end - 1])) {
            --key_end;
        }
        char quote = '\0';
        bool escaped = false;
        if (key_end > 0 && (text[key_end - 1] == '"' || text[key_end - 1] == '\'')) {
            quote = text[--key_end];
            if (quote == '"' && key_end > 0 && text[key_end - 1] == '\\') {
                escaped = true;
                --key_end;
            }
        }
        std::size_t key_begin = key_end;
        while (key_begin > 0 && key_char(text[key_begin - 1])) {
            --key_begin;
        }
        if (key_begin == key_end) {
            continue;
        }
        if (quote != '\0' && (key_begin == 0 || text[key_begin - 1] != quote ||
                              (escaped && (key_begin < 2 || text[key_begin - 2] != '\\')))) {
            continue;
        }
        const std::string_view key = text.substr(key_begin, key_end - key_begin);
        const bool header = sep == ':' && quote == '\0';
        if (header) {
            // Name: value only where a name can start (not rtsp://token:pw@, not 10.0.0.1:443).
            const char before = key_begin > 0 ? text[key_begin - 1] : '\n';
            if (!(is_space(before) || before == ',' || before == ';' || before == '{' ||
                  before == '(' || before == '[') ||
                !header_key_matches(r, key)) {
                continue;
            }
        } else if (!r.key_matches(key)) {
            continue;
        }
        std::size_t p = pos + 1;
        while (p < n && blank(text[p])) {
            ++p;
        }
        std::size_t end = p;
        bool check_literal = false;
        const std::size_t quote_len = (p + 1 < n && text[p] == '\\' && text[p + 1] == '"') ? 2
                                      : (p < n && (text[p] == '"' || text[p] == '\''))     ? 1
                                                                                           : 0;
        if (masked_at(text, p + quote_len)) {
            pos = p + quote_len;
            continue;
        }
        if (p + 1 < n && text[p] == '\\' && text[p + 1] == '"') {
            // \"value\" inside escaped JSON.
            p += 2;
            end = text.find("\\\"", p);
            end = end == std::string_view::npos ? line_end(text, p) : end;
        } else if (p < n && (text[p] == '"' || text[p] == '\'')) {
            const char q = text[p];
            end = ++p;
            while (end < n && text[end] != q) {
                end += text[end] == '\\' && end + 1 < n ? 2 : 1;
            }
            end = std::min(end, n);
        } else if (header && (key.find('-') != std::string_view::npos || ends_with_cookie(key))) {
            end = line_end(text, p);  // a header: its value runs to the end of the line
        } else {
            while (end < n && !is_space(text[end]) && std::strchr("&,;\"'", text[end]) == nullptr) {
                ++end;
            }
            check_literal = true;
            if (end < n && blank(text[end]) && auth_scheme(text.substr(p, end - p))) {
                // Authorization=Basic dXNl...: the credential after the scheme word goes too.
                if (lower(text[p]) == 'd') {
                    end = line_end(text, end);  // Digest: its parameters, to the end of the line
                } else {
                    std::size_t t = end;
                    while (t < n && blank(text[t])) {
                        ++t;
                    }
                    std::size_t t_end = t;
                    while (t_end < n && token_char(text[t_end])) {
                        ++t_end;
                    }
                    end = t_end > t ? t_end : end;
                }
                check_literal = false;
            }
        }
        // key: 1234 (prose, YAML: "tokens: 1234 used") keeps a number, true, false or null, as
        // fields do; key=1234 (query strings, conninfo, logfmt: password=123456) keeps only
        // true, false and null. Inside a string a masked number changes no field's type.
        const std::string_view value = text.substr(p, end - p);
        if (check_literal &&
            (sep == ':' ? is_literal(value)
                        : value == "true" || value == "false" || value == "null")) {
            continue;
        }
        if (end > p) {
            add_span(spans, p, end);
            pos = end - 1;
        }
    }
}

// key%3Dvalue%26... : a query string percent-encoded once more (a redirect target, a logged
// form body). The key is read back to the previous '%' at most, the value up to the next
// %26, '&', blank or quote: no byte is read twice.
void encoded_pairs(const redactor& r, std::string_view text, span_list& spans) {
    const std::size_t n = text.size();
    std::size_t pos = 0;
    while ((pos = text.find('%', pos)) != std::string_view::npos) {
        if (pos + 3 > n || text[pos + 1] != '3' || lower(text[pos + 2]) != 'd') {
            ++pos;
            continue;
        }
        std::size_t key_begin = pos;
        while (key_begin > 0 && key_char(text[key_begin - 1])) {
            --key_begin;
        }
        const std::size_t p = pos + 3;
        pos = p;
        if (key_begin == pos - 3 || !r.key_matches(text.substr(key_begin, pos - 3 - key_begin)) ||
            masked_at(text, p)) {
            continue;
        }
        std::size_t end = p;
        while (end < n && !is_space(text[end]) && std::strchr("&,;\"'%", text[end]) == nullptr) {
            ++end;
        }
        // A '%' that does not end the value (%2F, %40 inside it) is part of it.
        while (end + 2 < n && text[end] == '%' && !(text[end + 1] == '2' && text[end + 2] == '6')) {
            ++end;
            while (end < n && !is_space(text[end]) &&
                   std::strchr("&,;\"'%", text[end]) == nullptr) {
                ++end;
            }
        }
        if (end > p && !is_literal(text.substr(p, end - p))) {
            add_span(spans, p, end);
            pos = end;
        }
    }
}

}  // namespace spdlog_ext::detail::redaction
