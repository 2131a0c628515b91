// The redactor: planted secrets (URL credentials, a bearer token, an Authorization header, a
// secret key's value, JWTs, GitHub/GitLab/Slack tokens, a PEM private key) never
// survive; output stays valid UTF-8 when the input was; redacting twice changes nothing more;
// redact_json keeps the JSON's shape and types (numbers, booleans, null and metric points are
// never masked) and stays serialisable; from_spec accepts a spec or throws config_error.
// Now and then a piece of the input is repeated to 512 KiB and redacted once: every rule is
// linear, so this stays far below scripts/fuzz.sh's per-input timeout for fuzz_redactor; a
// super-linear rule (issue 15: 16-54 s for 1 MiB of "a://") trips it.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/redaction.h"

namespace {

using nlohmann::json;

const std::string canary = "CANARY";

std::string without_canary(std::string s) {
    for (auto at = s.find(canary); at != std::string::npos; at = s.find(canary, at)) {
        s[at + 5] = 'X';
    }
    return s;
}

json without_canary(const json& j) {
    if (j.is_string()) {
        return without_canary(j.get<std::string>());
    }
    if (j.is_array()) {
        json out = json::array();
        for (const auto& v : j) {
            out.push_back(without_canary(v));
        }
        return out;
    }
    if (j.is_object()) {
        json out = json::object();
        for (const auto& [k, v] : j.items()) {
            out[without_canary(k)] = without_canary(v);
        }
        return out;
    }
    return j;
}

bool holds_canary(const json& j) {
    return !fuzz::all_strings(
        j, [](const std::string& s) { return s.find(canary) == std::string::npos; });
}

// `after` has `before`'s shape: same keys, arrays of the same length, scalars of other types
// unchanged; a non-null value under a matching key is the mask instead.
void check_shape(const spdlog_ext::redactor& r, const json& before, const json& after,
                 const std::string& path, const std::string& shown) {
    if (before.is_object()) {
        FUZZ_CHECK(after.is_object() && after.size() == before.size(), "object changed at " + path,
                   shown);
        for (const auto& [k, v] : before.items()) {
            FUZZ_CHECK(after.contains(k), "key lost at " + path + "/" + k, shown);
            const json& a = after[k];
            const bool metric_point = path.empty() && k == spdlog_ext::metric_field &&
                                      v.is_object() && v.contains("measurement") &&
                                      v["measurement"].is_string() && v.contains("fields") &&
                                      v["fields"].is_object();
            if (metric_point) {
                FUZZ_CHECK(a["fields"] == v["fields"], "metric fields changed", shown);
            } else if (r.key_matches(k) && !v.is_null() && !v.is_boolean() && !v.is_number()) {
                // (null, booleans and numbers are never masked: a type change)
                FUZZ_CHECK(a == std::string(spdlog_ext::redactor::mask),
                           "secret key " + k + " not masked", shown);
            } else {
                check_shape(r, v, a, path + "/" + k, shown);
            }
        }
    } else if (before.is_array()) {
        FUZZ_CHECK(after.is_array() && after.size() == before.size(), "array changed at " + path,
                   shown);
        for (std::size_t i = 0; i < before.size(); ++i) {
            check_shape(r, before[i], after[i], path + "/" + std::to_string(i), shown);
        }
    } else if (before.is_string()) {
        FUZZ_CHECK(after.is_string(), "string became another type at " + path, shown);
    } else {
        FUZZ_CHECK(before.dump() == after.dump(), "scalar changed at " + path, shown);
    }
}

// The text with a secret planted at a token boundary. The key-value shapes only when the
// redactor (maybe from a fuzzed spec) has their key; the other rules hold for any key list.
std::string plant(FuzzedDataProvider& p, const spdlog_ext::redactor& r, const std::string& text) {
    static const std::vector<std::string> secrets = {
        "https://user:CANARYsecret123@host/",
        "postgresql://app:CANARYpw@db:5432/x",
        "Authorization: Bearer CANARYtok",
        "Bearer CANARYtok0123456789",
        "Authorization: Basic CANARYdXNlcjpwYXNz",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.CANARYsig",
        "ghp_CANARY0123456789abcdefghijABCDEFGHIJ",
        "glpat-CANARYabcdefghij0123",
        "xoxb-CANARY123456-abcdef",
        "-----BEGIN PRIVATE KEY-----\nMIICANARY\n-----END PRIVATE KEY-----",
        "postgresql://app:CANARY/pw@db/x"};
    static const std::vector<std::pair<std::string, std::string>> keyed = {
        {"password", "password = CANARYx"},
        {"password", "{\\\"password\\\":\\\"CANARYx\\\"}"},
        {"X-Api-Key", "X-Api-Key: CANARYkey value"},
        {"Authorization", "Authorization=Basic CANARYdXNl"}};
    const std::size_t at = p.ConsumeIntegralInRange<std::size_t>(0, text.size());
    std::string secret = fuzz::pick(p, secrets);
    if (p.ConsumeBool()) {
        const auto& [key, shape] = fuzz::pick(p, keyed);
        if (r.key_matches(key)) {
            secret = shape;
        }
    }
    return text.substr(0, at) + " " + secret + " " + text.substr(at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider p(data, size);
    std::shared_ptr<const spdlog_ext::redactor> red = spdlog_ext::redactor::defaults();
    if (p.ConsumeIntegralInRange<int>(0, 3) == 0) {
        const std::string spec = fuzz::hostile_string(p, 48);
        try {
            red = spdlog_ext::redactor::from_spec(spec, "LOG_FUZZ_REDACT");
        } catch (const spdlog_ext::config_error&) {
            return 0;
        }
        if (!red) {
            return 0;  // "off"
        }
        for (const auto& k : red->keys()) {
            FUZZ_CHECK(!k.empty(), "empty key from spec", spec);
        }
    }
    const spdlog_ext::redactor& r = *red;

    // Linear time: a short piece repeated to 512 KiB, redacted once (1 input in 32; 31, not 0: an
    // exhausted input reads 0).
    if (p.ConsumeIntegralInRange<int>(0, 31) == 31) {
        const std::string unit = fuzz::hostile_string(p, 16);
        if (!unit.empty()) {
            std::string big;
            big.reserve((std::size_t(1) << 19) + unit.size());
            while (big.size() < (std::size_t(1) << 19)) {
                big += unit;
            }
            r.redact_text(big);
        }
    }

    // Text rules.
    std::string text = without_canary(fuzz::hostile_string(p, 512));
    if (p.ConsumeBool()) {
        text = plant(p, r, text);
    }
    const bool was_valid = fuzz::valid_utf8(text);
    std::string once = text;
    r.redact_text(once);
    FUZZ_CHECK(!was_valid || fuzz::valid_utf8(once), "redact_text broke UTF-8", once);
    FUZZ_CHECK(once.find(canary) == std::string::npos, "planted secret survived", once);
    std::string twice = once;
    FUZZ_CHECK(!r.redact_text(twice) && twice == once, "redact_text is not idempotent",
               once + "\n ---> \n" + twice);

    // Fields: a secret key's value and a secret inside a string, planted somewhere in the tree.
    json fields = without_canary(fuzz::json_value(p, 4));
    if (!fields.is_object()) {
        fields = json{{"value", fields}};
    }
    json* target = &fields;
    for (int depth = p.ConsumeIntegralInRange<int>(0, 3); depth > 0; --depth) {
        json* next = nullptr;
        for (auto& [k, v] : target->items()) {
            if (v.is_object() && !r.key_matches(k)) {
                next = &v;
            }
        }
        if (next == nullptr) {
            break;
        }
        target = next;
    }
    if (!r.keys().empty() && p.ConsumeBool()) {
        (*target)[fuzz::pick(p, r.keys())] = "CANARY-value";
    } else {
        (*target)["note"] = plant(p, r, "");
        if (r.key_matches("note")) {
            (*target)["note"] = plant(p, r, "x");
        }
    }
    const std::string strict_before = fuzz::strict_dump(fields);
    json redacted = fields;
    r.redact_json(redacted);
    const std::string shown = redacted.dump(-1, ' ', false, json::error_handler_t::replace);
    FUZZ_CHECK(!holds_canary(redacted), "planted secret survived in fields", shown);
    check_shape(r, fields, redacted, "", shown);
    if (!strict_before.empty()) {
        try {
            (void)redacted.dump(-1, ' ', false, json::error_handler_t::strict);
        } catch (const json::exception& e) {
            fuzz::fail(std::string("redacted fields no longer serialise: ") + e.what(), shown);
        }
    }
    json again = redacted;
    r.redact_json(again);
    // Compared as text: a NaN field is never == itself.
    FUZZ_CHECK(again.dump(-1, ' ', false, json::error_handler_t::replace) == shown,
               "redact_json is not idempotent", shown);

    // The whole record, as the engine applies it.
    spdlog_ext::record rec;
    rec.message = text;
    rec.fields = fields;
    r.apply(rec);
    FUZZ_CHECK(rec.message == once, "apply() treats the message unlike redact_text", rec.message);
    FUZZ_CHECK(rec.fields.dump(-1, ' ', false, json::error_handler_t::replace) == shown,
               "apply() treats fields unlike redact_json", shown);
    return 0;
}
