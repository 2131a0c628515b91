// Internal: exponential backoff with full jitter (delay = random(0, min(cap, base * 2^attempt))),
// which spreads retries from many clients instead of synchronising them.
#pragma once

#include <chrono>
#include <cstddef>
#include <random>

namespace spdlog_ext::detail {

class backoff {
  public:
    backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
    // The delay before retry number `attempt` (0 for the first retry).
    std::chrono::milliseconds delay(std::size_t attempt);
    // The upper bound delay(attempt) draws from.
    std::chrono::milliseconds ceiling(std::size_t attempt) const noexcept;

  private:
    std::chrono::milliseconds initial_;
    std::chrono::milliseconds max_;
    std::mt19937_64 rng_;
};

}  // namespace spdlog_ext::detail
