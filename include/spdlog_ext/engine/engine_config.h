// Queue, batching, retry and fallback settings shared by every engine-backed sink. Each can be set
// from the environment as LOG_<BACKEND>_<OPTION> (see registry.h and docs/configuration.md).
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace spdlog_ext {

class redactor;

using namespace std::chrono_literals;

// What happens to a record when the queue is full (records or bytes).
enum class overflow_policy {
    fallback,     // default: the new record goes to the fallback sink, counted as fallback
    block,        // the logging call waits up to block_timeout for room, then falls back
    drop_newest,  // the new record is dropped, counted as dropped
    drop_oldest,  // the oldest queued record is dropped to make room, counted as dropped
};

struct engine_config {
    std::string name;  // used in stats, errors and fallback reasons; defaults to the backend's

    // Queue: records accepted but not yet delivered or handed to the fallback.
    std::size_t queue_max_records = 100000;
    std::size_t queue_max_bytes = 64u << 20;
    overflow_policy overflow = overflow_policy::fallback;
    std::chrono::milliseconds block_timeout = 100ms;

    // A record bigger than this (its message plus the approximate size of its fields) is cut
    // in the logging call, before it is copied: the fields are kept whole up to half of it,
    // the message gets the rest; what is cut ends in "…[truncated N bytes]" (the message, a
    // cut string field) or is counted in a fields_truncated field. Counted in
    // sink_stats::truncated. At least 1024.
    std::size_t max_record_bytes = 1u << 20;

    // A batch is sent when it reaches max_records or max_bytes, or its oldest record has waited
    // max_delay, whichever comes first.
    std::size_t batch_max_records = 1000;
    std::size_t batch_max_bytes = 1u << 20;
    std::chrono::milliseconds batch_max_delay = 200ms;
    // A write to the backend starts at least this long after the previous one ended (0: no
    // limit), retries included: for receivers with a rate limit (Slack: about one message a
    // second per webhook), which then see requests at least this far apart however long they
    // took. Records arriving meanwhile wait and join the next batch.
    std::chrono::milliseconds min_write_interval = 0ms;

    // Retry: exponential backoff with full jitter, delay = random(0, min(max, initial * 2^n));
    // a server-given Retry-After wins, capped at max_delay too. A batch gives up (to the
    // fallback) after max_attempts tries (0 = no limit), or as soon as its next try would come
    // more than max_elapsed after its first, whichever comes first.
    std::chrono::milliseconds retry_initial = 100ms;
    std::chrono::milliseconds retry_max_delay = 30s;
    std::size_t retry_max_attempts = 0;
    std::chrono::milliseconds retry_max_elapsed = 5min;

    // Whether the sink follows the logger's pattern: spdlog's logger->set_pattern() and
    // set_formatter(), spdlog::set_pattern() and spdlog::initialize_logger() reach every sink
    // through sink::set_formatter(). False (default): ignored, so a pattern meant for the console
    // never changes what a structured backend stores; engine_sink::set_message_pattern() is the
    // explicit call. True: they act as set_message_formatter(), as with spdlog's own sinks (for
    // a custom backend that sends text lines).
    bool follow_logger_pattern = false;

    std::chrono::milliseconds flush_timeout = 5s;     // sink.flush() / logger->flush()
    std::chrono::milliseconds shutdown_timeout = 5s;  // destructor

    // Receives rejected and undeliverable records with the reason in fields
    // "fallback_reason"/"fallback_sink". Null → a stderr sink showing those fields.
    spdlog::sink_ptr fallback;
    // Errors (failed batches, give-ups, a disabled backend). Null → stderr. At most one report a
    // second per sink (the count of the others follows in the next one), except that a backend
    // being disabled is always reported. Must not throw.
    std::function<void(const std::string&)> error_handler;
    // Two mechanisms on purpose: `secrets` are the exact strings this sink itself knows (its API
    // key, its password), masked as *** in its own diagnostics: every reason, error and stat it
    // emits (URL credentials there are masked too). `redaction` finds secrets by pattern in the
    // user's records, which the sink cannot know in advance (docs/redaction.md).
    std::vector<std::string> secrets;
    // Masks secrets in each record (message and fields) on the worker, before the backend sees
    // it and before a fallback does (spdlog_ext/redaction.h). Null: records go out as logged.
    // The network sinks default to redactor::defaults(); LOG_<BACKEND>_REDACT overrides.
    std::shared_ptr<const redactor> redaction;

    // Load shedding (off by default): while the queue is fuller than shed_watermark of its
    // capacity (records or bytes, whichever is fuller), a record below shed_level is not queued
    // but counted as dropped (sink_stats::shed, per level) and summarised to the fallback once
    // a second; records at or above it keep the remaining room, and at 100% meet the overflow
    // policy as usual. spdlog::level::off: no shedding. shed_watermark: in (0, 1].
    spdlog::level::level_enum shed_level = spdlog::level::off;
    double shed_watermark = 0.8;
    // A record at or above urgent_level closes the batch being gathered at once (with the
    // records queued before it) instead of waiting for batch_max_delay; min_write_interval
    // still applies. spdlog::level::off: none is urgent.
    spdlog::level::level_enum urgent_level = spdlog::level::critical;
};

}  // namespace spdlog_ext
