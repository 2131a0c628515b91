#include "spdlog_ext/redaction.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext {
namespace {

// Keys compare without case and without the separators people vary: api_key, apiKey, API-KEY
// and "api key" are one key.
std::string normalize_key(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (const char c : key) {
        if (c == '_' || c == '-' || c == '.' || c == ' ') {
            continue;
        }
        out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return out;
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `word` (lower-case) at `pos`, ignoring case.
bool matches_at(std::string_view text, std::size_t pos, std::string_view word) {
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

// What a rule wants masked: text[begin, end). Every rule reads the original text once, left to
// right, and appends its spans in order; redact_text() then merges them and builds the output
// once. Nothing is replaced in place (which shifted the rest of the text per mask) and no rule
// searches backwards past what it has already read: every rule is linear in the text.
struct span {
    std::size_t begin;
    std::size_t end;
};
using span_list = std::vector<span>;

void add_span(span_list& spans, std::size_t begin, std::size_t end) {
    if (end > begin) {
        spans.push_back({begin, end});
    }
}

bool scheme_char(char c) {
    return is_alnum(c) || c == '+' || c == '-' || c == '.';
}

bool authority_stop(char c) {
    return is_space(c) || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '<' ||
           c == '>' || c == '`';
}

// scheme://user:password@host → scheme://user:[REDACTED]@host (any scheme: https, postgresql,
// rtsp, amqp, redis, ...). A user without a password is left alone: it is not a secret.
void url_credentials(std::string_view text, span_list& spans) {
    std::size_t pos = 0;
    while ((pos = text.find("://", pos)) != std::string_view::npos) {
        // The scheme: scheme characters never include ':' or '/', so this never reads back
        // past the previous "://".
        std::size_t scheme = pos;
        while (scheme > 0 && scheme_char(text[scheme - 1])) {
            --scheme;
        }
        const std::size_t authority = pos + 3;
        pos = authority;
        if (scheme == authority - 3) {
            continue;
        }
        // The authority, read once: the last '@' in it and the first ':' before that.
        std::size_t at = std::string_view::npos;
        std::size_t colon = std::string_view::npos;
        for (std::size_t i = authority; i < text.size() && !authority_stop(text[i]); ++i) {
            if (text[i] == '@') {
                at = i;
            } else if (text[i] == ':' && colon == std::string_view::npos) {
                colon = i;
            }
        }
        if (at != std::string_view::npos && colon != std::string_view::npos && colon < at) {
            add_span(spans, colon + 1, at);
            pos = at + 1;
        }
        // Else the next search starts in this authority: a "://" right after it (its ':' is
        // inside) is still found, and no authority is read twice.
    }
}

bool token_char(char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

// "Authorization: <anything to the end of the line>" (also Proxy-Authorization).
void authorization_headers(std::string_view text, span_list& spans) {
    constexpr std::string_view word = "authorization";
    for (std::size_t pos = 0; pos + word.size() < text.size(); ++pos) {
        if (lower(text[pos]) != 'a' || !matches_at(text, pos, word)) {
            continue;
        }
        std::size_t p = pos + word.size();
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) {
            ++p;  // "Authorization": "..."
        }
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        if (p >= text.size() || text[p] != ':') {
            continue;
        }
        ++p;
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        std::size_t end = p;
        const char quote =
            (p < text.size() && (text[p] == '"' || text[p] == '\'')) ? text[p] : '\0';
        if (quote != '\0') {
            end = ++p;
            while (end < text.size() && text[end] != quote && text[end] != '\n') {
                ++end;
            }
        } else {
            while (end < text.size() && text[end] != '\r' && text[end] != '\n') {
                ++end;
            }
        }
        if (end > p) {
            add_span(spans, p, end);
            pos = end - 1;
        } else {
            pos = p - 1;
        }
    }
}

// "Bearer <token>" anywhere in text.
void bearer_tokens(std::string_view text, span_list& spans) {
    constexpr std::string_view word = "bearer";
    for (std::size_t pos = 0; pos + word.size() < text.size(); ++pos) {
        if (lower(text[pos]) != 'b' || !matches_at(text, pos, word) ||
            (pos > 0 && is_alnum(text[pos - 1]))) {
            continue;
        }
        std::size_t p = pos + word.size();
        if (p >= text.size() || (text[p] != ' ' && text[p] != '\t')) {
            continue;
        }
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        std::size_t end = p;
        while (end < text.size() && token_char(text[end])) {
            ++end;
        }
        // Real tokens are long; "the bearer of bad news" is prose.
        constexpr std::size_t min_token = 8;
        if (end - p >= min_token) {
            add_span(spans, p, end);
            pos = end - 1;
        } else {
            pos = p - 1;  // "Bearer Bearer <token>": the second one still counts
        }
    }
}

// AWS access key ids: a known four-letter prefix and 16 more upper-case letters or digits.
void aws_access_keys(std::string_view text, span_list& spans) {
    static constexpr std::string_view prefixes[] = {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA",
                                                    "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"};
    constexpr std::size_t length = 20;
    for (std::size_t pos = 0; pos + length <= text.size(); ++pos) {
        if (text[pos] != 'A' || (pos > 0 && is_alnum(text[pos - 1]))) {
            continue;
        }
        const std::string_view head = text.substr(pos, 4);
        if (std::find(std::begin(prefixes), std::end(prefixes), head) == std::end(prefixes)) {
            continue;
        }
        bool key = pos + length == text.size() || !is_alnum(text[pos + length]);
        for (std::size_t i = pos + 4; key && i < pos + length; ++i) {
            key = (text[i] >= 'A' && text[i] <= 'Z') || (text[i] >= '0' && text[i] <= '9');
        }
        if (key) {
            add_span(spans, pos, pos + length);
            pos += length - 1;
        }
    }
}

bool key_char(char c) {
    return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

}  // namespace

const std::vector<std::string>& redactor::default_keys() {
    static const std::vector<std::string> keys = {
        "password",      "passwd", "secret",  "token",       "api_key",    "apikey",
        "authorization", "cookie", "session", "private_key", "access_key", "credential"};
    return keys;
}

std::shared_ptr<const redactor> redactor::defaults() {
    static const auto shared = std::make_shared<const redactor>(default_keys());
    return shared;
}

std::shared_ptr<const redactor> redactor::from_spec(std::string_view spec,
                                                    const std::string& variable) {
    const std::string trimmed = detail::lower(detail::trim(spec));
    // The words of the other LOG_* switches too: "REDACT=false" must not read as "mask only a
    // field called false".
    if (const auto on = detail::boolean_word(trimmed)) {
        return *on ? defaults() : nullptr;
    }
    if (trimmed == "default") {
        return defaults();
    }
    std::vector<std::string> keys;
    std::size_t start = 0;
    while (start <= trimmed.size()) {
        std::size_t comma = trimmed.find(',', start);
        if (comma == std::string::npos) {
            comma = trimmed.size();
        }
        const std::string item =
            detail::trim(std::string_view(trimmed).substr(start, comma - start));
        start = comma + 1;
        if (item == "default") {
            keys.insert(keys.end(), default_keys().begin(), default_keys().end());
        } else if (item == "off") {
            throw config_error(variable, variable + ": 'off' cannot be combined with keys; use " +
                                             variable + "=off alone");
        } else if (!item.empty()) {
            if (!std::all_of(item.begin(), item.end(), key_char)) {
                throw config_error(
                    variable, variable + ": '" + item +
                                  "' is not a field key (letters, digits, _ - .); expected off, "
                                  "default, or a comma-separated list of keys such as "
                                  "default,pin,ssn");
            }
            keys.push_back(item);
        }
    }
    if (keys.empty()) {
        throw config_error(
            variable, variable +
                          " is empty; expected off, default, or a comma-separated list of keys "
                          "such as default,pin,ssn");
    }
    return std::make_shared<const redactor>(std::move(keys));
}

redactor::redactor(std::vector<std::string> keys) {
    for (const auto& key : keys) {
        std::string normalized = normalize_key(key);
        if (!normalized.empty() &&
            std::find(keys_.begin(), keys_.end(), normalized) == keys_.end()) {
            keys_.push_back(std::move(normalized));
        }
    }
}

bool redactor::key_matches(std::string_view key) const {
    if (keys_.empty()) {
        return false;
    }
    const std::string normalized = normalize_key(key);
    return std::any_of(keys_.begin(), keys_.end(), [&](const std::string& fragment) {
        return normalized.find(fragment) != std::string::npos;
    });
}

namespace {

void key_values(const redactor& r, std::string_view text, span_list& spans) {
    // key=value and "key": "value" where the key matches: query strings, connection strings
    // (password=...), logfmt, JSON embedded in a message. A key is read back from its separator
    // over key characters only, which never include a separator: no byte is read back twice.
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        const char sep = text[pos];
        if (sep != '=' && sep != ':') {
            continue;
        }
        std::size_t key_end = pos;
        const bool quoted_key = sep == ':' && key_end > 0 && text[key_end - 1] == '"';
        if (sep == ':' && !quoted_key) {
            continue;  // "session: started" is prose; only a JSON-style "key": counts
        }
        if (quoted_key) {
            --key_end;
        }
        std::size_t key_begin = key_end;
        while (key_begin > 0 && key_char(text[key_begin - 1])) {
            --key_begin;
        }
        if (key_begin == key_end ||
            (quoted_key && (key_begin == 0 || text[key_begin - 1] != '"')) ||
            !r.key_matches(text.substr(key_begin, key_end - key_begin))) {
            continue;
        }
        std::size_t p = pos + 1;
        while (sep == ':' && p < text.size() && (text[p] == ' ' || text[p] == '\t')) {
            ++p;
        }
        std::size_t end = p;
        if (p < text.size() && (text[p] == '"' || text[p] == '\'')) {
            const char quote = text[p];
            end = ++p;
            while (end < text.size() && text[end] != quote) {
                end += text[end] == '\\' && end + 1 < text.size() ? 2 : 1;
            }
            end = std::min(end, text.size());
        } else {
            while (end < text.size() && !is_space(text[end]) &&
                   std::strchr("&,;\"'", text[end]) == nullptr) {
                ++end;
            }
        }
        if (end > p) {
            add_span(spans, p, end);
            pos = end - 1;
        }
    }
}

}  // namespace

bool redactor::redact_text(std::string& text) const {
    // Cheap exits first: most rules need one of these bytes.
    const std::string_view view(text);
    const bool has_colon = view.find(':') != std::string_view::npos;
    const bool has_equals = view.find('=') != std::string_view::npos;
    // Reused by this thread: no allocation per record once warm.
    thread_local span_list spans;
    spans.clear();
    std::size_t ordered = 0;  // spans[0, ordered) are sorted
    const auto rule_done = [&] {
        // Each rule appends its spans in order: merge them into the sorted prefix.
        if (ordered > 0 && ordered < spans.size()) {
            std::inplace_merge(spans.begin(), spans.begin() + static_cast<std::ptrdiff_t>(ordered),
                               spans.end(),
                               [](const span& a, const span& b) { return a.begin < b.begin; });
        }
        ordered = spans.size();
    };
    if (has_colon) {
        url_credentials(view, spans);
        rule_done();
        authorization_headers(view, spans);
        rule_done();
    }
    bearer_tokens(view, spans);
    rule_done();
    aws_access_keys(view, spans);
    rule_done();
    if (has_equals || has_colon) {
        key_values(*this, view, spans);
        rule_done();
    }
    if (spans.empty()) {
        return false;
    }
    // One output: overlapping spans become one mask; a span that already is the mask stays.
    std::string out;
    bool changed = false;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < spans.size();) {
        std::size_t begin = spans[i].begin;
        std::size_t end = spans[i].end;
        for (++i; i < spans.size() && spans[i].begin < end; ++i) {
            end = std::max(end, spans[i].end);
        }
        begin = std::max(begin, copied);
        if (view.substr(begin, end - begin) == mask) {
            continue;
        }
        if (!changed) {
            out.reserve(text.size());
            changed = true;
        }
        out.append(view.substr(copied, begin - copied));
        out.append(mask);
        copied = end;
    }
    if (spans.capacity() > 4096) {
        span_list().swap(spans);  // a huge text does not pin its spans to the thread
    }
    if (!changed) {
        return false;
    }
    out.append(view.substr(copied));
    text = std::move(out);
    return true;
}

void redactor::redact_json(nlohmann::json& value) const {
    if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it) {
            if (!it.value().is_null() && key_matches(it.key())) {
                it.value() = std::string(mask);
            } else {
                redact_json(it.value());
            }
        }
    } else if (value.is_array()) {
        for (auto& element : value) {
            redact_json(element);
        }
    } else if (value.is_string()) {
        redact_text(value.get_ref<std::string&>());
    }
}

void redactor::apply(record& r) const {
    redact_text(r.message);
    if (!r.fields.is_null()) {
        redact_json(r.fields);
    }
}

}  // namespace spdlog_ext
