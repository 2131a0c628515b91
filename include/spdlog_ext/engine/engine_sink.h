// engine_sink: the one implementation of queueing, batching, retry and fallback behind every
// network sink. A concrete sink is an engine_sink constructed with its backend.
//
// The logging call only copies the record into a bounded queue; formatting, encoding and
// sending happen on the sink's worker thread. It never throws into the logging call.
//
// Message and pattern: a record's message is the payload (level, logger, time and fields travel
// separately). The logger's pattern does not reach it: spdlog's logger->set_pattern(),
// spdlog::set_pattern() and the like are ignored (unless engine_config::follow_logger_pattern).
// Only set_message_pattern() / set_message_formatter() on the sink (LOG_<BACKEND>_PATTERN in
// the registry) format the message, each record with the pattern in force when it was logged.
// Manual: docs/architecture.md (the engine), docs/lifecycle.md.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext {

namespace detail {
class engine_core;
}

class engine_sink : public spdlog::sinks::sink {
  public:
    engine_sink(std::unique_ptr<backend> backend, engine_config config);
    ~engine_sink() override;  // shutdown(config.shutdown_timeout)

    engine_sink(const engine_sink&) = delete;
    engine_sink& operator=(const engine_sink&) = delete;

    void log(const spdlog::details::log_msg& msg) override;
    // Waits until everything logged before the call is delivered or in the fallback, at most
    // config.flush_timeout. Returns at once when called from the sink's own worker.
    void flush() override;
    // The same with an explicit bound; true when everything was drained in time.
    bool flush_for(std::chrono::milliseconds timeout);

    // The explicit, sink-specific choice: records logged from now on have their message replaced
    // by the formatted text (without the line ending; after redaction) before it is encoded;
    // records already queued keep the pattern in force when they were logged. The pattern knows
    // %* (fields). An empty pattern / a null formatter: back to the plain payload.
    void set_message_pattern(const std::string& pattern);
    void set_message_formatter(std::unique_ptr<spdlog::formatter> formatter);

    // spdlog's sink interface, called by logger->set_pattern()/set_formatter(),
    // spdlog::set_pattern() and spdlog::initialize_logger() on every sink: ignored unless
    // config().follow_logger_pattern, then the same as set_message_pattern/_formatter().
    void set_pattern(const std::string& pattern) override;
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

    // Stops accepting work and drains within `timeout`: what is still queued at the deadline
    // goes to the fallback. Idempotent. True when everything was drained by the deadline.
    // Records logged afterwards go straight to the fallback.
    bool shutdown(std::chrono::milliseconds timeout);

    sink_stats stats() const;
    const engine_config& config() const noexcept;

  private:
    std::shared_ptr<detail::engine_core> core_;
    std::uint64_t directory_id_ = 0;  // in the list of live sinks (spdlog_ext/health.h)
};

}  // namespace spdlog_ext
