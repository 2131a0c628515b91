// Internal: the engine's message formatters (set_message_formatter). The worker renders each
// record with the formatter in force when it was logged (picked by sequence number); the
// logging-call fallback uses a clone of the current one under this class's mutex.
#pragma once

#include <spdlog/formatter.h>

#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/batch.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

class message_formats {
  public:
    // Logging-call side. `queue_change(formatter)` hands the worker's formatter to the queue;
    // it runs under this class's mutex (lock order: this mutex, then the queue's).
    template <typename QueueChange>
    void change(std::unique_ptr<spdlog::formatter> formatter, QueueChange&& queue_change) {
        // Formatters are not thread-safe: the worker gets this one, the logging-call fallback
        // a clone.
        auto for_calls = formatter ? formatter->clone() : nullptr;
        std::lock_guard<std::mutex> serial(mu_);
        queue_change(std::move(formatter));
        call_formatter_ = std::move(for_calls);
    }
    // The message of a record going to the fallback from the logging call, with the formatter
    // in force now (if any).
    void format_for_call(record& rec);

    // Worker side: takes the changes next_batch() handed over; then, per batch, begin_batch()
    // (false: no record of it needs a formatter) and render() for each record, in any order.
    void take(std::vector<formatter_change>& changes);
    bool begin_batch(const worker_batch& b);
    void render(worker_batch& b, std::size_t i);

  private:
    // Serialises change() and guards call_formatter_.
    std::mutex mu_;
    std::unique_ptr<spdlog::formatter> call_formatter_;
    // Worker only: the formatters that records still to be rendered may need, by from_seq;
    // each record is formatted by the last one whose from_seq is not above its own.
    std::deque<formatter_change> worker_formatters_;
    spdlog::memory_buf_t buf_;  // worker only
};

}  // namespace spdlog_ext::detail
