// Counters of an engine-backed sink. At any quiet point (nothing in flight):
//   delivered + fallback + dropped + queue_depth == enqueued
// (dropped includes the records shed: `shed` is that part of it.)
// Manual: docs/architecture.md (the engine).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace spdlog_ext {

struct sink_stats {
    std::string name;
    std::uint64_t enqueued = 0;             // records the sink accepted from loggers
    std::uint64_t delivered = 0;            // records the backend confirmed
    std::uint64_t fallback = 0;             // records handed to the fallback sink
    std::uint64_t dropped = 0;              // records dropped by a drop_* overflow policy
    std::uint64_t queue_depth = 0;          // records queued or in flight
    std::uint64_t queue_bytes = 0;          // their approximate size
    std::uint64_t batches = 0;              // batches delivered (wholly or partly)
    std::uint64_t failed_batches = 0;       // batches (or parts) that ended in the fallback
    std::uint64_t retries = 0;              // writes repeated after a retryable failure
    std::uint64_t possible_duplicates = 0;  // extra copies the receiver may hold: one per record
                                            // per write of it whose outcome was unknown
    std::uint64_t truncated = 0;            // records cut to max_record_bytes when they were logged
    bool disabled = false;                  // the backend asked to stop (bad credentials...)
    std::string last_error;                 // secrets masked
    std::optional<std::chrono::system_clock::time_point> last_error_time;
    std::optional<std::chrono::system_clock::time_point> last_success;
    nlohmann::json backend = nlohmann::json::object();  // backend-specific, e.g. connected
    std::string backend_kind;             // the backend's type: "postgres", "datadog", ...
    std::uint64_t queue_max_records = 0;  // the queue's capacity (engine_config)
    std::uint64_t queue_max_bytes = 0;
    // Records not queued because the queue was above engine_config::shed_watermark and they
    // were below shed_level; included in `dropped`. Per level: indexed by
    // spdlog::level::level_enum (trace, debug, info, warn, err, critical).
    std::uint64_t shed = 0;
    std::array<std::uint64_t, 6> shed_by_level{};

    nlohmann::json to_json() const;
};

}  // namespace spdlog_ext
