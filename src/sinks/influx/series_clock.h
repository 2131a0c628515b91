// Internal: unique timestamps per series. InfluxDB keeps one point per series and timestamp, so
// records of one series at the same instant would overwrite each other: each gets a timestamp
// no other recent point of its series has. A record keeps its timestamp for its source batch
// (the engine's write_context), so a retry or a bisection half rewrites the very same points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace spdlog_ext::detail {

class series_clock {
  public:
    struct series_state {
        static constexpr std::size_t ring_size = 64;
        std::int64_t last = 0;  // newest timestamp used
        std::int64_t recent[ring_size] = {};
        std::size_t count = 0;  // timestamps pushed (ring position = count % ring_size)
    };

    // Starts encoding records [offset, offset + size) of source batch `source_id` (0: a new
    // source): the timestamps remembered for another source are forgotten.
    void begin_source(std::uint64_t source_id, std::size_t offset, std::size_t size);
    // The state of a series (by hash); the reference survives rehashing until forget_if_full().
    series_state& state_of(std::uint64_t series) { return series_[series]; }
    // The timestamp of record `index` of the source: remembered, or assigned now (first = true)
    // from the series' state (`state`, or looked up by `series`).
    std::int64_t timestamp_of(std::size_t index, std::uint64_t series, series_state* state,
                              std::int64_t ts, bool& first);
    // Bounded memory: forgets every series past max_series; true when it did (states gone).
    bool forget_if_full();

    // Records moved off a same-series same-time point (once per record, not per retry).
    std::uint64_t timestamps_shifted() const noexcept { return shifted_; }

  private:
    // A record of a series no more than this much older than the series' newest point is placed
    // right after it (order kept, shifted by at most this); older ones only avoid the series'
    // 64 most recent timestamps.
    static constexpr std::int64_t same_time_window_ns = 1000000;  // 1 ms
    static constexpr std::size_t max_series = 100000;             // timestamp state kept

    std::int64_t unique_time(series_state& s, std::int64_t ts);

    std::unordered_map<std::uint64_t, series_state> series_;
    std::uint64_t memo_source_ = 0;
    std::vector<std::int64_t> memo_time_;  // per record of the source batch
    std::vector<char> memo_set_;
    std::uint64_t shifted_ = 0;
};

}  // namespace spdlog_ext::detail
