// Internal: the InfluxDB line-protocol encoder, record → line:
//   measurement,tag=value,... field=value,... timestamp_ns
// tokens escaped by influx_escape.h; integers 123i (123u for values above INT64_MAX when the
// server takes unsigned, else a float), floats in shortest round-trip form, booleans; NaN/Inf
// fields dropped and counted; empty tag values omitted; keys `time` or `_...`, and fields named
// like our tags or `message`, renamed (field_..., tag_...); tags sorted by key. Timestamps come
// from series_clock.h; the level counts are level_counts.h, kept by the backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sinks/influx/influx_escape.h"
#include "sinks/influx/series_clock.h"
#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

struct line_protocol_options {
    std::string measurement = "logs";
    std::vector<std::string> tag_fields;  // structured fields written as tags
    std::string service;                  // tag service (omitted when empty)
    std::string hostname;                 // tag host
    bool unsigned_integers = false;       // 123u for integers above INT64_MAX
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

// A record written as a metric point (spdlog_ext::metric_field), not as a log line.
bool written_as_metric(const record& r);

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
    // Counted once per record (not again on retries).
    const line_protocol_stats& stats() const noexcept { return stats_; }

  private:
    void append_sorted_tags(std::string& out);  // tags_, sorted, as ",k=v,..."
    void encode_record(const record& r, std::size_t index, std::string& out);
    bool encode_metric(const record& r, std::size_t index, std::string& out);

    line_protocol_options options_;
    std::string measurement_;  // escaped
    std::string host_tag_;     // ",host=..." escaped, or empty
    std::string service_tag_;  // ",service=..." escaped, or empty
    std::string last_logger_;  // the last logger name, its escaped tag and series hashes
    std::string last_logger_escaped_;
    std::uint64_t last_series_[8] = {};  // per level, for last_logger_ (0: not computed)
    series_clock::series_state* last_state_[8] = {};         // their states in clock_
    std::vector<std::pair<std::string, std::string>> tags_;  // scratch
    line_keys line_keys_;  // the tag or field keys of the line being written (scratch)
    line_protocol_stats stats_;
    series_clock clock_;
};

}  // namespace spdlog_ext::detail
