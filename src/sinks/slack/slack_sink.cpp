// The Slack sink: its engine settings and the factories (config: slack_config.h; backend:
// slack_backend.h).
#include <spdlog/spdlog.h>

#include "sinks/logger_factory.h"
#include "sinks/slack/slack_backend.h"
#include "sinks/slack/slack_config.h"

namespace spdlog_ext {

namespace {
engine_config prepared_engine(const slack_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "slack";
    }
    for (std::string& secret : detail::slack_secrets(cfg)) {
        engine.secrets.push_back(std::move(secret));
    }
    return engine;
}
}  // namespace

slack_error_sink::slack_error_sink(slack_config config)
    : engine_sink(detail::make_slack_backend(config),  // validates the config
                  prepared_engine(config)) {
    set_level(config.level);
}

std::shared_ptr<spdlog::logger> slack_logger_mt(const std::string& logger_name,
                                                slack_config config) {
    return detail::registered_logger<slack_error_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> slack_logger_st(const std::string& logger_name,
                                                slack_config config) {
    return slack_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
