#include "engine/backoff.h"

#include <algorithm>

namespace spdlog_ext::detail {

backoff::backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      rng_(std::random_device{}()) {}

std::chrono::milliseconds backoff::ceiling(std::size_t attempt) const noexcept {
    auto ceiling = initial_.count();
    for (std::size_t i = 0; i < attempt && ceiling < max_.count(); ++i) {
        ceiling *= 2;  // doubling stops at the cap, so this cannot overflow
    }
    return std::chrono::milliseconds(std::min(ceiling, max_.count()));
}

std::chrono::milliseconds backoff::delay(std::size_t attempt) {
    std::uniform_int_distribution<long long> pick(1, ceiling(attempt).count());
    return std::chrono::milliseconds(pick(rng_));
}

}  // namespace spdlog_ext::detail
