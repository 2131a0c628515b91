// Secret redaction: masks sensitive data in a record before a network sink sends it. The engine
// applies a sink's redactor on its worker thread (engine_config::redaction), never in the
// logging call; network sinks have the default one unless LOG_<BACKEND>_REDACT says otherwise.
//
//   LOG_DATADOG_REDACT=off                 nothing is masked (also false, no, 0)
//   LOG_DATADOG_REDACT=default             the default keys and every text rule (the default;
//                                          also on, true, yes, 1)
//   LOG_DATADOG_REDACT=default,pin,ssn     the default keys plus these
//   LOG_DATADOG_REDACT=pin,ssn             only these keys (the text rules stay on)
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog_ext {

struct record;

class redactor {
  public:
    // What replaces a secret.
    static constexpr std::string_view mask = "[REDACTED]";

    // Keys masked by default. A field key matches one when its words (split at _ - . and other
    // punctuation, camelCase and letter/digit changes; lower-cased) spell it, or its plural, or
    // one word of 5+ letters ends with it (+ "id"/"s") — unless a quantity word says the key
    // measures it: access_token, X-Api-Key, sessionid, JSESSIONID, credentials match;
    // tokens_used, session_count, max_tokens, active_sessions, tokenizer do not. docs/redaction.md
    // lists the words. Keys compare as ASCII: look-alike Unicode keys are not caught.
    static const std::vector<std::string>& default_keys();
    // The default keys and every text rule; shared, immutable.
    static std::shared_ptr<const redactor> defaults();
    // off | default | [default,]key,key,... (off/default also as false/no/0, true/on/yes/1) —
    // throws config_error naming `variable` when the spec is malformed. Null for "off".
    static std::shared_ptr<const redactor> from_spec(std::string_view spec,
                                                     const std::string& variable);

    // Keys: matched on whole words as default_keys() says (case, _ - . and spaces ignored).
    explicit redactor(std::vector<std::string> keys);

    // The message and every field: string values under a matching key (whole objects and
    // arrays too) become the mask; numbers, booleans and null are never masked (a type change
    // breaks typed backends such as InfluxDB), nor the fields of a metric point (the `metric`
    // field of record_metric); other string values, at any depth, and the message go through
    // redact_text.
    void apply(record& r) const;
    // Fields only, as apply() treats them.
    void redact_json(nlohmann::json& value) const;
    // The text rules, linear in the text (every rule reads it once; the output is built once):
    // credentials in URLs (scheme://user:[REDACTED]@host), bearer tokens, Authorization
    // headers, AWS access key ids, JWTs, GitHub/GitLab/Slack tokens, PEM private key bodies,
    // Luhn-valid card numbers, and key=value / key: value / "key": "value" pairs (also with
    // spaces, single quotes, escaped JSON, Name: value headers) whose key matches, unless the
    // value is an unquoted number, true, false or null. Returns true when something was masked.
    bool redact_text(std::string& text) const;

    bool key_matches(std::string_view key) const;
    const std::vector<std::string>& keys() const noexcept { return keys_; }

  private:
    std::vector<std::string> keys_;  // lower-case
};

}  // namespace spdlog_ext
