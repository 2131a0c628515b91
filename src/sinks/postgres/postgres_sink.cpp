// postgres_batch_sink: the engine with the PostgreSQL backend, and its logger factories.
#include "spdlog_ext/sinks/postgres_batch_sink.h"

#include <memory>
#include <string>
#include <utility>

#include "sinks/logger_factory.h"
#include "sinks/postgres/postgres_backend.h"
#include "sinks/postgres/postgres_config.h"

namespace spdlog_ext {

namespace {
engine_config prepared_engine(const postgres_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "postgres";
    }
    for (std::string& secret : detail::postgres_secrets(cfg)) {  // with PGPASSWORD, decoded forms
        engine.secrets.push_back(std::move(secret));
    }
    return engine;
}
}  // namespace

postgres_batch_sink::postgres_batch_sink(postgres_config config)
    : engine_sink(detail::make_postgres_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> postgres_logger_mt(const std::string& logger_name,
                                                   postgres_config config) {
    return detail::registered_logger<postgres_batch_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> postgres_logger_st(const std::string& logger_name,
                                                   postgres_config config) {
    return postgres_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
