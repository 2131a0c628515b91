#include "engine/record_queue.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace spdlog_ext::detail {

namespace {
// engine_core rejects a watermark outside (0, 1]; clamped here all the same (it runs first).
std::size_t watermark_of(std::size_t capacity, double watermark) {
    if (!(watermark > 0.0 && watermark < 1.0)) {
        return capacity;
    }
    return std::max<std::size_t>(1, static_cast<std::size_t>(double(capacity) * watermark));
}
}  // namespace

record_queue::record_queue(const engine_config& cfg, engine_counters& counters)
    : cfg_(cfg),
      counters_(counters),
      shed_below_(cfg.shed_level == spdlog::level::off ? 0 : int(cfg.shed_level)),
      shed_max_records_(
          watermark_of(std::max<std::size_t>(cfg.queue_max_records, 1), cfg.shed_watermark)),
      shed_max_bytes_(watermark_of(cfg.queue_max_bytes, cfg.shed_watermark)),
      urgent_from_(cfg.urgent_level == spdlog::level::off ? int(spdlog::level::n_levels)
                                                          : int(cfg.urgent_level)) {}

// ---------------------------------------------------------------- logging-call side
// push() and append_locked() are in record_queue_push.h, inlined into the logging call.

void record_queue::count_enqueued() {
    std::lock_guard<std::mutex> lock(mu_);
    ++enqueued_;
}

void record_queue::recycle_locked(queue_chunk&& spent) {
    // Keep a few chunks for reuse, but not one whose arena grew for a huge message.
    if (spare_chunks_.size() < max_spare_chunks && spent.arena.capacity <= chunk_arena_limit) {
        spent.items.clear();
        spent.arena.size = 0;
        spent.head = 0;
        spent.bytes = 0;
        spare_chunks_.push_back(std::move(spent));
    }
}

bool record_queue::drop_oldest_locked() {
    while (!inbox_.empty() && inbox_.front().live() == 0) {
        queue_chunk spent = std::move(inbox_.front());
        inbox_.pop_front();
        recycle_locked(std::move(spent));
    }
    if (inbox_.empty()) {
        return false;
    }
    queue_chunk& front = inbox_.front();
    queued_record& victim = front.items[front.head++];
    front.bytes -= victim.bytes;
    --inbox_records_;
    inbox_bytes_ -= victim.bytes;
    --pending_records_;
    pending_bytes_ -= victim.bytes;
    victim.fields.reset();  // release its memory now
    counters_.count_drop();
    if (front.live() == 0) {
        queue_chunk spent = std::move(front);
        inbox_.pop_front();
        recycle_locked(std::move(spent));
    }
    return true;
}

// ---------------------------------------------------------------- flush and stop

bool record_queue::flush_for(std::chrono::milliseconds timeout, bool unless_failing) {
    auto gave_up = [&] {
        return unless_failing && (failing_.load(std::memory_order_relaxed) ||
                                  counters_.disabled.load(std::memory_order_relaxed));
    };
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t ticket = next_seq_;
    if (done_seq_ >= ticket) {
        return true;
    }
    // The worker still sends what is queued as soon as it can; only the wait is skipped.
    flush_ticket_ = std::max(flush_ticket_, ticket);
    work_cv_.notify_one();
    if (gave_up()) {
        return false;
    }
    return done_cv_.wait_for(lock, timeout, [&] {
        return done_seq_ >= ticket || worker_exited_ || gave_up();
    }) && done_seq_ >= ticket;
}

void record_queue::set_failing(bool failing) {
    if (failing_.load(std::memory_order_relaxed) == failing) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        failing_.store(failing, std::memory_order_relaxed);
    }
    done_cv_.notify_all();  // flushes that give up on a failing backend stop waiting
}

void record_queue::request_stop_locked(steady::time_point deadline) {
    stop_deadline_ = stop_requested_ ? std::min(stop_deadline_, deadline) : deadline;
    accepting_ = false;
    stop_requested_ = true;
    work_cv_.notify_all();
    space_cv_.notify_all();
}

steady::time_point record_queue::request_stop(steady::time_point deadline) {
    std::lock_guard<std::mutex> lock(mu_);
    request_stop_locked(deadline);
    return stop_deadline_;
}

bool record_queue::wait_exit_until(steady::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_until(lock, deadline, [&] { return worker_exited_; });
}

bool record_queue::wait_exit_for(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_for(lock, timeout, [&] { return worker_exited_; });
}

bool record_queue::drained() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_records_ == 0 && !deadline_hit_;
}

bool record_queue::stop_requested() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_requested_;
}

void record_queue::worker_exited() {
    std::lock_guard<std::mutex> lock(mu_);
    worker_exited_ = true;
    done_cv_.notify_all();
    space_cv_.notify_all();
}

void record_queue::add_formatter_change(std::unique_ptr<spdlog::formatter> formatter) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!formatter_changes_.empty() && formatter_changes_.back().from_seq == next_seq_) {
        formatter_changes_.back().formatter = std::move(formatter);  // nothing logged between
    } else {
        formatter_changes_.push_back(formatter_change{next_seq_, std::move(formatter)});
    }
}

void record_queue::fill(sink_stats& s) const {
    std::lock_guard<std::mutex> lock(mu_);
    s.enqueued = enqueued_;
    s.queue_depth = pending_records_;
    s.queue_bytes = pending_bytes_;
}

// ---------------------------------------------------------------- worker side

bool record_queue::deadline_passed_locked(steady::time_point now) const {
    return stop_requested_ && now >= stop_deadline_;
}

record_queue::take_result record_queue::next_batch(worker_batch& out,
                                                   std::vector<formatter_change>& changes,
                                                   std::optional<steady::time_point> last_write) {
    std::unique_lock<std::mutex> lock(mu_);
    // Settle the previous batch and recycle spent chunks here, so the worker takes the lock
    // once per batch: each extra acquisition risks making a producer pay a futex wake-up.
    if (out.count > 0) {
        pending_records_ -= out.count;
        pending_bytes_ -= out.bytes;
        done_seq_ = std::max(done_seq_, out.last_seq + 1);
        done_cv_.notify_all();
        if (blocked_producers_ > 0) {
            space_cv_.notify_all();
        }
    }
    for (auto& c : spent_chunks_) {
        recycle_locked(std::move(c));
    }
    spent_chunks_.clear();
    lock.unlock();
    reset_batch(out);
    lock.lock();
    for (;;) {
        const std::size_t available = staging_records_ + inbox_records_;
        if (available == 0) {
            done_seq_ = next_seq_;
            done_cv_.notify_all();
            if (stop_requested_) {
                return take_result::stopped;
            }
            worker_waiting_ = true;
            const bool woke = work_cv_.wait_for(
                lock, idle_interval, [&] { return inbox_records_ > 0 || stop_requested_; });
            worker_waiting_ = false;
            if (!woke) {
                return take_result::idle;  // the caller's housekeeping, then here again
            }
            continue;
        }
        const auto now = steady::now();
        const auto oldest =
            !staging_.empty() ? staging_.front().first_time : inbox_.front().first_time;
        const bool due = available >= cfg_.batch_max_records ||
                         staging_bytes_ + inbox_bytes_ >= cfg_.batch_max_bytes ||
                         flush_ticket_ > done_seq_ || urgent_ticket_ > done_seq_ ||
                         stop_requested_ || counters_.disabled.load(std::memory_order_relaxed) ||
                         now >= oldest + cfg_.batch_max_delay;
        if (due && cfg_.min_write_interval.count() > 0 && last_write &&
            now < *last_write + cfg_.min_write_interval && !deadline_passed_locked(now)) {
            // Rate-limited backend: let records gather until the write slot (no producer
            // notifications needed: only stop and flush matter, and they notify anyway).
            const auto slot = *last_write + cfg_.min_write_interval;
            work_cv_.wait_until(lock, stop_requested_ ? std::min(slot, stop_deadline_) : slot);
            continue;
        }
        if (due) {
            while (!inbox_.empty() && staging_records_ < cfg_.batch_max_records) {
                queue_chunk& c = inbox_.front();
                inbox_records_ -= c.live();
                inbox_bytes_ -= c.bytes;
                staging_records_ += c.live();
                staging_bytes_ += c.bytes;
                staging_.push_back(std::move(c));
                inbox_.pop_front();
            }
            // Formatter changes made before these records were logged (or any later): the
            // worker needs them to render this batch.
            for (auto& change : formatter_changes_) {
                changes.push_back(std::move(change));
            }
            formatter_changes_.clear();
            lock.unlock();
            take_from_staging(out);
            return take_result::batch;
        }
        worker_waiting_ = true;
        work_cv_.wait_until(lock, oldest + cfg_.batch_max_delay);
        worker_waiting_ = false;
    }
}

void record_queue::take_from_staging(worker_batch& out) {
    while (!staging_.empty() && out.count < cfg_.batch_max_records) {
        queue_chunk& c = staging_.front();
        while (c.head < c.items.size() && out.count < cfg_.batch_max_records) {
            queued_record& e = c.items[c.head];
            if (out.count > 0 && out.bytes + e.bytes > cfg_.batch_max_bytes) {
                return;
            }
            // Build the record here, on the worker, so the logging call never allocates.
            if (out.count == out.records.size()) {
                out.records.emplace_back();
                out.seqs.emplace_back();
            }
            out.seqs[out.count] = c.first_seq + c.head;
            record& r = out.records[out.count++];
            const char* p = c.arena.data.get() + e.offset;
            r.time = e.time;
            r.level = e.level;
            r.thread_id = e.thread_id;
            r.logger_name.assign(p, e.logger_len);
            p += e.logger_len;
            r.message.assign(p, e.message_len);
            p += e.message_len;
            r.thread_name.assign(p, e.thread_name_len);
            p += e.thread_name_len;
            r.source_file.assign(p, e.file_len);
            p += e.file_len;
            r.source_function.assign(p, e.function_len);
            r.source_line = e.source_line;
            if (e.fields) {
                r.fields = e.fields->fields;  // copied here, off the logging path
                e.fields.reset();
            } else {
                r.fields = nullptr;
            }
            out.bytes += e.bytes;
            out.last_seq = c.first_seq + c.head;
            ++c.head;
            c.bytes -= e.bytes;
            --staging_records_;
            staging_bytes_ -= e.bytes;
        }
        if (c.live() == 0) {
            spent_chunks_.push_back(std::move(c));  // recycled at the next lock
            staging_.pop_front();
        }
    }
}

void record_queue::reset_batch(worker_batch& b) {
    // Keep the records for reuse, but give back memory a huge message made them hold.
    constexpr std::size_t keep = 64 * 1024;
    for (std::size_t i = 0; i < b.count; ++i) {
        record& r = b.records[i];
        if (r.message.capacity() > keep) {
            std::string().swap(r.message);
        }
        r.fields = nullptr;
    }
    b.count = 0;
    b.bytes = 0;
}

bool record_queue::deadline_passed() {
    std::lock_guard<std::mutex> lock(mu_);
    const bool passed = deadline_passed_locked(steady::now());
    deadline_hit_ = deadline_hit_ || passed;
    return passed;
}

bool record_queue::sleep_until(steady::time_point t) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        const auto now = steady::now();
        if (deadline_passed_locked(now)) {
            return false;
        }
        if (now >= t) {
            return true;
        }
        // request_stop() notifies work_cv_, so a new deadline shortens the wait.
        work_cv_.wait_until(lock, stop_requested_ ? std::min(t, stop_deadline_) : t);
    }
}

}  // namespace spdlog_ext::detail
