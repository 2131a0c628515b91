// Internal: the Slack sink's configuration: read from the environment (SLACK_WEBHOOK_URL,
// LOG_SLACK_*), validated once, and the secrets the engine masks in its diagnostics.
#pragma once

#include <string>
#include <vector>

#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/slack_error_sink.h"

namespace spdlog_ext::detail {

inline constexpr const char* slack_insecure_variable = "LOG_SLACK_ALLOW_INSECURE_HTTP";

// Reads the configuration without validating it: the sink validates once, when it is built.
slack_config slack_config_from(const env_options& env);
// Throws config_error naming the first bad variable. True when the webhook URL is plain http://
// to a non-loopback host, allowed by LOG_SLACK_ALLOW_INSECURE_HTTP: the caller warns.
bool validate_slack_config(const slack_config& cfg);
// What the engine masks in its diagnostics: the whole webhook URL, and its path alone (it may
// appear without the host).
std::vector<std::string> slack_secrets(const slack_config& cfg);

}  // namespace spdlog_ext::detail
