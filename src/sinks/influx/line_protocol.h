// Internal: the InfluxDB line-protocol encoder. Records become lines
//   measurement,tag=value,... field=value,... timestamp_ns
// escaped exactly as InfluxDB parses them: measurement (comma, space), tag keys/values and field
// keys (comma, '=', space), string field values ('"', '\'), integers 123i (123u for values above
// INT64_MAX when the server takes unsigned, else a float), floats in shortest round-trip form,
// booleans; NaN/Inf fields dropped and counted; empty tag values omitted; control characters and
// invalid UTF-8 in names made safe (U+FFFD; in string values only NUL and invalid UTF-8); a
// backslash InfluxDB cannot read back as itself (ending a name, or before ',', '=', ' ' or '"')
// becomes U+FF3C, a measurement's leading '#' (a comment line) U+FF03; keys `time` or `_...`,
// and fields named like our tags or `message`, renamed (field_..., tag_...); tags sorted by key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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

// Keys written on the current line, to keep them distinct. A line has a few keys as a rule
// (compared in place in the output), but may have tens of thousands: past a few dozen they go
// to a hash set, so a line costs time linear in its keys.
class line_keys {
  public:
    void clear();
    // Adds the key at out[from, out.size()); false (nothing added) when the line has it already.
    bool insert(const std::string& out, std::size_t from);
    // For a key `base` that was taken: the first suffix n (base_n) not tried yet; and the next
    // one once n is used. Repeats of one key thus cost one try each, not one per earlier repeat.
    std::uint64_t next_suffix(const std::string& base) const;
    void set_next_suffix(std::string base, std::uint64_t n);

  private:
    static constexpr std::size_t linear_limit = 32;
    std::vector<std::pair<std::size_t, std::size_t>> spans_;  // (offset, size) in the output
    std::unordered_set<std::string> set_;  // all the keys once there are more than linear_limit
    std::unordered_map<std::string, std::uint64_t> suffixes_;
};

struct line_protocol_stats {
    std::uint64_t nan_fields_dropped = 0;  // NaN/Inf field values left out
    std::uint64_t renamed_keys = 0;        // keys renamed (time, _x, collisions, repeats)
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

    // Encodes `batch` into `out` (replacing its content), one line per record, each ending in
    // '\n'; returns the number of lines. A record gets its timestamp once per source batch
    // (`source_id`, the engine's write_context): encoding any part of that batch again (a retry,
    // a bisection half) gives its records the very same timestamps, so a point the server
    // already stored is rewritten, never shifted onto a neighbour. source_id 0: a new source.
    // A record that gives no line (a metric whose every field is NaN) is listed in `skipped`.
    std::size_t encode(record_span batch, std::string& out, std::uint64_t source_id = 0,
                       std::size_t source_offset = 0, std::vector<std::size_t>* skipped = nullptr);
    // The last encode() was delivered: keep its level counts.
    void commit();
    // It was not: forget its level counts, so a retry counts the same records once.
    void rollback();

    // Counted once per record (not again on retries).
    const line_protocol_stats& stats() const noexcept { return stats_; }

  private:
    // A record of a series no more than this much older than the series' newest point is placed
    // right after it (order kept, shifted by at most this); older ones only avoid the series'
    // 64 most recent timestamps.
    static constexpr std::int64_t same_time_window_ns = 1000000;  // 1 ms
    static constexpr std::size_t max_series = 100000;             // timestamp state kept
    static constexpr std::size_t max_count_keys = 100000;         // level-count tallies kept

    struct series_state {
        static constexpr std::size_t ring_size = 64;
        std::int64_t last = 0;  // newest timestamp used
        std::int64_t recent[ring_size] = {};
        std::size_t count = 0;  // timestamps pushed (ring position = count % ring_size)
    };
    std::int64_t unique_time(series_state& s, std::int64_t ts);
    // The record's timestamp: remembered for its source batch, or assigned now (first = true)
    // from the series' state (`state`, or looked up by `series`).
    std::int64_t timestamp_of(std::size_t index, std::uint64_t series, series_state* state,
                              std::int64_t ts, bool& first);
    void append_sorted_tags(std::string& out);  // tags_, sorted, as ",k=v,..."
    void encode_record(const record& r, std::size_t index, std::string& out);
    bool encode_metric(const record& r, std::size_t index, std::string& out);
    void encode_level_counts(std::string& out);

    line_protocol_options options_;
    std::string measurement_;  // escaped
    std::string host_tag_;     // ",host=..." escaped, or empty
    std::string service_tag_;  // ",service=..." escaped, or empty
    std::string last_logger_;  // the last logger name, its escaped tag and series hashes
    std::string last_logger_escaped_;
    std::uint64_t last_series_[8] = {};  // per level, for last_logger_ (0: not computed)
    series_state* last_state_[8] = {};   // their states in series_
    std::vector<std::pair<std::string, std::string>> tags_;  // scratch
    line_keys line_keys_;  // the tag or field keys of the line being written (scratch)
    line_protocol_stats stats_;
    std::unordered_map<std::uint64_t, series_state> series_;
    std::uint64_t memo_source_ = 0;
    std::vector<std::int64_t> memo_time_;  // per record of the source batch
    std::vector<char> memo_set_;
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
