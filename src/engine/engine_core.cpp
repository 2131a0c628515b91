#include "engine/engine_core.h"

#include <spdlog/details/os.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

#include "core/limits.h"
#include "core/secrets.h"
#include "core/text.h"
#include "core/thread_context.h"
#include "core/url_credentials.h"
#include "core/utf8.h"
#include "engine/exit_guard.h"
#include "format/fallback_pattern.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/fields_flag.h"
#include "spdlog_ext/redaction.h"

#if defined(__GNUC__) || defined(__clang__)
#define SPDLOG_EXT_ALWAYS_INLINE __attribute__((always_inline)) inline
#define SPDLOG_EXT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SPDLOG_EXT_ALWAYS_INLINE inline
#define SPDLOG_EXT_UNLIKELY(x) (x)
#endif

namespace spdlog_ext::detail {

namespace {
// Records per queue chunk: large enough that the worker takes many records per lock, small
// enough that a recycled chunk costs little memory.
constexpr std::size_t chunk_records = 256;
constexpr std::size_t max_spare_chunks = 64;
constexpr std::size_t chunk_arena_bytes = chunk_records * 96;  // typical record text, reserved
constexpr std::size_t chunk_arena_limit = 1u << 20;  // start a new chunk past this much text
constexpr auto idle_interval = std::chrono::seconds(1);
// After the shutdown deadline, how long to wait for a worker stuck in a backend call.
constexpr auto interrupt_grace = std::chrono::milliseconds(500);

// The engine whose worker runs on this thread, if any: guards against re-entrant logging (a
// backend that logs through a logger using the same sink).
thread_local const engine_core* tls_worker_of = nullptr;

// Replaces rec.message by `formatter`'s text for the record, without the line ending. Should
// the formatter fail, the message stays the payload: a formatter must not stop the worker.
void format_message(spdlog::formatter& formatter, record& rec, spdlog::memory_buf_t& buf) {
    try {
        buf.clear();
        {
            record_scope scope(rec);
            formatter.format(rec.to_log_msg(), buf);
        }
        std::size_t n = buf.size();
        while (n > 0 && (buf.data()[n - 1] == '\n' || buf.data()[n - 1] == '\r')) {
            --n;
        }
        rec.message.assign(buf.data(), n);
    } catch (...) {
    }
}
}  // namespace

engine_core::engine_core(std::unique_ptr<backend> backend, engine_config config)
    : cfg_(std::move(config)),
      backend_(std::move(backend)),
      report_(cfg_, counters_),
      delivery_(*backend_, cfg_, report_, counters_, *this) {
    if (cfg_.name.empty()) {
        cfg_.name = "engine";
    }
    cfg_.queue_max_records = std::max<std::size_t>(cfg_.queue_max_records, 1);
    cfg_.batch_max_records = std::max<std::size_t>(cfg_.batch_max_records, 1);
    cfg_.batch_max_bytes = std::max<std::size_t>(cfg_.batch_max_bytes, 1);
    if (cfg_.max_record_bytes < 1024 || cfg_.max_record_bytes > 0xffff0000u) {
        // Below 1 KiB the markers do not fit; a message is stored with a 32-bit length.
        throw config_error("LOG_" + upper(cfg_.name) + "_MAX_RECORD_BYTES",
                           "engine_config::max_record_bytes (LOG_" + upper(cfg_.name) +
                               "_MAX_RECORD_BYTES) must be between 1024 and 4294901760");
    }
}

engine_core::~engine_core() {
    if (worker_.joinable()) {
        worker_.detach();  // only reachable from the detached worker's own last reference
    }
}

void engine_core::start() {
    auto self = shared_from_this();
    track_for_exit(self);  // before the worker can touch a TLS library
    worker_ = std::thread([self] { self->run(); });
}

// ---------------------------------------------------------------- logging-call side

// The logging call's own path: inlined into log() (a call and a returned struct cost it ~15 ns).
SPDLOG_EXT_ALWAYS_INLINE void engine_core::capture(const spdlog::details::log_msg& msg,
                                                   captured& c) {
    // Everything that can be done before taking the lock, and nothing that allocates unless
    // the call carries fields (or is over max_record_bytes).
    c.info = detail::capture_context(msg);
    c.payload = std::string_view(msg.payload.data(), msg.payload.size());
    if (c.info.snapshot != nullptr) {
        c.fields = *c.info.snapshot;  // the scope's merged fields: a reference, no copy
    } else if (c.info.may_have_fields) {
        nlohmann::json fields = fields_of(msg);
        if (!fields.is_null()) {
            auto own = std::make_shared<field_snapshot>();
            own->bytes = approx_json_bytes(fields);
            own->fields = std::move(fields);
            c.fields = std::move(own);
        }
    }
    const std::size_t field_bytes = c.fields ? c.fields->bytes : 0;
    if (SPDLOG_EXT_UNLIKELY(c.payload.size() + field_bytes > cfg_.max_record_bytes)) {
        limit_size(c);
    }
    c.bytes = sizeof(entry) + msg.logger_name.size() + c.payload.size() + c.marker_len +
              (c.info.thread_name ? c.info.thread_name->size() : 0) +
              (c.fields ? c.fields->bytes : 0);
    if (!msg.source.empty()) {
        c.bytes += std::char_traits<char>::length(msg.source.filename) +
                   (msg.source.funcname ? std::char_traits<char>::length(msg.source.funcname) : 0);
    }
}

void engine_core::limit_size(captured& c) {
    // The fields keep up to half of the cap whole (they are small as a rule, and say what the
    // record is about); the message has the rest, or at least half when the fields are big.
    const std::size_t cap = cfg_.max_record_bytes;
    if (c.fields && c.fields->bytes > cap / 2) {
        const std::size_t budget = cap - std::min(c.payload.size() + 64, cap / 2);
        if (c.fields->bytes > budget) {
            auto own = std::make_shared<field_snapshot>();
            own->fields = cut_fields(c.fields->fields, budget);
            own->bytes = approx_json_bytes(own->fields);
            c.fields = std::move(own);
        }
    }
    const std::size_t field_bytes = c.fields ? c.fields->bytes : 0;
    const std::size_t room = cap > field_bytes ? cap - field_bytes : 0;
    if (c.payload.size() > room) {
        const std::size_t whole = c.payload.size();
        c.payload = utf8::truncate(c.payload, room);  // never inside a code point
        const std::string marker = truncation_marker(whole - c.payload.size());
        c.marker_len = std::min(marker.size(), sizeof c.marker_text);
        std::memcpy(c.marker_text, marker.data(), c.marker_len);
    }
    counters_.truncated.fetch_add(1, std::memory_order_relaxed);
}

record engine_core::to_record(const spdlog::details::log_msg& msg, const captured& c) const {
    record r;
    r.time = msg.time;
    r.level = msg.level;
    r.logger_name.assign(msg.logger_name.data(), msg.logger_name.size());
    r.message.reserve(c.payload.size() + c.marker_len);
    r.message.assign(c.payload.data(), c.payload.size());
    r.message += c.marker();
    r.thread_id = msg.thread_id;
    if (c.info.thread_name != nullptr) {
        r.thread_name = *c.info.thread_name;
    }
    if (!msg.source.empty()) {
        r.source_file = msg.source.filename != nullptr ? msg.source.filename : "";
        r.source_line = msg.source.line;
        r.source_function = msg.source.funcname != nullptr ? msg.source.funcname : "";
    }
    if (c.fields) {
        r.fields = c.fields->fields;
    }
    return r;
}

void engine_core::log(const spdlog::details::log_msg& msg) {
    if (tls_worker_of == this) {
        // The backend (or the fallback) logs through this very sink: queueing it would feed the
        // worker its own output forever, and blocking would deadlock. Hand it to the fallback.
        {
            std::lock_guard<std::mutex> lock(mu_);
            ++enqueued_;
        }
        if (reporter::in_fallback_write()) {
            counters_.count_drop();
            return;
        }
        captured c;
        capture(msg, c);
        fallback_now(to_record(msg, c), "logged from inside the sink's own worker");
        return;
    }
    captured c;
    capture(msg, c);
    const std::size_t bytes = c.bytes;

    std::unique_lock<std::mutex> lock(mu_);
    ++enqueued_;
    if (!accepting_) {
        lock.unlock();
        fallback_now(to_record(msg, c), "the sink is shut down");
        return;
    }
    auto full = [&] {
        return pending_records_ + 1 > cfg_.queue_max_records ||
               (pending_bytes_ + bytes > cfg_.queue_max_bytes && pending_records_ > 0);
    };
    if (full()) {
        switch (cfg_.overflow) {
            case overflow_policy::fallback:
                lock.unlock();
                fallback_now(to_record(msg, c), "queue full");
                return;
            case overflow_policy::drop_newest:
                counters_.count_drop();
                return;
            case overflow_policy::drop_oldest:
                while (full() && drop_oldest_locked()) {
                }
                if (full()) {  // the oldest are all in flight: nothing left to drop but this
                    counters_.count_drop();
                    return;
                }
                break;
            case overflow_policy::block: {
                // Never block an engine worker (its own or another's): that can deadlock.
                bool room = false;
                if (tls_worker_of == nullptr) {
                    ++blocked_producers_;
                    room = space_cv_.wait_for(lock, cfg_.block_timeout,
                                              [&] { return !full() || !accepting_; });
                    --blocked_producers_;
                    room = room && accepting_;
                }
                if (!room) {
                    lock.unlock();
                    fallback_now(to_record(msg, c), "queue full (blocked for block_timeout)");
                    return;
                }
                break;
            }
        }
    }
    append_locked(msg, c);
    // Wake the worker only when it must act: the first record starts the max_delay clock, and
    // a full batch is due at once. Other records wait for it without a syscall.
    const bool wake =
        worker_waiting_ &&
        (inbox_records_ == 1 || inbox_records_ == cfg_.batch_max_records ||
         (inbox_bytes_ >= cfg_.batch_max_bytes && inbox_bytes_ - bytes < cfg_.batch_max_bytes));
    lock.unlock();
    if (wake) {
        work_cv_.notify_one();
    }
}

char* engine_core::byte_arena::append(std::size_t n) {
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

void engine_core::append_locked(const spdlog::details::log_msg& msg, captured& cap) {
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
    chunk& c = inbox_.back();
    entry e;
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

void engine_core::recycle_locked(chunk&& spent) {
    // Keep a few chunks for reuse, but not one whose arena grew for a huge message.
    if (spare_chunks_.size() < max_spare_chunks && spent.arena.capacity <= chunk_arena_limit) {
        spent.items.clear();
        spent.arena.size = 0;
        spent.head = 0;
        spent.bytes = 0;
        spare_chunks_.push_back(std::move(spent));
    }
}

bool engine_core::drop_oldest_locked() {
    while (!inbox_.empty() && inbox_.front().live() == 0) {
        chunk spent = std::move(inbox_.front());
        inbox_.pop_front();
        recycle_locked(std::move(spent));
    }
    if (inbox_.empty()) {
        return false;
    }
    chunk& front = inbox_.front();
    entry& victim = front.items[front.head++];
    front.bytes -= victim.bytes;
    --inbox_records_;
    inbox_bytes_ -= victim.bytes;
    --pending_records_;
    pending_bytes_ -= victim.bytes;
    victim.fields.reset();  // release its memory now
    counters_.count_drop();
    if (front.live() == 0) {
        chunk spent = std::move(front);
        inbox_.pop_front();
        recycle_locked(std::move(spent));
    }
    return true;
}

void engine_core::fallback_now(record rec, const std::string& reason) {
    // The fallback sees the record as the backend would have: masked, then formatted with the
    // message formatter in force now, if any (this path writes to the fallback anyway, so the
    // cost is its own, not the queueing call's).
    if (cfg_.redaction) {
        cfg_.redaction->apply(rec);
    }
    {
        std::lock_guard<std::mutex> lock(formatter_mu_);
        if (call_formatter_) {
            spdlog::memory_buf_t buf;
            format_message(*call_formatter_, rec, buf);
        }
    }
    report_.to_fallback(&rec, 1, reason);
}

bool engine_core::flush_for(std::chrono::milliseconds timeout, bool unless_failing) {
    if (tls_worker_of == this) {
        return false;  // the worker cannot wait for itself
    }
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

void engine_core::set_failing(bool failing) {
    if (failing_.load(std::memory_order_relaxed) == failing) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        failing_.store(failing, std::memory_order_relaxed);
    }
    done_cv_.notify_all();  // flushes that give up on a failing backend stop waiting
}

void engine_core::request_stop_locked(steady::time_point deadline) {
    stop_deadline_ = stop_requested_ ? std::min(stop_deadline_, deadline) : deadline;
    accepting_ = false;
    stop_requested_ = true;
    work_cv_.notify_all();
    space_cv_.notify_all();
}

void engine_core::request_stop(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> lock(mu_);
    request_stop_locked(steady::now() + timeout);
}

bool engine_core::shutdown(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> serial(shutdown_mu_);
    if (shut_down_) {
        return drained_;
    }
    std::unique_lock<std::mutex> lock(mu_);
    request_stop_locked(steady::now() + timeout);
    const auto deadline = stop_deadline_;  // an earlier request_stop may have set a sooner one
    if (tls_worker_of == this) {
        // Called from inside the worker (a backend shutting everything down): it cannot wait
        // for itself. It drains and exits on its own.
        lock.unlock();
        worker_.detach();
        shut_down_ = true;
        return false;
    }
    bool exited = done_cv_.wait_until(lock, deadline, [&] { return worker_exited_; });
    if (!exited) {
        lock.unlock();
        backend_->interrupt();
        lock.lock();
        exited = done_cv_.wait_for(lock, interrupt_grace, [&] { return worker_exited_; });
    }
    drained_ = exited && pending_records_ == 0 && !deadline_hit_;
    lock.unlock();
    if (exited) {
        worker_.join();
    } else {
        report_.note_error(
            "shutdown deadline passed with a backend call still running; detaching it");
        worker_.detach();
    }
    shut_down_ = true;
    return drained_;
}

void engine_core::set_message_formatter(std::unique_ptr<spdlog::formatter> formatter) {
    // Formatters are not thread-safe: the worker gets this one, the logging-call fallback a
    // clone.
    auto for_calls = formatter ? formatter->clone() : nullptr;
    std::lock_guard<std::mutex> serial(formatter_mu_);
    {
        // It applies from the next record logged: the worker picks it by sequence number, so
        // records already queued keep the formatter in force when they were logged.
        std::lock_guard<std::mutex> lock(mu_);
        if (!formatter_changes_.empty() && formatter_changes_.back().from_seq == next_seq_) {
            formatter_changes_.back().formatter = std::move(formatter);  // nothing logged between
        } else {
            formatter_changes_.push_back(formatter_change{next_seq_, std::move(formatter)});
        }
    }
    call_formatter_ = std::move(for_calls);
}

sink_stats engine_core::stats() const {
    sink_stats s;
    s.name = cfg_.name;
    counters_.fill(s);
    {
        std::lock_guard<std::mutex> lock(mu_);
        s.enqueued = enqueued_;
        s.queue_depth = pending_records_;
        s.queue_bytes = pending_bytes_;
    }
    report_.fill(s);
    try {
        s.backend = backend_->extra_stats();
        report_.mask_strings(s.backend, 0);
    } catch (const std::exception& e) {
        s.backend = nlohmann::json{{"error", report_.mask(e.what())}};
    }
    return s;
}

// ---------------------------------------------------------------- worker side

void engine_core::run() {
    tls_worker_of = this;
    set_thread_name("spdlog_ext");
    batch b;
    try {
        while (next_batch(b)) {
            process(b);
            if (steady::now() - last_housekeeping_ >= idle_interval) {
                housekeeping();
            }
        }
    } catch (const std::exception& e) {
        report_.note_error(std::string("engine worker stopped: ") + e.what());
    }
    report_.report_drops();
    std::lock_guard<std::mutex> lock(mu_);
    worker_exited_ = true;
    done_cv_.notify_all();
    space_cv_.notify_all();
}

bool engine_core::deadline_passed_locked(steady::time_point now) const {
    return stop_requested_ && now >= stop_deadline_;
}

bool engine_core::next_batch(batch& out) {
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
                return false;
            }
            worker_waiting_ = true;
            const bool woke = work_cv_.wait_for(
                lock, idle_interval, [&] { return inbox_records_ > 0 || stop_requested_; });
            worker_waiting_ = false;
            if (!woke) {
                lock.unlock();
                housekeeping();
                lock.lock();
            }
            continue;
        }
        const auto now = steady::now();
        const auto oldest =
            !staging_.empty() ? staging_.front().first_time : inbox_.front().first_time;
        const bool due = available >= cfg_.batch_max_records ||
                         staging_bytes_ + inbox_bytes_ >= cfg_.batch_max_bytes ||
                         flush_ticket_ > done_seq_ || stop_requested_ ||
                         counters_.disabled.load(std::memory_order_relaxed) ||
                         now >= oldest + cfg_.batch_max_delay;
        const auto last_write = delivery_.last_write();
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
                chunk& c = inbox_.front();
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
                worker_formatters_.push_back(std::move(change));
            }
            formatter_changes_.clear();
            lock.unlock();
            take_from_staging(out);
            return true;
        }
        worker_waiting_ = true;
        work_cv_.wait_until(lock, oldest + cfg_.batch_max_delay);
        worker_waiting_ = false;
    }
}

void engine_core::take_from_staging(batch& out) {
    while (!staging_.empty() && out.count < cfg_.batch_max_records) {
        chunk& c = staging_.front();
        while (c.head < c.items.size() && out.count < cfg_.batch_max_records) {
            entry& e = c.items[c.head];
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

void engine_core::reset_batch(batch& b) {
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

void engine_core::process(batch& b) {
    const std::size_t n = b.count;
    if (n > 0) {
        if (cfg_.redaction) {
            // Once per batch, before the first attempt: retries, bisection halves and the
            // fallback all see the masked record.
            for (std::size_t i = 0; i < n; ++i) {
                cfg_.redaction->apply(b.records[i]);
            }
        }
        render_messages(b);
        delivery_.send(b.records.data(), n);
    }
    // The counters are settled by the next next_batch(), under the lock it takes anyway.
}

void engine_core::render_messages(batch& b) {
    auto& fs = worker_formatters_;
    if (fs.empty() || b.count == 0) {
        return;  // no message formatter was ever set: messages are the payload
    }
    // Records come in sequence order: a formatter followed by one that applies from this
    // batch's first record on is of no use any more.
    while (fs.size() > 1 && fs[1].from_seq <= b.seqs[0]) {
        fs.pop_front();
    }
    if (fs.size() == 1 && !fs.front().formatter && fs.front().from_seq <= b.seqs[0]) {
        fs.clear();  // back to the plain payload for good
        return;
    }
    spdlog::memory_buf_t buf;
    std::size_t k = 0;
    for (std::size_t i = 0; i < b.count; ++i) {
        const std::uint64_t seq = b.seqs[i];
        while (k + 1 < fs.size() && fs[k + 1].from_seq <= seq) {
            ++k;
        }
        // The formatter in force when the record was logged; none before the first change.
        if (fs[k].formatter && fs[k].from_seq <= seq) {
            format_message(*fs[k].formatter, b.records[i], buf);
        }
    }
}

bool engine_core::deadline_passed() {
    std::lock_guard<std::mutex> lock(mu_);
    const bool passed = deadline_passed_locked(steady::now());
    deadline_hit_ = deadline_hit_ || passed;
    return passed;
}

bool engine_core::sleep_until(steady::time_point t) {
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

void engine_core::housekeeping() {
    last_housekeeping_ = steady::now();
    report_.report_drops();
    {
        // Stopping (or exiting): no retention, no new connection for it.
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_requested_) {
            return;
        }
    }
    try {
        backend_->housekeeping();
    } catch (const std::exception& e) {
        report_.note_error(std::string("housekeeping failed: ") + e.what());
    }
}

}  // namespace spdlog_ext::detail
