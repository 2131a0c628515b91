// Internal: the InfluxDB sink's level counts, points "count of records per (interval, level,
// logger)" written beside the records. The counts are cumulative per interval, so a write
// rewrites its intervals' totals (idempotent). They are a transaction around one write: begin(),
// tally(batch), append_lines(body), then commit() when the server took it, else rollback() — a
// retry or a bisection half counts the same records once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

class level_counts {
  public:
    // interval_ns <= 0: disabled (tally counts nothing, append_lines writes nothing).
    // host/service: the hostname and service tag values (omitted when empty).
    level_counts(std::int64_t interval_ns, std::string_view measurement, std::string_view host,
                 std::string_view service);

    // Starts a write: a tally neither committed nor rolled back counts for nothing.
    void begin() { pending_.clear(); }
    // Counts the log records of `batch` (metric points are not logs).
    void tally(record_span batch);
    // Appends this write's intervals as lines (committed totals + this write's); returns their
    // number.
    std::size_t append_lines(std::string& out) const;
    // The write was delivered: keep its counts.
    void commit();
    // It was not: forget them.
    void rollback() { pending_.clear(); }

  private:
    static constexpr std::size_t max_keys = 100000;  // tallies kept

    struct key {
        std::int64_t interval;  // its start
        int level;
        std::string logger;
        bool operator==(const key& o) const {
            return interval == o.interval && level == o.level && logger == o.logger;
        }
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept;
    };

    std::int64_t interval_ns_;
    std::string line_start_;   // the escaped measurement, then the host tag
    std::string service_tag_;  // ",service=..." escaped, or empty
    std::unordered_map<key, std::uint64_t, key_hash> committed_;
    std::unordered_map<key, std::uint64_t, key_hash> pending_;  // this write's
};

}  // namespace spdlog_ext::detail
