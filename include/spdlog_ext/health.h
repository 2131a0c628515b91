// Health and metrics of every live engine-backed sink (however it was made): a verdict per sink
// with its reasons, and the counters in the Prometheus text format, for /health and /metrics.
// Manual: docs/operating.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext {

// Worst last: the overall verdict is the worst of the sinks'. As a number: 0, 1, 2.
enum class health_verdict { ok = 0, degraded = 1, failing = 2 };

const char* to_string(health_verdict verdict) noexcept;

// When a sink stops being ok. Defaults below; LOG_HEALTH_<NAME> overrides (docs/operating.md).
struct health_thresholds {
    // The recent window for the failure ratio, the fallback and the drops (LOG_HEALTH_WINDOW).
    std::chrono::milliseconds window = std::chrono::minutes(5);
    // Records wait and nothing was delivered for this long: degraded / failing
    // (LOG_HEALTH_STALL_DEGRADED, LOG_HEALTH_STALL_FAILING).
    std::chrono::milliseconds stall_degraded = std::chrono::seconds(30);
    std::chrono::milliseconds stall_failing = std::chrono::minutes(2);
    // Failed writes (retries and batches given up) / all writes in the window: degraded /
    // failing (LOG_HEALTH_FAILURE_DEGRADED, LOG_HEALTH_FAILURE_FAILING), judged once the window
    // holds at least min_writes writes (LOG_HEALTH_MIN_WRITES).
    double failure_degraded = 0.1;
    double failure_failing = 0.5;
    std::size_t min_writes = 5;
    // Queue fill (records or bytes, whichever is fuller) at or above this: degraded
    // (LOG_HEALTH_QUEUE_FILL).
    double queue_fill_degraded = 0.8;

    // The defaults overridden by the LOG_HEALTH_* variables that are set. A malformed or
    // inconsistent value throws config_error naming the variable and the fix.
    static health_thresholds from_env();
};

struct sink_health {
    std::string name;     // engine_config::name
    std::string backend;  // the backend's kind: postgres, datadog, slack, influx, or a custom one
    health_verdict verdict = health_verdict::ok;
    std::vector<std::string> reasons;  // empty when ok
    double queue_fill = 0;             // 0..1
    double failure_ratio = 0;          // in the window; 0 without writes
    double seconds_since_success = 0;  // since the sink was created when it never succeeded
    sink_stats stats;

    nlohmann::json to_json() const;
};

struct health_report {
    health_verdict overall = health_verdict::ok;  // ok when there is no sink
    std::vector<sink_health> sinks;               // in order of creation

    // {"status": "ok", "sinks": [{"name", "backend", "status", "reasons", ...}]}
    nlohmann::json to_json() const;
};

// The health of every live engine-backed sink. The recent window and stalls are measured between
// calls (each call samples the counters; the first call after a sink is made compares with zero),
// so call it regularly (each scrape does). Never blocks logging: it takes each queue's lock as
// stats() does. The first form reads LOG_HEALTH_* and throws config_error when one is malformed;
// otherwise neither throws anything but std::bad_alloc.
health_report health();
health_report health(const health_thresholds& thresholds);

// The stats of every live sink in the Prometheus text exposition format 0.0.4 (serve it as
// "text/plain; version=0.0.4"): spdlog_ext_sink_*_total counters, gauges, the health as a number,
// labels sink and backend. Computes a health report (as health() does) unless given one.
std::string prometheus_text();
std::string prometheus_text(const health_report& report);

}  // namespace spdlog_ext
