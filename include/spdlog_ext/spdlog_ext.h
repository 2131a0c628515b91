// Everything in one include. Each piece also has its own header.
#pragma once

#include "spdlog_ext/config_error.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/engine/sink_stats.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/features.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/redaction.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"
#include "spdlog_ext/version.h"
