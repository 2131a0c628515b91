// Internal: delivery of one batch to the backend, the outcome state machine (retry with backoff,
// split/isolate bisection, partial, rejected, disable, possible duplicates) and write-slot
// pacing. It runs on the worker only and talks to the queue through delivery_host, so tests
// can drive it with a scripted backend and a virtual clock, no queue and no thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/backoff.h"
#include "engine/engine_counters.h"
#include "engine/reporting.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/engine/engine_config.h"

namespace spdlog_ext::detail {

using steady = std::chrono::steady_clock;

// What delivery needs from the rest of the engine: the clock, the shutdown deadline, waits that
// a shutdown cuts short, and the "failing" flag flush waiters watch. record_queue implements it
// (each call takes the queue's lock at most once); tests fake it.
class delivery_host {
  public:
    virtual steady::time_point now() = 0;
    // True when the shutdown deadline has passed (the records then go to the fallback).
    virtual bool deadline_passed() = 0;
    // Waits until `t`, or less when a shutdown deadline comes first; false when that deadline
    // has passed.
    virtual bool sleep_until(steady::time_point t) = 0;
    virtual void set_failing(bool failing) = 0;
    virtual bool failing() const = 0;

  protected:
    ~delivery_host() = default;
};

class delivery {
  public:
    // All references must outlive this. `preparer` masks and renders records before the
    // backend or the fallback reads them (null: they are sent as they are).
    delivery(backend& backend, const engine_config& cfg, reporter& report,
             engine_counters& counters, delivery_host& host, record_preparer* preparer = nullptr);

    // Delivers records [first, first + n) of one batch, or hands them to the fallback: returns
    // when each record has its final outcome.
    void send(record* first, std::size_t n);
    // The end of the last backend write: min_write_interval counts from it.
    std::optional<steady::time_point> last_write() const noexcept { return last_write_; }

  private:
    // Records [begin, end) of the batch at `records`, and how far their delivery got.
    struct range {
        record* records;
        std::size_t begin;
        std::size_t end;
        std::uint64_t id;
        steady::time_point started;
        std::size_t attempts = 0;
        // Writes of these records whose outcome was unknown (timeout, reset after sending):
        // each may have left a copy at the receiver, so n possible duplicates per such write,
        // settled when the range ends (halves inherit the count and settle it themselves).
        std::size_t unknown = 0;
        bool to_halves = false;
        std::size_t size() const noexcept { return end - begin; }
        record* first() const noexcept { return records + begin; }
    };

    void send_range(record* records, std::size_t begin, std::size_t end,
                    std::size_t unknown_before);
    // Why the range cannot be written any more (disabled, past the deadline), if so.
    std::optional<std::string> stop_reason(const range& r);
    bool wait_for_write_slot();
    batch_result write_once(range& r);
    void on_accepted(const range& r, batch_result& result);
    // True: try again (after the backoff wait).
    bool on_retry(range& r, const batch_result& result);
    void on_split_or_isolate(range& r, const batch_result& result);
    void on_rejected(const range& r, const batch_result& result);
    void on_disable(const batch_result& result);
    void give_up(const range& r, const std::string& reason);
    // Records [first, first + n) of the batch, masked and rendered before anyone reads them.
    void prepare(std::size_t first, std::size_t n);

    backend& backend_;
    const engine_config& cfg_;
    reporter& report_;
    engine_counters& counters_;
    delivery_host& host_;
    record_preparer* preparer_;
    backoff backoff_;
    std::uint64_t next_range_id_ = 0;
    std::uint64_t source_id_ = 0;  // of the batch being sent
    std::optional<steady::time_point> last_write_;
};

}  // namespace spdlog_ext::detail
