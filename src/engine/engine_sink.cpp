#include "spdlog_ext/engine/engine_sink.h"

#include "engine/engine_core.h"
#include "engine/sink_directory.h"
#include "spdlog_ext/fields_flag.h"

namespace spdlog_ext {

engine_sink::engine_sink(std::unique_ptr<backend> backend, engine_config config)
    : core_(std::make_shared<detail::engine_core>(std::move(backend), std::move(config))) {
    directory_id_ = detail::join_sink_directory(core_);
    try {
        core_->start();
    } catch (...) {
        detail::leave_sink_directory(directory_id_);
        throw;
    }
}

engine_sink::~engine_sink() {
    detail::leave_sink_directory(directory_id_);
    core_->shutdown(core_->config().shutdown_timeout);
}

void engine_sink::log(const spdlog::details::log_msg& msg) {
    try {
        core_->log(msg);
    } catch (...) {
        // Out of memory while copying the record: nothing sensible is left to do, and the
        // logging call must not throw.
    }
}

void engine_sink::flush() {
    // Reached from logging calls (flush_on): never wait for a backend that is failing.
    core_->flush_for(core_->config().flush_timeout, /*unless_failing=*/true);
}

bool engine_sink::flush_for(std::chrono::milliseconds timeout) {
    return core_->flush_for(timeout);
}

void engine_sink::set_message_pattern(const std::string& pattern) {
    core_->set_message_formatter(pattern.empty() ? nullptr : make_pattern_formatter(pattern));
}

void engine_sink::set_message_formatter(std::unique_ptr<spdlog::formatter> formatter) {
    core_->set_message_formatter(std::move(formatter));
}

void engine_sink::set_pattern(const std::string& pattern) {
    if (core_->config().follow_logger_pattern) {
        set_message_pattern(pattern);
    }
}

void engine_sink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
    if (core_->config().follow_logger_pattern) {
        set_message_formatter(std::move(formatter));
    }
}

bool engine_sink::shutdown(std::chrono::milliseconds timeout) {
    return core_->shutdown(timeout);
}

sink_stats engine_sink::stats() const {
    return core_->stats();
}

const engine_config& engine_sink::config() const noexcept {
    return core_->config();
}

}  // namespace spdlog_ext
