// engine_sink: the one implementation of queueing, batching, retry and fallback behind every
// network sink. A concrete sink is an engine_sink constructed with its backend.
//
// The logging call only copies the record into a bounded queue; formatting, encoding and
// sending happen on the sink's worker thread. It never throws into the logging call.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <chrono>
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

    // With a pattern or formatter set, each record's message is replaced by the formatted text
    // (without the line ending) before it is encoded; by default the message is the payload.
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
};

}  // namespace spdlog_ext
