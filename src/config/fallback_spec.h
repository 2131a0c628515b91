// Internal: LOG_<BACKEND>_FALLBACK read into what to build. The config layer parses and validates
// the value; the registry builds the sink (make_fallback_sink), so config includes no sink.
#pragma once

#include <spdlog/common.h>

#include <optional>
#include <string>

#include "spdlog_ext/env_options.h"

namespace spdlog_ext::detail {

struct fallback_spec {
    enum class kind { engine_default, standard_output, discard, jsonl_file };
    kind sink = kind::engine_default;  // engine_default: "stderr", the engine's own fallback
    std::string path;                  // jsonl_file: the file
};

// LOG_<BACKEND>_FALLBACK: stderr, stdout, null or file:<path>; empty when unset. Throws
// config_error for anything else.
std::optional<fallback_spec> fallback_spec_from(const env_options& env);

// The sink for `spec` (nullptr for engine_default). Declared here, defined by the registry
// (registry/fallback_sinks.cpp): a link-time seam, so apply_engine can set engine_config::fallback
// without the config layer including a sink.
spdlog::sink_ptr make_fallback_sink(const fallback_spec& spec);

}  // namespace spdlog_ext::detail
