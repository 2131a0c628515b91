// Polls `done` every millisecond until it holds or `limit` passes: for tests that wait on a
// worker thread without a fixed sleep.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace test {

inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace test
