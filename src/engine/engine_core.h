// Internal: the state and worker behind engine_sink. It lives in a shared_ptr that the worker
// thread also holds, so a worker stuck in a backend past the shutdown deadline can be detached
// without leaving it a dangling `this`. It owns the thread and wires the pieces: record_queue
// (queue, flush, stop), delivery (the backend's outcomes), reporter (errors, fallback),
// message_formats and the counters.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/batch.h"
#include "engine/batch_preparation.h"
#include "engine/delivery.h"
#include "engine/engine_counters.h"
#include "engine/message_formats.h"
#include "engine/record_queue.h"
#include "engine/reporting.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext::detail {

class engine_core : public std::enable_shared_from_this<engine_core> {
  public:
    engine_core(std::unique_ptr<backend> backend, engine_config config);
    ~engine_core();

    void start();
    void log(const spdlog::details::log_msg& msg);
    // With `unless_failing`, returns false at once (and stops waiting) while the backend is
    // failing: a write was refused or errored, a retry is pending, or the backend is disabled.
    bool flush_for(std::chrono::milliseconds timeout, bool unless_failing = false);
    // Stops accepting records and asks the worker to drain by now + timeout; does not wait.
    void request_stop(std::chrono::milliseconds timeout);
    bool shutdown(std::chrono::milliseconds timeout);
    // The message formatter for records logged from now on (null: the plain payload).
    void set_message_formatter(std::unique_ptr<spdlog::formatter> formatter);
    sink_stats stats() const;
    const engine_config& config() const noexcept { return cfg_; }

  private:
    // Logging-call side.
    void capture(const spdlog::details::log_msg& msg, captured_call& c);
    void limit_size(captured_call& c);
    record to_record(const spdlog::details::log_msg& msg, const captured_call& c) const;
    void fallback_now(record rec, const std::string& reason);

    // Worker side.
    void run();
    void process(worker_batch& b);
    void housekeeping();

    engine_config cfg_;
    std::unique_ptr<backend> backend_;
    engine_counters counters_;
    reporter report_;
    record_queue queue_;
    message_formats formats_;
    batch_preparation preparation_;  // before delivery_, which uses it
    delivery delivery_;

    std::mutex shutdown_mu_;  // serialises shutdown() callers
    bool shut_down_ = false;
    bool drained_ = false;
    std::thread worker_;

    // Worker-only state.
    steady::time_point last_housekeeping_{};
};

}  // namespace spdlog_ext::detail
