// Internal: the state and worker behind engine_sink. It lives in a shared_ptr that the worker
// thread also holds, so a worker stuck in a backend past the shutdown deadline can be detached
// without leaving it a dangling `this`.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/thread_context.h"
#include "engine/delivery.h"
#include "engine/engine_counters.h"
#include "engine/reporting.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext::detail {

class engine_core : public std::enable_shared_from_this<engine_core>, private delivery_host {
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
    // A queued record in compact form: its strings live in the chunk's arena, so the logging
    // call copies bytes without allocating; the worker builds the `record` later.
    struct entry {  // 56 bytes: one cache line per record crosses to the worker
        spdlog::log_clock::time_point time;
        std::size_t thread_id = 0;
        std::shared_ptr<const field_snapshot> fields;  // null unless the call had fields
        std::uint32_t offset = 0;  // of the logger name in the arena; the other strings follow
        std::uint32_t message_len = 0;
        std::uint32_t bytes = 0;  // the record's share of the queue's byte limit
        std::int32_t source_line = 0;
        std::uint16_t logger_len = 0;
        std::uint16_t thread_name_len = 0;
        std::uint16_t file_len = 0;
        std::uint16_t function_len = 0;
        spdlog::level::level_enum level = spdlog::level::info;
    };
    // Append-only bytes; std::string would zero or re-check capacity on every append.
    struct byte_arena {
        std::unique_ptr<char[]> data;
        std::size_t size = 0;
        std::size_t capacity = 0;
        char* append(std::size_t n);
    };
    struct chunk {
        std::vector<entry> items;
        byte_arena arena;
        std::uint64_t first_seq = 0;  // items[i] has sequence number first_seq + i
        std::size_t head = 0;         // items before head were taken or dropped
        std::size_t bytes = 0;        // of the items from head on
        steady::time_point first_time;
        std::size_t live() const noexcept { return items.size() - head; }
    };
    struct batch {
        // Records [0, count) are this batch; the vector keeps its elements (and their string
        // capacity) between batches so the worker does not allocate per record.
        std::vector<record> records;
        std::vector<std::uint64_t> seqs;  // seqs[i]: the sequence number of records[i]
        std::size_t count = 0;
        std::size_t bytes = 0;
        std::uint64_t last_seq = 0;
    };
    // A message formatter and the first sequence number it applies to.
    struct formatter_change {
        std::uint64_t from_seq = 0;
        std::unique_ptr<spdlog::formatter> formatter;  // null: the plain payload
    };

    // What the logging call takes from a log_msg: the message (cut to max_record_bytes, then
    // `marker` follows it), the fields (cut too when over), and the record's queue bytes.
    struct captured {
        capture_info info;
        std::string_view payload;
        std::shared_ptr<const field_snapshot> fields;
        std::size_t bytes = 0;
        std::size_t marker_len = 0;
        char marker_text[48];  // filled only when cut: no string to build on the logging path
        std::string_view marker() const noexcept { return {marker_text, marker_len}; }
    };

    // Logging-call side.
    void capture(const spdlog::details::log_msg& msg, captured& c);
    void limit_size(captured& c);
    record to_record(const spdlog::details::log_msg& msg, const captured& c) const;
    void fallback_now(record rec, const std::string& reason);
    void request_stop_locked(steady::time_point deadline);
    void append_locked(const spdlog::details::log_msg& msg, captured& c);
    void recycle_locked(chunk&& spent);
    bool drop_oldest_locked();

    // Worker side.
    void run();
    bool next_batch(batch& out);
    void take_from_staging(batch& out);
    void process(batch& b);
    void reset_batch(batch& b);
    void render_messages(batch& b);
    void housekeeping();
    bool deadline_passed_locked(steady::time_point now) const;

    // delivery_host: each takes mu_ at most once.
    steady::time_point now() override { return steady::now(); }
    bool deadline_passed() override;
    bool sleep_until(steady::time_point t) override;
    void set_failing(bool failing) override;
    bool failing() const override { return failing_.load(std::memory_order_relaxed); }

    engine_config cfg_;
    std::unique_ptr<backend> backend_;
    engine_counters counters_;
    reporter report_;
    delivery delivery_;

    // Everything below up to `worker_` is guarded by mu_.
    mutable std::mutex mu_;
    std::condition_variable work_cv_;   // worker: new work, flush, stop
    std::condition_variable space_cv_;  // blocked producers: room in the queue
    std::condition_variable done_cv_;   // flush and shutdown waiters
    std::deque<chunk> inbox_;
    std::deque<chunk> spare_chunks_;  // FIFO: reuse the chunk the worker touched longest ago
    std::size_t inbox_records_ = 0;
    std::size_t inbox_bytes_ = 0;
    std::size_t pending_records_ = 0;  // inbox + staging + in flight
    std::size_t pending_bytes_ = 0;
    std::uint64_t next_seq_ = 0;
    std::uint64_t done_seq_ = 0;      // every record with seq < done_seq_ is finished
    std::uint64_t flush_ticket_ = 0;  // a flush waits for done_seq_ >= its ticket
    std::size_t blocked_producers_ = 0;
    bool worker_waiting_ = false;
    bool accepting_ = true;
    bool stop_requested_ = false;
    bool worker_exited_ = false;
    bool deadline_hit_ = false;  // records went to the fallback because of the deadline
    // The last write did not deliver (retry pending) and none has succeeded since. Written under
    // mu_ (flush waiters are woken); read without it on the logging path.
    std::atomic<bool> failing_{false};
    steady::time_point stop_deadline_{};
    // set_message_formatter() calls the worker has not picked up yet.
    std::vector<formatter_change> formatter_changes_;

    std::mutex shutdown_mu_;  // serialises shutdown() callers
    bool shut_down_ = false;
    bool drained_ = false;
    std::thread worker_;

    // Worker-only state.
    std::deque<chunk> staging_;
    std::vector<chunk> spent_chunks_;
    std::size_t staging_records_ = 0;
    std::size_t staging_bytes_ = 0;
    // The message formatters that records still to be rendered may need, by from_seq: each
    // record is formatted by the last one whose from_seq is not above its own.
    std::deque<formatter_change> worker_formatters_;
    steady::time_point last_housekeeping_{};

    // The message formatter in force now, for records that go to the fallback from the logging
    // call; also serialises set_message_formatter() (taken before mu_).
    std::mutex formatter_mu_;
    std::unique_ptr<spdlog::formatter> call_formatter_;

    std::uint64_t enqueued_ = 0;  // guarded by mu_ (the logging call holds it anyway)
};

}  // namespace spdlog_ext::detail
