// Internal: the `file` backend's configuration from LOG_FILE_* (the registry's factory), next to
// its sink like the other backends' <name>_config.
#pragma once

#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"

namespace spdlog_ext::detail {

// LOG_FILE_PATH (not empty), _WEEKLY, _MAX_SIZE, _MAX_FILES, _UTC; throws config_error.
jsonl_file_config file_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
