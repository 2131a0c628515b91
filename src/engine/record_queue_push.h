// Internal: record_queue's logging-call path (push, append_locked), inlined into
// engine_core::log. Included by engine_core.cpp only: a call across translation units would
// add to every logging call (measured with bench_logging_call).
#pragma once

#include <algorithm>
#include <cstring>
#include <string_view>

#include "engine/record_queue.h"

#if defined(__GNUC__) || defined(__clang__)
#define SPDLOG_EXT_ALWAYS_INLINE __attribute__((always_inline)) inline
#define SPDLOG_EXT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SPDLOG_EXT_ALWAYS_INLINE inline
#define SPDLOG_EXT_UNLIKELY(x) (x)
#endif

namespace spdlog_ext::detail {

inline char* byte_arena::append(std::size_t n) {
    if (size + n > capacity) {
        const std::size_t grown = std::max({size + n, capacity * 2, chunk_arena_bytes});
        auto bigger = std::make_unique<char[]>(grown);
        if (size > 0) {
            std::memcpy(bigger.get(), data.get(), size);
        }
        data = std::move(bigger);
        capacity = grown;
    }
    char* at = data.get() + size;
    size += n;
    return at;
}

SPDLOG_EXT_ALWAYS_INLINE void record_queue::append_locked(const spdlog::details::log_msg& msg,
                                                          captured_call& cap) {
    const std::string* thread_name = cap.info.thread_name;
    // A new chunk when the last is full, or holds a lot of text already (keeps offsets small
    // and recycled arenas modest).
    if (inbox_.empty() || inbox_.back().items.size() >= chunk_records ||
        inbox_.back().arena.size > chunk_arena_limit) {
        if (!spare_chunks_.empty()) {
            inbox_.push_back(std::move(spare_chunks_.front()));
            spare_chunks_.pop_front();
        } else {
            inbox_.emplace_back();
            // Touch the new memory now (resize writes every entry), so its page faults land
            // on this one call instead of on every few calls that follow.
            inbox_.back().items.resize(chunk_records);
            inbox_.back().items.clear();
        }
        inbox_.back().first_time = steady::now();
        inbox_.back().first_seq = next_seq_;
    }
    queue_chunk& c = inbox_.back();
    queued_record e;
    e.time = msg.time;
    e.level = msg.level;
    e.thread_id = msg.thread_id;
    // Names longer than 64 KiB are cut (they are identifiers, not data); a message can be 4 GiB.
    constexpr std::size_t max_name = 0xffff;
    const std::string_view logger(msg.logger_name.data(),
                                  std::min(msg.logger_name.size(), max_name));
    // max_record_bytes (below 4 GiB) has cut the message already.
    const std::string_view payload = cap.payload;
    const std::string_view tname =
        thread_name ? std::string_view(*thread_name).substr(0, max_name) : std::string_view();
    std::string_view file;
    std::string_view function;
    if (!msg.source.empty()) {
        file = std::string_view(msg.source.filename).substr(0, max_name);
        function =
            std::string_view(msg.source.funcname ? msg.source.funcname : "").substr(0, max_name);
        e.source_line = msg.source.line;
    }
    e.logger_len = static_cast<std::uint16_t>(logger.size());
    e.message_len = static_cast<std::uint32_t>(payload.size() + cap.marker_len);
    e.thread_name_len = static_cast<std::uint16_t>(tname.size());
    e.file_len = static_cast<std::uint16_t>(file.size());
    e.function_len = static_cast<std::uint16_t>(function.size());
    const std::size_t text =
        std::size_t(e.logger_len) + e.message_len + e.thread_name_len + e.file_len + e.function_len;
    e.offset = static_cast<std::uint32_t>(c.arena.size);
    char* out = c.arena.append(text);
    auto put = [&out](const char* p, std::size_t n) {
        if (n > 0) {
            std::memcpy(out, p, n);
            out += n;
        }
    };
    put(logger.data(), logger.size());
    put(payload.data(), payload.size());
    put(cap.marker_text, cap.marker_len);
    put(tname.data(), tname.size());
    put(file.data(), file.size());
    put(function.data(), function.size());
    e.fields = std::move(cap.fields);
    ++next_seq_;
    e.bytes = static_cast<std::uint32_t>(std::min<std::size_t>(cap.bytes, 0xffffffffu));
    const std::size_t counted = e.bytes;
    c.items.push_back(std::move(e));
    c.bytes += counted;
    ++inbox_records_;
    inbox_bytes_ += counted;
    ++pending_records_;
    pending_bytes_ += counted;
}

SPDLOG_EXT_ALWAYS_INLINE record_queue::push_result record_queue::push(
    const spdlog::details::log_msg& msg, captured_call& cap, bool may_block) {
    const std::size_t bytes = cap.bytes;
    std::unique_lock<std::mutex> lock(mu_);
    ++enqueued_;
    if (!accepting_) {
        return push_result::shut_down;
    }
    // Shedding: one compare unless it is on and the record is below its level.
    if (SPDLOG_EXT_UNLIKELY(msg.level < shed_below_) &&
        (pending_records_ + 1 > shed_max_records_ ||
         (pending_bytes_ + bytes > shed_max_bytes_ && pending_records_ > 0))) {
        return push_result::shed;
    }
    auto full = [&] {
        return pending_records_ + 1 > cfg_.queue_max_records ||
               (pending_bytes_ + bytes > cfg_.queue_max_bytes && pending_records_ > 0);
    };
    if (full()) {
        switch (cfg_.overflow) {
            case overflow_policy::fallback:
                return push_result::full;
            case overflow_policy::drop_newest:
                return push_result::dropped;
            case overflow_policy::drop_oldest:
                while (full() && drop_oldest_locked()) {
                }
                if (full()) {  // the oldest are all in flight: nothing left to drop but this
                    return push_result::dropped;
                }
                break;
            case overflow_policy::block: {
                // Never block an engine worker (its own or another's): that can deadlock.
                bool room = false;
                if (may_block) {
                    ++blocked_producers_;
                    room = space_cv_.wait_for(lock, cfg_.block_timeout,
                                              [&] { return !full() || !accepting_; });
                    --blocked_producers_;
                    room = room && accepting_;
                }
                if (!room) {
                    return push_result::blocked_full;
                }
                break;
            }
        }
    }
    append_locked(msg, cap);
    // An urgent record makes what is queued due at once (next_batch), like a flush nobody
    // waits for.
    const bool urgent = SPDLOG_EXT_UNLIKELY(msg.level >= urgent_from_);
    if (urgent) {
        urgent_ticket_ = next_seq_;
    }
    // Wake the worker only when it must act: the first record starts the max_delay clock, and
    // a full batch (or an urgent record) is due at once. Other records wait for it without a
    // syscall.
    const bool wake =
        worker_waiting_ &&
        (urgent || inbox_records_ == 1 || inbox_records_ == cfg_.batch_max_records ||
         (inbox_bytes_ >= cfg_.batch_max_bytes && inbox_bytes_ - bytes < cfg_.batch_max_bytes));
    lock.unlock();
    if (wake) {
        work_cv_.notify_one();
    }
    return push_result::queued;
}

}  // namespace spdlog_ext::detail
