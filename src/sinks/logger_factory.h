// Internal: the <sink>_logger_mt factories: a logger with one sink, registered with spdlog.
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
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace spdlog_ext::detail
