// Internal: the InfluxDB backend (encoder: line_encoder; transport: the shared HTTP transport).
#pragma once

#include <memory>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"

namespace spdlog_ext::detail {

void validate_influx_config(const influx_config& cfg);
// Validates `cfg` first (config_error), then builds the backend; it does not connect.
std::unique_ptr<backend> make_influx_backend(const influx_config& cfg);
influx_config influx_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
