// Everything in one include: every public header of this build, the sinks included. The
// PostgreSQL and network parts are included when the build has them (spdlog_ext/features.h:
// SPDLOG_EXT_WITH_POSTGRES for postgres_batch_sink and postgres_log_store, SPDLOG_EXT_WITH_HTTP
// for datadog_http_sink, slack_error_sink and influx_timeseries_sink). Each piece also has its
// own header.
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
#include "spdlog_ext/health.h"
#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/redaction.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/runtime_levels.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"
#include "spdlog_ext/timer.h"
#include "spdlog_ext/version.h"

#if SPDLOG_EXT_WITH_POSTGRES
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#endif
#if SPDLOG_EXT_WITH_HTTP
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#endif
