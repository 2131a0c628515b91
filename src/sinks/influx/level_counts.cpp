#include "sinks/influx/level_counts.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "core/levels.h"
#include "sinks/influx/influx_encoder.h"
#include "sinks/influx/influx_escape.h"

namespace spdlog_ext::detail {

std::size_t level_counts::key_hash::operator()(const key& k) const noexcept {
    return std::hash<std::string>()(k.logger) ^ (std::hash<std::int64_t>()(k.interval) * 31) ^
           static_cast<std::size_t>(k.level);
}

level_counts::level_counts(std::int64_t interval_ns, std::string_view measurement,
                           std::string_view host, std::string_view service)
    : interval_ns_(interval_ns), service_tag_(tag_pair("service", service)) {
    append_measurement(line_start_, measurement);
    line_start_ += tag_pair("host", host);
}

void level_counts::tally(record_span batch) {
    if (interval_ns_ <= 0) {
        return;
    }
    for (const record& r : batch) {
        if (written_as_metric(r)) {
            continue;
        }
        const std::int64_t t = ns_since_epoch(r.time);
        // Floor to the interval without overflow near the ends of the range.
        const std::int64_t rem = t % interval_ns_;
        std::int64_t start = t - rem;
        if (rem < 0 && start >= min_timestamp + interval_ns_) {
            start -= interval_ns_;
        }
        ++pending_[key{start, static_cast<int>(r.level), r.logger_name}];
    }
}

std::size_t level_counts::append_lines(std::string& out) const {
    for (const auto& [k, n] : pending_) {
        const auto committed = committed_.find(k);
        const std::uint64_t total = n + (committed == committed_.end() ? 0 : committed->second);
        out += line_start_;
        out += ",level=";
        out += level_lower(static_cast<spdlog::level::level_enum>(k.level));
        if (!k.logger.empty()) {
            out += ",logger=";
            append_tag(out, k.logger);
        }
        out += service_tag_;
        out += " count=";
        append_uint(out, total);
        out += "i ";
        append_int(out, k.interval);
        out += '\n';
    }
    return pending_.size();
}

void level_counts::commit() {
    for (const auto& [k, n] : pending_) {
        committed_[k] += n;
    }
    pending_.clear();
    if (committed_.size() > max_keys) {
        // Bounded memory: keep the last 100 intervals (a record older than that starts afresh).
        std::int64_t newest = std::numeric_limits<std::int64_t>::min();
        for (const auto& [k, n] : committed_) {
            newest = std::max(newest, k.interval);
        }
        const std::int64_t horizon = newest - 100 * interval_ns_;
        for (auto it = committed_.begin(); it != committed_.end();) {
            it = it->first.interval < horizon ? committed_.erase(it) : std::next(it);
        }
    }
}

}  // namespace spdlog_ext::detail
