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

    // Key fragments masked by default (a field is masked when its lower-cased key contains one).
    static const std::vector<std::string>& default_keys();
    // The default keys and every text rule; shared, immutable.
    static std::shared_ptr<const redactor> defaults();
    // off | default | [default,]key,key,... (off/default also as false/no/0, true/on/yes/1) —
    // throws config_error naming `variable` when the spec is malformed. Null for "off".
    static std::shared_ptr<const redactor> from_spec(std::string_view spec,
                                                     const std::string& variable);

    // Keys: fragments matched case-insensitively anywhere in a field's key.
    explicit redactor(std::vector<std::string> keys);

    // The message and every field: values under a matching key (whole objects and arrays too)
    // become the mask; other string values, at any depth, and the message go through
    // redact_text.
    void apply(record& r) const;
    // Fields only, as apply() treats them.
    void redact_json(nlohmann::json& value) const;
    // The text rules: credentials in URLs (scheme://user:[REDACTED]@host), bearer tokens,
    // Authorization headers, AWS access key ids, and key=value / key: value pairs whose key
    // matches. Returns true when something was masked.
    bool redact_text(std::string& text) const;

    bool key_matches(std::string_view key) const;
    const std::vector<std::string>& keys() const noexcept { return keys_; }

  private:
    std::vector<std::string> keys_;  // lower-case
};

}  // namespace spdlog_ext
