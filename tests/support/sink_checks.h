// Checks shared by the sink tests: the accounting rule and a collector for the error handler.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "spdlog_ext/engine/sink_stats.h"

namespace test {

// Every record accounted for once the sink is drained:
// delivered + fallback + dropped == logged, nothing left in the queue.
inline void check_accounting(const spdlog_ext::sink_stats& s, std::uint64_t logged) {
    CHECK(s.enqueued == logged);
    CHECK(s.queue_depth == 0);
    CHECK(s.delivered + s.fallback + s.dropped == logged);
}

// Messages given to a sink's error handler (called on the sink's worker), kept for checks and
// failure messages instead of being printed.
struct error_log {
    std::mutex mu;
    std::vector<std::string> lines;

    void add(const std::string& line) {
        std::lock_guard<std::mutex> lock(mu);
        if (lines.size() < 1000) {
            lines.push_back(line);
        }
    }
    std::vector<std::string> copy() {
        std::lock_guard<std::mutex> lock(mu);
        return lines;
    }
    std::string text() {
        std::string out;
        for (const auto& l : copy()) {
            out += "\n  " + l;
        }
        return out.empty() ? std::string(" (none)") : out;
    }
};

}  // namespace test
