// Internal: the InfluxDB sink's configuration: read from the environment (INFLUX_*,
// LOG_INFLUX_*), validated once, and the secrets the engine masks in its diagnostics.
#pragma once

#include <string>
#include <vector>

#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"

namespace spdlog_ext::detail {

inline constexpr const char* influx_insecure_variable = "LOG_INFLUX_ALLOW_INSECURE_HTTP";

// Reads the configuration without validating it: the sink validates once, when it is built.
// Throws config_error only when the API cannot be told (neither v1 nor v2 variables set).
influx_config influx_config_from(const env_options& env);
// Throws config_error naming the first bad variable. True when INFLUX_HOST is plain http:// to a
// non-loopback host, allowed by LOG_INFLUX_ALLOW_INSECURE_HTTP: the caller warns.
bool validate_influx_config(const influx_config& cfg);
// What the engine masks in its diagnostics.
std::vector<std::string> influx_secrets(const influx_config& cfg);

}  // namespace spdlog_ext::detail
