// The InfluxDB sink: its engine settings and the factories (config: influx_config.h; backend:
// influx_backend.h).
#include <spdlog/spdlog.h>

#include "sinks/influx/influx_backend.h"
#include "sinks/influx/influx_config.h"
#include "sinks/logger_factory.h"

namespace spdlog_ext {

namespace {
engine_config prepared_engine(const influx_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "influx";
    }
    for (std::string& secret : detail::influx_secrets(cfg)) {
        engine.secrets.push_back(std::move(secret));
    }
    return engine;
}
}  // namespace

influx_timeseries_sink::influx_timeseries_sink(influx_config config)
    : engine_sink(detail::make_influx_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> influx_logger_mt(const std::string& logger_name,
                                                 influx_config config) {
    return detail::registered_logger<influx_timeseries_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> influx_logger_st(const std::string& logger_name,
                                                 influx_config config) {
    return influx_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
