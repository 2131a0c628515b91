// Internal: the engine's counters, shared by the queue, delivery and reporting. Atomics only (no
// lock): each piece bumps its own, stats() reads them all.
#pragma once

#include <atomic>
#include <cstdint>

#include "spdlog_ext/engine/sink_stats.h"

namespace spdlog_ext::detail {

struct engine_counters {
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> fallback{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> dropped_unreported{0};  // not yet in a drop summary
    std::atomic<std::uint64_t> batches{0};
    std::atomic<std::uint64_t> failed_batches{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> possible_duplicates{0};
    std::atomic<std::uint64_t> truncated{0};
    std::atomic<bool> disabled{false};
    // Shedding, per spdlog level (trace..critical): all of it, and what no summary told yet.
    std::atomic<std::uint64_t> shed[6] = {};
    std::atomic<std::uint64_t> shed_unreported[6] = {};

    void count_drop() noexcept {
        dropped.fetch_add(1, std::memory_order_relaxed);
        dropped_unreported.fetch_add(1, std::memory_order_relaxed);
    }

    // A shed record counts as dropped too, so delivered + fallback + dropped stays the whole.
    void count_shed(int level) noexcept {
        dropped.fetch_add(1, std::memory_order_relaxed);
        shed[level].fetch_add(1, std::memory_order_relaxed);
        shed_unreported[level].fetch_add(1, std::memory_order_relaxed);
    }

    void fill(sink_stats& s) const noexcept {
        s.delivered = delivered.load(std::memory_order_relaxed);
        s.fallback = fallback.load(std::memory_order_relaxed);
        s.dropped = dropped.load(std::memory_order_relaxed);
        s.batches = batches.load(std::memory_order_relaxed);
        s.failed_batches = failed_batches.load(std::memory_order_relaxed);
        s.retries = retries.load(std::memory_order_relaxed);
        s.possible_duplicates = possible_duplicates.load(std::memory_order_relaxed);
        s.truncated = truncated.load(std::memory_order_relaxed);
        s.disabled = disabled.load(std::memory_order_relaxed);
        s.shed = 0;
        for (std::size_t level = 0; level < s.shed_by_level.size(); ++level) {
            s.shed_by_level[level] = shed[level].load(std::memory_order_relaxed);
            s.shed += s.shed_by_level[level];
        }
    }
};

}  // namespace spdlog_ext::detail
