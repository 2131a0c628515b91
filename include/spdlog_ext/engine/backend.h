// The backend interface: the part of a network sink that turns a batch of records into bytes for
// its protocol (the encoder) and sends them (the transport). The engine (engine_sink) owns the
// queue, batching, retries and the fallback, and calls a backend from its worker thread only.
// Manual: docs/architecture.md (the backend contract; examples/custom_backend.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "spdlog_ext/record.h"

namespace spdlog_ext {

// A read-only view of consecutive records (std::span is C++20).
class record_span {
  public:
    record_span() = default;
    record_span(const record* data, std::size_t size) noexcept : data_(data), size_(size) {}

    const record* begin() const noexcept { return data_; }
    const record* end() const noexcept { return data_ + size_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const record& operator[](std::size_t i) const noexcept { return data_[i]; }
    record_span subspan(std::size_t offset, std::size_t count) const noexcept {
        return {data_ + offset, count};
    }

  private:
    const record* data_ = nullptr;
    std::size_t size_ = 0;
};

// What a backend says about one write of a batch.
struct batch_result {
    enum class outcome {
        delivered,  // every record was accepted
        partial,    // the records listed in `rejected` were refused; the others were accepted
        retry,      // nothing (known to be) accepted; a transient failure: send it again later
        split,      // too large for the receiver: halve the batch and send each half
        isolate,    // refused for bad data somewhere in it: bisect to find the culprits
        rejected,   // refused for good (e.g. malformed beyond repair): fallback, no retry
        disable,    // the backend cannot work any more (revoked key, deleted webhook): stop
                    // sending; this and every later record goes to the fallback
    };
    struct rejected_record {
        std::size_t index;  // position within the batch passed to write()
        std::string reason;
    };

    outcome kind = outcome::delivered;
    std::string reason;  // for the fallback, stats and the error handler; never a secret
    // A server-given delay (retry only); the engine caps it at retry_max_delay.
    std::optional<std::chrono::milliseconds> retry_after;
    bool outcome_unknown = false;  // retry: the receiver may have applied it (possible duplicate)
    std::vector<rejected_record> rejected;  // partial only

    static batch_result delivered() { return {}; }
    static batch_result partial(std::vector<rejected_record> refused) {
        batch_result r;
        r.kind = outcome::partial;
        r.rejected = std::move(refused);
        return r;
    }
    static batch_result retry(std::string why,
                              std::optional<std::chrono::milliseconds> after = std::nullopt,
                              bool unknown = false) {
        batch_result r;
        r.kind = outcome::retry;
        r.reason = std::move(why);
        r.retry_after = after;
        r.outcome_unknown = unknown;
        return r;
    }
    static batch_result with(outcome kind, std::string why) {
        batch_result r;
        r.kind = kind;
        r.reason = std::move(why);
        return r;
    }
};

// Masks (the sink's redaction) and renders (its message formatter) records before a backend
// reads them. Positions are within the engine's batch (write_context::source_offset + i).
class record_preparer {
  public:
    virtual void prepare(std::size_t first, std::size_t count) = 0;

  protected:
    ~record_preparer() = default;
};

// What the engine tells a backend about a write.
struct write_context {
    // The same for every try of the same records (retries), different for every other batch
    // (including the halves of a split): a backend can record it to make writes exactly-once.
    std::uint64_t batch_id = 0;
    std::size_t attempt = 0;  // 0 for the first try
    // The records' origin: the batch the engine took from its queue (the same for every retry
    // and every split half of it) and the position of this write's first record in it. A
    // backend can give each record something once (an InfluxDB timestamp) and reuse it.
    std::uint64_t source_id = 0;
    std::size_t source_offset = 0;
    // Set when backend::prepares_records() is true: the records are not masked yet.
    record_preparer* preparer = nullptr;

    // Masks and renders records [first, first + count) of this write before the backend
    // reads them: needed only when backend::prepares_records() is true. Cheap on records
    // already done (retries, split halves); may throw (out of memory) like write() itself.
    void prepare(std::size_t first, std::size_t count) const {
        if (preparer != nullptr) {
            preparer->prepare(source_offset + first, count);
        }
    }
};

class backend {
  public:
    virtual ~backend() = default;

    // Sends one batch; called on the engine's worker thread only, never concurrently.
    // Exceptions are caught by the engine and treated as a retry with the exception's text.
    virtual batch_result write(record_span batch, const write_context& context) = 0;

    // Called from another thread when a shutdown deadline passes while write() is running:
    // make it return soon (abort the transfer, cancel the query).
    virtual void interrupt() noexcept {}

    // Housekeeping off the logging path (e.g. retention), called on the worker about once a
    // second, between batches (also when the sink is busy). Exceptions are reported as errors.
    virtual void housekeeping() {}

    // Backend-specific stats merged into sink_stats::backend (e.g. {"connected": true}).
    virtual nlohmann::json extra_stats() const { return nlohmann::json::object(); }

    // False (the default): the engine masks and renders a whole batch before write(). True:
    // write() calls context.prepare() on each part before reading it, so that masking the
    // rest overlaps sending this part (a streamed PostgreSQL COPY: the server parses while the
    // worker masks). Records the backend never prepared are prepared by the engine before
    // they go to the fallback.
    virtual bool prepares_records() const noexcept { return false; }
};

}  // namespace spdlog_ext
