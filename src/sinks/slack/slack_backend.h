// Internal: the Slack backend (encoder: slack_message; transport: the shared HTTP transport).
#pragma once

#include <memory>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/slack_error_sink.h"

namespace spdlog_ext::detail {

void validate_slack_config(const slack_config& cfg);
// Validates `cfg` first (config_error), then builds the backend; it does not connect.
std::unique_ptr<backend> make_slack_backend(const slack_config& cfg);
slack_config slack_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
