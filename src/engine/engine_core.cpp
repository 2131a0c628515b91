#include "engine/engine_core.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/limits.h"
#include "core/text.h"
#include "core/thread_context.h"
#include "core/utf8.h"
#include "engine/exit_guard.h"
#include "engine/record_queue_push.h"
#include "engine/sink_directory.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext::detail {

namespace {
// After the shutdown deadline, how long to wait for a worker stuck in a backend call.
constexpr auto interrupt_grace = std::chrono::milliseconds(500);

// The engine whose worker runs on this thread, if any: guards against re-entrant logging (a
// backend that logs through a logger using the same sink).
thread_local const engine_core* tls_worker_of = nullptr;

}  // namespace

engine_core::engine_core(std::unique_ptr<backend> backend, engine_config config)
    : cfg_(std::move(config)),
      backend_(std::move(backend)),
      report_(cfg_, counters_),
      queue_(cfg_, counters_),
      preparation_(cfg_.redaction.get(), formats_),
      delivery_(*backend_, cfg_, report_, counters_, queue_, &preparation_) {
    if (cfg_.name.empty()) {
        cfg_.name = "engine";
    }
    cfg_.queue_max_records = std::max<std::size_t>(cfg_.queue_max_records, 1);
    cfg_.batch_max_records = std::max<std::size_t>(cfg_.batch_max_records, 1);
    cfg_.batch_max_bytes = std::max<std::size_t>(cfg_.batch_max_bytes, 1);
    if (!(cfg_.shed_watermark > 0.0 && cfg_.shed_watermark <= 1.0)) {
        throw config_error("LOG_" + upper(cfg_.name) + "_SHED_WATERMARK",
                           "engine_config::shed_watermark (LOG_" + upper(cfg_.name) +
                               "_SHED_WATERMARK) must be a fraction of the queue in (0, 1], "
                               "e.g. 0.8");
    }
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
                                                   captured_call& c) {
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
    c.bytes = sizeof(queued_record) + msg.logger_name.size() + c.payload.size() + c.marker_len +
              (c.info.thread_name ? c.info.thread_name->size() : 0) +
              (c.fields ? c.fields->bytes : 0);
    if (!msg.source.empty()) {
        c.bytes += std::char_traits<char>::length(msg.source.filename) +
                   (msg.source.funcname ? std::char_traits<char>::length(msg.source.funcname) : 0);
    }
}

void engine_core::limit_size(captured_call& c) {
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

record engine_core::to_record(const spdlog::details::log_msg& msg, const captured_call& c) const {
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
        queue_.count_enqueued();
        if (reporter::in_fallback_write()) {
            counters_.count_drop();
            return;
        }
        captured_call c;
        capture(msg, c);
        fallback_now(to_record(msg, c), "logged from inside the sink's own worker");
        return;
    }
    captured_call c;
    capture(msg, c);
    using pushed = record_queue::push_result;
    switch (queue_.push(msg, c, tls_worker_of == nullptr)) {
        case pushed::queued:
            return;
        case pushed::shut_down:
            fallback_now(to_record(msg, c), "the sink is shut down");
            return;
        case pushed::full:
            fallback_now(to_record(msg, c), "queue full");
            return;
        case pushed::blocked_full:
            fallback_now(to_record(msg, c), "queue full (blocked for block_timeout)");
            return;
        case pushed::dropped:
            counters_.count_drop();
            return;
        case pushed::shed:
            counters_.count_shed(msg.level);
            return;
    }
}

void engine_core::fallback_now(record rec, const std::string& reason) {
    // The fallback sees the record as the backend would have: masked, then formatted with the
    // message formatter in force now, if any (this path writes to the fallback anyway, so the
    // cost is its own, not the queueing call's).
    if (cfg_.redaction) {
        cfg_.redaction->apply(rec);
    }
    formats_.format_for_call(rec);
    report_.to_fallback(&rec, 1, reason);
}

bool engine_core::flush_for(std::chrono::milliseconds timeout, bool unless_failing) {
    if (tls_worker_of == this) {
        return false;  // the worker cannot wait for itself
    }
    return queue_.flush_for(timeout, unless_failing);
}

void engine_core::request_stop(std::chrono::milliseconds timeout) {
    queue_.request_stop(steady::now() + timeout);
}

bool engine_core::shutdown(std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> serial(shutdown_mu_);
    if (shut_down_) {
        return drained_;
    }
    // An earlier request_stop() may have set a sooner deadline.
    const auto deadline = queue_.request_stop(steady::now() + timeout);
    if (tls_worker_of == this) {
        // Called from inside the worker (a backend shutting everything down): it cannot wait
        // for itself. It drains and exits on its own.
        worker_.detach();
        shut_down_ = true;
        return false;
    }
    bool exited = queue_.wait_exit_until(deadline);
    if (!exited) {
        backend_->interrupt();
        exited = queue_.wait_exit_for(interrupt_grace);
    }
    drained_ = exited && queue_.drained();
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
    // It applies from the next record logged: the worker picks it by sequence number, so
    // records already queued keep the formatter in force when they were logged.
    formats_.change(std::move(formatter), [this](std::unique_ptr<spdlog::formatter> f) {
        queue_.add_formatter_change(std::move(f));
    });
}

sink_stats engine_core::stats() const {
    sink_stats s;
    s.name = cfg_.name;
    counters_.fill(s);
    queue_.fill(s);
    report_.fill(s);
    try {
        s.backend = backend_->extra_stats();
        report_.mask_strings(s.backend, 0);
    } catch (const std::exception& e) {
        s.backend = nlohmann::json{{"error", report_.mask(e.what())}};
    }
    const backend& b = *backend_;  // typeid of a plain reference: no side effect for clang
    s.backend_kind = backend_kind_of(typeid(b));
    s.queue_max_records = cfg_.queue_max_records;
    s.queue_max_bytes = cfg_.queue_max_bytes;
    return s;
}

// ---------------------------------------------------------------- worker side

void engine_core::run() {
    tls_worker_of = this;
    set_thread_name("spdlog_ext");
    worker_batch b;
    std::vector<formatter_change> changes;
    try {
        for (;;) {
            const auto taken = queue_.next_batch(b, changes, delivery_.last_write());
            if (taken == record_queue::take_result::stopped) {
                break;
            }
            if (taken == record_queue::take_result::idle) {
                housekeeping();
                continue;
            }
            formats_.take(changes);
            process(b);
            if (steady::now() - last_housekeeping_ >= record_queue::idle_interval) {
                housekeeping();
            }
        }
    } catch (const std::exception& e) {
        report_.note_error(std::string("engine worker stopped: ") + e.what());
    }
    report_.report_drops();
    queue_.worker_exited();
}

void engine_core::process(worker_batch& b) {
    const std::size_t n = b.count;
    if (n > 0) {
        // Each record is masked and rendered once, before its first write (by a streaming
        // backend as it goes) or its fallback: retries and bisection halves reuse it.
        preparation_.begin(b);
        delivery_.send(b.records.data(), n);
    }
    // The counters are settled by the next next_batch(), under the lock it takes anyway.
}

void engine_core::housekeeping() {
    last_housekeeping_ = steady::now();
    report_.report_drops();
    if (queue_.stop_requested()) {
        return;  // stopping (or exiting): no retention, no new connection for it
    }
    try {
        backend_->housekeeping();
    } catch (const std::exception& e) {
        report_.note_error(std::string("housekeeping failed: ") + e.what());
    }
}

}  // namespace spdlog_ext::detail
