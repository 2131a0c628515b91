// Internal: masks the exact secret strings a sink knows (API keys, passwords, webhook paths) in
// its own diagnostics: errors, fallback reasons, stats. Users' records are redacted by
// patterns instead (redaction.h); docs/redaction.md says why there are two mechanisms.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace spdlog_ext::detail {

// Every occurrence of each non-empty secret becomes `marker`, scanning on after the marker so
// a marker containing the secret cannot loop.
inline std::string mask_secrets(std::string text, const std::vector<std::string>& secrets,
                                std::string_view marker) {
    for (const auto& secret : secrets) {
        if (secret.empty()) {
            continue;
        }
        for (auto pos = text.find(secret); pos != std::string::npos;
             pos = text.find(secret, pos + marker.size())) {
            text.replace(pos, secret.size(), marker);
        }
    }
    return text;
}

}  // namespace spdlog_ext::detail
