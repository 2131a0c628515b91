// Internal: the Datadog sink's configuration: read from the environment (DD_*, LOG_DATADOG_*),
// validated once, and the secrets the engine masks in its diagnostics.
#pragma once

#include <string>
#include <vector>

#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"

namespace spdlog_ext::detail {

inline constexpr const char* datadog_insecure_variable = "LOG_DATADOG_ALLOW_INSECURE_HTTP";

// Reads the configuration without validating it: the sink validates once, when it is built.
datadog_config datadog_config_from(const env_options& env);
// Throws config_error naming the first bad variable. True when the intake URL is plain http://
// to a non-loopback host, allowed by LOG_DATADOG_ALLOW_INSECURE_HTTP: the caller warns.
bool validate_datadog_config(const datadog_config& cfg);
// Once per sink built (not in validate, which from_env() runs too): a DD_SITE that is not a
// known Datadog site is only a warning.
void warn_unknown_datadog_site(const datadog_config& cfg);
// What the engine masks in its diagnostics.
std::vector<std::string> datadog_secrets(const datadog_config& cfg);

}  // namespace spdlog_ext::detail
