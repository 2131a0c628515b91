// The built-in backends' factories: each reads its LOG_<NAME>_* options (the sinks' own
// <name>_config_from) and builds its sink.
#include "registry/builtin_backends.h"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <memory>

#include "sinks/file/file_config.h"
#include "spdlog_ext/features.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"

#if SPDLOG_EXT_WITH_POSTGRES
#include "sinks/postgres/postgres_config.h"
#endif
#if SPDLOG_EXT_WITH_HTTP
#include "sinks/datadog/datadog_config.h"
#include "sinks/influx/influx_config.h"
#include "sinks/slack/slack_config.h"
#endif

namespace spdlog_ext::detail {

namespace {

spdlog::color_mode console_color(const env_options& env) {
    return env.get_enum<spdlog::color_mode>("COLOR", spdlog::color_mode::automatic,
                                            {{"auto", spdlog::color_mode::automatic},
                                             {"always", spdlog::color_mode::always},
                                             {"never", spdlog::color_mode::never}});
}

spdlog::sink_ptr make_console(const env_options& env) {
    auto sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>(console_color(env));
    sink->set_formatter(make_pattern_formatter(default_text_pattern));
    return sink;
}

spdlog::sink_ptr make_stderr(const env_options& env) {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(console_color(env));
    sink->set_formatter(make_pattern_formatter(default_text_pattern));
    return sink;
}

spdlog::sink_ptr make_file(const env_options& env) {
    return std::make_shared<jsonl_file_sink_mt>(file_config_from(env));
}

spdlog::sink_ptr make_null(const env_options&) {
    return std::make_shared<spdlog::sinks::null_sink_mt>();
}

}  // namespace

std::map<std::string, backend_factory> builtin_backends() {
    std::map<std::string, backend_factory> factories;
    factories["console"] = make_console;
    factories["stderr"] = make_stderr;
    factories["file"] = make_file;
    factories["null"] = make_null;
#if SPDLOG_EXT_WITH_POSTGRES
    factories["postgres"] = [](const env_options& env) -> spdlog::sink_ptr {
        return std::make_shared<postgres_batch_sink>(postgres_config_from(env));
    };
#endif
#if SPDLOG_EXT_WITH_HTTP
    factories["datadog"] = [](const env_options& env) -> spdlog::sink_ptr {
        return std::make_shared<datadog_http_sink>(datadog_config_from(env));
    };
    factories["slack"] = [](const env_options& env) -> spdlog::sink_ptr {
        return std::make_shared<slack_error_sink>(slack_config_from(env));
    };
    factories["influx"] = [](const env_options& env) -> spdlog::sink_ptr {
        return std::make_shared<influx_timeseries_sink>(influx_config_from(env));
    };
#endif
    return factories;
}

}  // namespace spdlog_ext::detail
