#include "spdlog_ext/redaction.h"

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/limits.h"
#include "core/redaction_scan.h"
#include "core/secret_keys.h"
#include "core/secret_pairs.h"
#include "core/secret_values.h"
#include "core/text.h"
#include "core/url_credentials.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext {

// The redactor itself: its keys (from_spec, key_matches), redact_text running the value rules
// (core/secret_values.h) and the key rules (core/secret_pairs.h) and building the output once,
// and the walk over a record's fields.
using namespace detail::redaction;  // the rules and what they scan with

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

namespace {
// Keys compare within the last key_words::max_chars bytes of a field's key: a key of the spec
// must fit with room to spare.
constexpr std::size_t max_spec_key = 64;
}  // namespace

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
            if (item.size() > max_spec_key) {
                throw config_error(
                    variable, variable + ": a key of " + std::to_string(item.size()) +
                                  " characters; keys have at most " + std::to_string(max_spec_key));
            }
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
    // Cheap exit first (a separator after a short word is common): a key needs at least as
    // many letters and digits as the shortest secret key.
    std::size_t letters = 0;
    for (const char c : key) {
        letters += is_alnum(c) ? 1 : 0;
    }
    if (std::none_of(keys_.begin(), keys_.end(),
                     [&](const std::string& secret) { return secret.size() <= letters; })) {
        return false;
    }
    const key_words words(key);
    return std::any_of(keys_.begin(), keys_.end(),
                       [&](const std::string& secret) { return names_secret(words, secret); });
}

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
    if (view.find('%') != std::string_view::npos) {
        encoded_pairs(*this, view, spans);
        rule_done();
    }
    json_web_tokens(view, spans);
    rule_done();
    prefixed_tokens(view, spans);
    rule_done();
    pem_private_keys(view, spans);
    rule_done();
    card_numbers(view, spans);
    rule_done();
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

namespace {

// A record_metric point: {"measurement": "...", "tags": {...}, "fields": {...}} (as the InfluxDB
// sink recognises it).
bool is_metric_point(const nlohmann::json& value) {
    if (!value.is_object()) {
        return false;
    }
    const auto measurement = value.find("measurement");
    const auto fields = value.find("fields");
    return measurement != value.end() && measurement->is_string() && fields != value.end() &&
           fields->is_object();
}

// Fields are capped at capture (core/limits.h); a tree from elsewhere deeper than that is cut
// here rather than recursed into without bound (nothing below the cut can leak).
void redact_value(const redactor& r, nlohmann::json& value, bool top, std::size_t depth = 1) {
    if (value.is_structured() && depth > detail::max_field_depth) {
        nlohmann::json deep = std::string(detail::depth_marker);
        std::swap(deep, value);
        detail::destroy_iteratively(std::move(deep));
        return;
    }
    if (value.is_object()) {
        for (auto it = value.begin(); it != value.end(); ++it) {
            nlohmann::json& v = it.value();
            if (v.is_null() || v.is_boolean() || v.is_number()) {
                continue;  // never masked: a type change breaks typed backends
            }
            if (top && it.key() == metric_field && is_metric_point(v)) {
                // A metric point's fields are measurements, never masked; its tags are text.
                auto tags = v.find("tags");
                if (tags != v.end()) {
                    redact_value(r, *tags, false, depth + 2);
                }
                r.redact_text(v["measurement"].get_ref<std::string&>());
            } else if (r.key_matches(it.key())) {
                v = std::string(redactor::mask);
            } else {
                redact_value(r, v, false, depth + 1);
            }
        }
    } else if (value.is_array()) {
        for (auto& element : value) {
            redact_value(r, element, false, depth + 1);
        }
    } else if (value.is_string()) {
        r.redact_text(value.get_ref<std::string&>());
    }
}

}  // namespace

void redactor::redact_json(nlohmann::json& value) const {
    redact_value(*this, value, true);
}

void redactor::apply(record& r) const {
    redact_text(r.message);
    if (!r.fields.is_null()) {
        redact_json(r.fields);
    }
}

namespace detail {

std::string mask_url_credentials(std::string text) {
    if (text.find("://") == std::string::npos) {
        return text;
    }
    span_list spans;
    url_credentials(text, spans);  // in order, not overlapping
    if (spans.empty()) {
        return text;
    }
    std::string out;
    out.reserve(text.size());
    std::size_t copied = 0;
    for (const span& s : spans) {
        out.append(text, copied, s.begin - copied);
        out += redactor::mask;
        copied = s.end;
    }
    out.append(text, copied, std::string::npos);
    return out;
}

}  // namespace detail

}  // namespace spdlog_ext
