// Internal: what every rule of the redactor scans with: ASCII character classes (inline: they run
// per byte, in every rule's loop) and the span list each rule appends what it wants masked to.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "spdlog_ext/redaction.h"

namespace spdlog_ext::detail::redaction {

inline bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
inline bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
inline bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}
inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
inline char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// The characters of a bearer token or of the credential after an Authorization scheme word.
inline bool token_char(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

// The characters of a field key in text (key=value) and in a redaction spec.
inline bool key_char(char c) {
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

// `word` (lower-case) at `pos`, ignoring case.
inline bool matches_at(std::string_view text, std::size_t pos, std::string_view word) {
    if (pos + word.size() > text.size()) {
        return false;
    }
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (lower(text[pos + i]) != word[i]) {
            return false;
        }
    }
    return true;
}

// Does an already masked value start at `pos`? A value that starts with the mask was redacted
// before (maybe by another rule whose span ended there): it is the mask and nothing more, so
// that redacting again changes nothing.
inline bool masked_at(std::string_view text, std::size_t pos) {
    return pos <= text.size() && text.substr(pos, redactor::mask.size()) == redactor::mask;
}

// What a rule wants masked: text[begin, end). Every rule reads the original text once, left to
// right, and appends its spans in order; redact_text() then merges them and builds the output
// once. Nothing is replaced in place (which shifted the rest of the text per mask) and no rule
// searches backwards past what it has already read: every rule is linear in the text.
struct span {
    std::size_t begin;
    std::size_t end;
};
using span_list = std::vector<span>;

inline void add_span(span_list& spans, std::size_t begin, std::size_t end) {
    if (end > begin) {
        spans.push_back({begin, end});
    }
}

}  // namespace spdlog_ext::detail::redaction
