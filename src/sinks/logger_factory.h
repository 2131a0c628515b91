// Internal: the <sink>_logger_mt/_st factories: a logger with one sink, set up as spdlog's own
// factories (spdlog::basic_logger_mt, ...) set theirs up. The rules are in registry.h, at
// make_logger.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>

namespace spdlog_ext::detail {

template <typename Sink, typename Config>
std::shared_ptr<spdlog::logger> registered_logger(const std::string& logger_name, Config config) {
    auto logger =
        std::make_shared<spdlog::logger>(logger_name, std::make_shared<Sink>(std::move(config)));
    // Global level (or SPDLOG_LEVEL's level for this name, once spdlog::cfg loaded it), flush
    // level, error handler, backtrace, and registration when automatic registration is on.
    spdlog::initialize_logger(logger);
    return logger;
}

}  // namespace spdlog_ext::detail
