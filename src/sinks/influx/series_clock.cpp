#include "sinks/influx/series_clock.h"

#include <algorithm>

#include "sinks/influx/influx_escape.h"

namespace spdlog_ext::detail {

void series_clock::begin_source(std::uint64_t source_id, std::size_t offset, std::size_t size) {
    if (source_id == 0 || source_id != memo_source_) {
        memo_source_ = source_id;
        memo_set_.assign(offset + size, 0);
        memo_time_.resize(offset + size);
    }
}

std::int64_t series_clock::unique_time(series_state& s, std::int64_t ts) {
    const std::int64_t wanted = ts;
    if (s.count > 0 && ts <= s.last) {
        const auto behind = static_cast<std::uint64_t>(s.last) - static_cast<std::uint64_t>(ts);
        if (behind < static_cast<std::uint64_t>(same_time_window_ns) && s.last < max_timestamp) {
            // Same instant as (or just before) the newest point: right after it, so a burst of
            // equal timestamps becomes t, t+1, t+2, ... and nothing is overwritten.
            ts = s.last + 1;
        } else {
            // An older time (a backfilled metric): only move off the recent points it hits.
            const std::size_t n = std::min(s.count, series_state::ring_size);
            for (std::size_t i = 0; i < n; ++i) {
                if (s.recent[i] == ts && ts < max_timestamp) {
                    ++ts;
                    i = static_cast<std::size_t>(-1);  // check again from the start
                }
            }
        }
    }
    if (ts != wanted) {
        ++shifted_;
    }
    s.recent[s.count++ % series_state::ring_size] = ts;
    s.last = std::max(s.last, ts);
    return ts;
}

std::int64_t series_clock::timestamp_of(std::size_t index, std::uint64_t series,
                                        series_state* state, std::int64_t ts, bool& first) {
    if (index < memo_set_.size() && memo_set_[index] != 0) {
        first = false;
        return memo_time_[index];
    }
    first = true;
    if (index >= memo_set_.size()) {
        memo_set_.resize(index + 1, 0);
        memo_time_.resize(index + 1, 0);
    }
    memo_set_[index] = 1;
    return memo_time_[index] = unique_time(state != nullptr ? *state : series_[series], ts);
}

bool series_clock::forget_if_full() {
    // A series seen again starts afresh (only a same-nanosecond clash with a forgotten point
    // could then overwrite it).
    if (series_.size() <= max_series) {
        return false;
    }
    series_.clear();
    return true;
}

}  // namespace spdlog_ext::detail
