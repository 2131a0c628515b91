// Internal: the Datadog backend (encoder: JSON log items; transport: the shared HTTP transport).
#pragma once

#include <memory>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"

namespace spdlog_ext::detail {

void validate_datadog_config(const datadog_config& cfg);
// Validates `cfg` first (config_error), then builds the backend; it does not connect.
std::unique_ptr<backend> make_datadog_backend(const datadog_config& cfg);
datadog_config datadog_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
