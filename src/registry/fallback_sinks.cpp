// The sinks LOG_<BACKEND>_FALLBACK names, built for the config layer's apply_engine (the
// definition of config/fallback_spec.h's make_fallback_sink).
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

#include "config/fallback_spec.h"
#include "format/fallback_pattern.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"

namespace spdlog_ext::detail {

spdlog::sink_ptr make_fallback_sink(const fallback_spec& spec) {
    switch (spec.sink) {
        case fallback_spec::kind::standard_output: {
            auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
            sink->set_formatter(make_pattern_formatter(fallback_pattern));
            return sink;
        }
        case fallback_spec::kind::discard:
            return std::make_shared<spdlog::sinks::null_sink_mt>();
        case fallback_spec::kind::jsonl_file: {
            jsonl_file_config file;
            file.path = spec.path;
            return std::make_shared<jsonl_file_sink_mt>(file);
        }
        case fallback_spec::kind::engine_default:
            break;
    }
    return nullptr;  // the engine's default stderr fallback
}

}  // namespace spdlog_ext::detail
