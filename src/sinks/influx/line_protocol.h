// Internal: the InfluxDB line-protocol encoder. Records become lines
//   measurement,tag=value,... field=value,... timestamp_ns
// escaped exactly as InfluxDB parses them: measurement (comma, space), tag keys/values and field
// keys (comma, '=', space), string field values ('"', '\'), integers 123i (123u for values above
// INT64_MAX when the server takes unsigned, else a float), floats in shortest round-trip form,
// booleans; NaN/Inf fields dropped and counted; empty tag values omitted; control characters and
// invalid UTF-8 in names made safe (U+FFFD); a backslash InfluxDB cannot read back (ending a
// name, or before a separator in a field key) becomes U+FF3C, a measurement's leading '#' (a
// comment line) U+FF03; keys `time` or `_...` renamed
// (field_time, field__x / tag_...); tags sorted by key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

struct line_protocol_options {
    std::string measurement = "logs";
    std::vector<std::string> tag_fields;        // structured fields written as tags
    std::string service;                        // tag service (omitted when empty)
    std::string hostname;                       // tag host
    bool unsigned_integers = false;             // 123u for integers above INT64_MAX
    std::int64_t level_counts_interval_ns = 0;  // > 0: also write counts per level and logger
    std::string level_counts_measurement = "log_counts";
};

struct line_protocol_stats {
    std::uint64_t nan_fields_dropped = 0;  // NaN/Inf field values left out
    std::uint64_t renamed_keys = 0;        // keys renamed (time, _x, collisions)
    std::uint64_t timestamps_shifted = 0;  // records moved off a same-series same-time point
};

// Escaping of one token (exposed for tests and fuzzing).
void append_measurement(std::string& out, std::string_view name);
void append_tag(std::string& out, std::string_view text);  // tag keys and values
void append_field_key(std::string& out, std::string_view key);
void append_string_value(std::string& out, std::string_view value);  // "..." with escapes
void append_float(std::string& out, double value);  // shortest round-trip; finite values only

class line_encoder {
  public:
    explicit line_encoder(line_protocol_options options);

    // Encodes `batch` into `out` (replacing its content): one line per record, each ending in
    // '\n'. line_records (if given) receives, per line, the index of its record in the batch
    // (level-count lines get the index of the batch's last record). Returns the number of lines.
    // A record that gives no line (a metric whose every field is NaN) is listed in `skipped`.
    std::size_t encode(record_span batch, std::string& out,
                       std::vector<std::size_t>* line_records = nullptr,
                       std::vector<std::size_t>* skipped = nullptr);
    // The last encode() was delivered: keep its timestamp assignments and level counts.
    void commit();
    // It was not: forget them, so that encoding the same records again gives the same points.
    void rollback();

    const line_protocol_stats& stats() const noexcept { return stats_; }

  private:
    struct series_state {
        static constexpr std::size_t ring_size = 64;
        std::int64_t last = 0;  // newest timestamp used
        std::int64_t recent[ring_size] = {};
        std::size_t count = 0;  // timestamps pushed (ring position = count % ring_size)
    };
    std::int64_t unique_time(std::uint64_t series, std::int64_t ts);
    void append_sorted_tags(std::string& out);  // tags_, sorted, as ",k=v,..."
    void encode_record(const record& r, std::string& out);
    void encode_metric(const record& r, std::string& out, bool& produced);
    void encode_level_counts(std::string& out);

    // A record of a series no more than this much older than the series' newest point is placed
    // right after it (order kept, shifted by at most this); older ones only avoid the series'
    // 64 most recent timestamps.
    static constexpr std::int64_t same_time_window_ns = 1000000;  // 1 ms
    static constexpr std::size_t max_series = 100000;             // timestamp state kept per series
    static constexpr std::size_t max_count_keys = 100000;         // level-count tallies kept

    line_protocol_options options_;
    std::string measurement_;  // escaped
    std::string host_tag_;     // ",host=..." escaped, or empty
    std::string service_tag_;  // ",service=..." escaped, or empty
    std::string last_logger_;  // the last logger name and its escaped form (a cheap cache)
    std::string last_logger_escaped_;
    std::vector<std::pair<std::string, std::string>> tags_;   // scratch
    line_protocol_stats stats_;                               // committed
    line_protocol_stats pending_stats_;                       // this encode's
    std::unordered_map<std::uint64_t, series_state> series_;  // committed
    std::unordered_map<std::uint64_t, series_state> undo_;    // pre-encode states of touched
    // Level counts: (interval start, level, logger) → count.
    struct count_key {
        std::int64_t interval;
        int level;
        std::string logger;
        bool operator==(const count_key& o) const {
            return interval == o.interval && level == o.level && logger == o.logger;
        }
    };
    struct count_hash {
        std::size_t operator()(const count_key& k) const noexcept;
    };
    std::unordered_map<count_key, std::uint64_t, count_hash> counts_;   // committed
    std::unordered_map<count_key, std::uint64_t, count_hash> pending_;  // this encode's
};

}  // namespace spdlog_ext::detail
