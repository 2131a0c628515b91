// The Datadog sink: its engine settings and the factories (config: datadog_config.h; backend:
// datadog_backend.h).
#include <spdlog/spdlog.h>

#include "sinks/datadog/datadog_backend.h"
#include "sinks/datadog/datadog_config.h"
#include "sinks/logger_factory.h"

namespace spdlog_ext {

namespace {
engine_config prepared_engine(const datadog_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "datadog";
    }
    for (std::string& secret : detail::datadog_secrets(cfg)) {
        engine.secrets.push_back(std::move(secret));
    }
    return engine;
}
}  // namespace

datadog_http_sink::datadog_http_sink(datadog_config config)
    : engine_sink(detail::make_datadog_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> datadog_logger_mt(const std::string& logger_name,
                                                  datadog_config config) {
    return detail::registered_logger<datadog_http_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> datadog_logger_st(const std::string& logger_name,
                                                  datadog_config config) {
    return datadog_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
