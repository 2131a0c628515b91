// prometheus_text(): a health report in the Prometheus text exposition format 0.0.4. One table
// lists the metric families: adding a metric is adding a row.
#include <cmath>
#include <cstdio>
#include <string_view>

#include "spdlog_ext/health.h"

namespace spdlog_ext {

namespace {

struct metric_row {
    const char* family;       // a valid metric name; counters end in _total
    const char* type;         // "counter" or "gauge"
    const char* help;         // no backslash or newline
    const char* label;        // an extra label (nullptr: none), e.g. a drop's reason
    const char* label_value;  // its value for this row
    double (*value)(const sink_health&);
};

double as_number(std::uint64_t v) {
    return static_cast<double>(v);
}

// Rows of one family stay together (one HELP and TYPE each); stats() names in sink_stats.h.
const metric_row sink_metrics[] = {
    {"spdlog_ext_sink_records_enqueued_total", "counter", "Records the sink accepted from loggers.",
     nullptr, nullptr, [](const sink_health& h) { return as_number(h.stats.enqueued); }},
    {"spdlog_ext_sink_records_delivered_total", "counter", "Records the backend confirmed.",
     nullptr, nullptr, [](const sink_health& h) { return as_number(h.stats.delivered); }},
    {"spdlog_ext_sink_records_fallback_total", "counter",
     "Records handed to the fallback sink (refused, undeliverable, queue full, disabled).", nullptr,
     nullptr, [](const sink_health& h) { return as_number(h.stats.fallback); }},
    {"spdlog_ext_sink_records_dropped_total", "counter",
     "Records dropped, by reason: overflow (a drop_* overflow policy) or shed (below the shed level "
     "above the shed watermark).",
     "reason", "overflow",
     [](const sink_health& h) { return as_number(h.stats.dropped - h.stats.shed); }},
    {"spdlog_ext_sink_records_dropped_total", "counter", "", "reason", "shed",
     [](const sink_health& h) { return as_number(h.stats.shed); }},
    {"spdlog_ext_sink_records_shed_total", "counter",
     "Records shed (dropped below the shed level while the queue was above the shed watermark), "
     "by level.",
     "level", "trace", [](const sink_health& h) { return as_number(h.stats.shed_by_level[0]); }},
    {"spdlog_ext_sink_records_shed_total", "counter", "", "level", "debug",
     [](const sink_health& h) { return as_number(h.stats.shed_by_level[1]); }},
    {"spdlog_ext_sink_records_shed_total", "counter", "", "level", "info",
     [](const sink_health& h) { return as_number(h.stats.shed_by_level[2]); }},
    {"spdlog_ext_sink_records_shed_total", "counter", "", "level", "warning",
     [](const sink_health& h) { return as_number(h.stats.shed_by_level[3]); }},
    {"spdlog_ext_sink_records_shed_total", "counter", "", "level", "error",
     [](const sink_health& h) { return as_number(h.stats.shed_by_level[4]); }},
    {"spdlog_ext_sink_records_shed_total", "counter", "", "level", "critical",
     [](const sink_health& h) { return as_number(h.stats.shed_by_level[5]); }},
    {"spdlog_ext_sink_records_truncated_total", "counter",
     "Records cut to the maximum record size when they were logged.", nullptr, nullptr,
     [](const sink_health& h) { return as_number(h.stats.truncated); }},
    {"spdlog_ext_sink_batches_total", "counter", "Batches delivered wholly or partly.", nullptr,
     nullptr, [](const sink_health& h) { return as_number(h.stats.batches); }},
    {"spdlog_ext_sink_failed_batches_total", "counter",
     "Batches or parts of them that ended in the fallback.", nullptr, nullptr,
     [](const sink_health& h) { return as_number(h.stats.failed_batches); }},
    {"spdlog_ext_sink_retries_total", "counter", "Writes repeated after a retryable failure.",
     nullptr, nullptr, [](const sink_health& h) { return as_number(h.stats.retries); }},
    {"spdlog_ext_sink_possible_duplicates_total", "counter",
     "Extra copies the receiver may hold after writes whose outcome was unknown.", nullptr, nullptr,
     [](const sink_health& h) { return as_number(h.stats.possible_duplicates); }},
    {"spdlog_ext_sink_queue_records", "gauge", "Records queued or in flight.", nullptr, nullptr,
     [](const sink_health& h) { return as_number(h.stats.queue_depth); }},
    {"spdlog_ext_sink_queue_bytes", "gauge", "Approximate size of the records queued or in flight.",
     nullptr, nullptr, [](const sink_health& h) { return as_number(h.stats.queue_bytes); }},
    {"spdlog_ext_sink_queue_max_records", "gauge", "Capacity of the queue in records.", nullptr,
     nullptr, [](const sink_health& h) { return as_number(h.stats.queue_max_records); }},
    {"spdlog_ext_sink_queue_max_bytes", "gauge", "Capacity of the queue in bytes.", nullptr,
     nullptr, [](const sink_health& h) { return as_number(h.stats.queue_max_bytes); }},
    {"spdlog_ext_sink_queue_fill_ratio", "gauge",
     "Queue fill from 0 to 1 (records or bytes, whichever is fuller).", nullptr, nullptr,
     [](const sink_health& h) { return h.queue_fill; }},
    {"spdlog_ext_sink_disabled", "gauge", "1 when the backend asked to stop (bad credentials).",
     nullptr, nullptr, [](const sink_health& h) { return h.stats.disabled ? 1.0 : 0.0; }},
    {"spdlog_ext_sink_seconds_since_success", "gauge",
     "Seconds since the last delivered batch (since the sink was made if none).", nullptr, nullptr,
     [](const sink_health& h) { return h.seconds_since_success; }},
    {"spdlog_ext_sink_failure_ratio", "gauge",
     "Failed writes over all writes in the recent window (LOG_HEALTH_WINDOW).", nullptr, nullptr,
     [](const sink_health& h) { return h.failure_ratio; }},
    {"spdlog_ext_sink_health", "gauge", "Health of the sink: 0 ok, 1 degraded, 2 failing.", nullptr,
     nullptr, [](const sink_health& h) { return static_cast<double>(h.verdict); }},
};

void append_value(std::string& out, double v) {
    char buf[40];
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    std::snprintf(buf, sizeof buf, "%.17g", v);  // integers up to 2^53 print exactly
    out += buf;
}

// A label value: backslash, double quote and line feed escaped as the format asks.
void append_label_value(std::string& out, std::string_view value) {
    out += '"';
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    out += '"';
}

void append_family_header(std::string& out, const char* family, const char* help,
                          const char* type) {
    out += "# HELP ";
    out += family;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += family;
    out += ' ';
    out += type;
    out += '\n';
}

}  // namespace

std::string prometheus_text() {
    return prometheus_text(health());
}

std::string prometheus_text(const health_report& report) {
    std::string out;
    out.reserve(256 + report.sinks.size() * sizeof(sink_metrics) / sizeof(metric_row) * 96);
    append_family_header(out, "spdlog_ext_health",
                         "Overall health of the sinks: 0 ok, 1 degraded, 2 failing.", "gauge");
    out += "spdlog_ext_health ";
    append_value(out, static_cast<double>(report.overall));
    out += '\n';
    append_family_header(out, "spdlog_ext_sinks", "Live engine-backed sinks.", "gauge");
    out += "spdlog_ext_sinks ";
    append_value(out, static_cast<double>(report.sinks.size()));
    out += '\n';

    std::string_view previous_family;
    for (const auto& row : sink_metrics) {
        if (previous_family != row.family) {
            append_family_header(out, row.family, row.help, row.type);
            previous_family = row.family;
        }
        for (const auto& sink : report.sinks) {
            out += row.family;
            out += "{sink=";
            append_label_value(out, sink.name);
            out += ",backend=";
            append_label_value(out, sink.backend);
            if (row.label != nullptr) {
                out += ',';
                out += row.label;
                out += '=';
                append_label_value(out, row.label_value);
            }
            out += "} ";
            append_value(out, row.value(sink));
            out += '\n';
        }
    }
    return out;
}

}  // namespace spdlog_ext
