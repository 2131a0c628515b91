// Internal: the engine's record queue. Logging calls append compact records to chunks (text in
// an arena, no allocation per call); the worker takes batches and settles them; flush and
// shutdown wait on it. One mutex and three condition variables; it is also the delivery_host
// through which delivery sees the clock, the shutdown deadline and the "failing" flag.
#pragma once

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "engine/batch.h"
#include "engine/delivery.h"
#include "engine/engine_counters.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext::detail {

// Records per queue chunk: large enough that the worker takes many records per lock, small
// enough that a recycled chunk costs little memory.
inline constexpr std::size_t chunk_records = 256;
inline constexpr std::size_t max_spare_chunks = 64;
inline constexpr std::size_t chunk_arena_bytes = chunk_records * 96;  // typical text, reserved
inline constexpr std::size_t chunk_arena_limit = 1u << 20;  // a new chunk past this much text

// A queued record in compact form: its strings live in the chunk's arena, so the logging call
// copies bytes without allocating; the worker builds the `record` later.
struct queued_record {  // 56 bytes: one cache line per record crosses to the worker
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

struct queue_chunk {
    std::vector<queued_record> items;
    byte_arena arena;
    std::uint64_t first_seq = 0;  // items[i] has sequence number first_seq + i
    std::size_t head = 0;         // items before head were taken or dropped
    std::size_t bytes = 0;        // of the items from head on
    std::chrono::steady_clock::time_point first_time;
    std::size_t live() const noexcept { return items.size() - head; }
};

class record_queue final : public delivery_host {
  public:
    // What became of a logging call's record; all but `queued` leave it to the caller.
    enum class push_result : std::uint8_t {
        queued,
        shut_down,     // not accepting any more: to the fallback
        full,          // overflow policy fallback: to the fallback
        blocked_full,  // policy block, still full after block_timeout (or not allowed to block)
        dropped,       // policy drop_newest, or drop_oldest with nothing older left to drop
        shed,          // below shed_level with the queue above shed_watermark: to be counted
    };
    enum class take_result : std::uint8_t { batch, idle, stopped };
    // With nothing to send, the worker does housekeeping this often.
    static constexpr std::chrono::seconds idle_interval{1};

    // `cfg` (already normalised) must outlive this.
    record_queue(const engine_config& cfg, engine_counters& counters);

    // Logging call: one lock. `may_block`: false on an engine worker (blocking could deadlock).
    push_result push(const spdlog::details::log_msg& msg, captured_call& cap, bool may_block);
    // Counts a call that did not go through push() (re-entrant logging).
    void count_enqueued();
    // set_message_formatter(): applies from the next record pushed.
    void add_formatter_change(std::unique_ptr<spdlog::formatter> formatter);

    // Worker: settles `out` (the previous batch), then waits for the next one, due by size,
    // age, flush or stop (and min_write_interval after `last_write`). Moves pending formatter
    // changes to `changes`. `idle`: nothing came for a second (time for housekeeping).
    take_result next_batch(worker_batch& out, std::vector<formatter_change>& changes,
                           std::optional<steady::time_point> last_write);
    void worker_exited();
    bool stop_requested() const;

    // See engine_core::flush_for.
    bool flush_for(std::chrono::milliseconds timeout, bool unless_failing);
    // Stops accepting records; returns the effective deadline (an earlier one stays).
    steady::time_point request_stop(steady::time_point deadline);
    bool wait_exit_until(steady::time_point deadline);
    bool wait_exit_for(std::chrono::milliseconds timeout);
    // Nothing pending and nothing sent to the fallback for the deadline.
    bool drained() const;
    // enqueued, queue_depth, queue_bytes.
    void fill(sink_stats& s) const;

    // delivery_host: each takes the lock at most once.
    steady::time_point now() override { return steady::now(); }
    bool deadline_passed() override;
    bool sleep_until(steady::time_point t) override;
    void set_failing(bool failing) override;
    bool failing() const override { return failing_.load(std::memory_order_relaxed); }

  private:
    void append_locked(const spdlog::details::log_msg& msg, captured_call& cap);
    void recycle_locked(queue_chunk&& spent);
    bool drop_oldest_locked();
    void request_stop_locked(steady::time_point deadline);
    bool deadline_passed_locked(steady::time_point now) const;
    void take_from_staging(worker_batch& out);
    static void reset_batch(worker_batch& b);

    const engine_config& cfg_;
    engine_counters& counters_;
    // From cfg_, as plain numbers for the logging call. A record with level < shed_below_ is
    // shed while queueing it would pass shed_max_records_ or shed_max_bytes_ (shedding off:
    // shed_below_ is 0, so no record is below it). level >= urgent_from_: urgent (off: never).
    const int shed_below_;
    const std::size_t shed_max_records_;
    const std::size_t shed_max_bytes_;
    const int urgent_from_;

    // Everything below up to the worker-only state is guarded by mu_.
    mutable std::mutex mu_;
    std::condition_variable work_cv_;   // worker: new work, flush, stop
    std::condition_variable space_cv_;  // blocked producers: room in the queue
    std::condition_variable done_cv_;   // flush and shutdown waiters
    std::deque<queue_chunk> inbox_;
    std::deque<queue_chunk> spare_chunks_;  // FIFO: reuse the chunk the worker touched longest ago
    std::size_t inbox_records_ = 0;
    std::size_t inbox_bytes_ = 0;
    std::size_t pending_records_ = 0;  // inbox + staging + in flight
    std::size_t pending_bytes_ = 0;
    std::uint64_t enqueued_ = 0;
    std::uint64_t next_seq_ = 0;
    std::uint64_t done_seq_ = 0;      // every record with seq < done_seq_ is finished
    std::uint64_t flush_ticket_ = 0;  // a flush waits for done_seq_ >= its ticket
    std::size_t blocked_producers_ = 0;
    std::uint64_t urgent_ticket_ = 0;  // the seq after the last urgent record: due until done
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

    // Worker-only state.
    std::deque<queue_chunk> staging_;
    std::vector<queue_chunk> spent_chunks_;
    std::size_t staging_records_ = 0;
    std::size_t staging_bytes_ = 0;
};

}  // namespace spdlog_ext::detail
