// A delivery_host for tests of the delivery state machine: a virtual clock that only moves when
// the test (or a scripted backend) advances it, or when delivery sleeps; an optional shutdown
// deadline; and a record of every sleep and every change of the "failing" flag.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "engine/delivery.h"

namespace test {

class fake_delivery_host final : public spdlog_ext::detail::delivery_host {
  public:
    using steady = std::chrono::steady_clock;

    steady::time_point clock{std::chrono::hours(1)};
    std::optional<steady::time_point> deadline;  // the shutdown deadline, once requested
    std::vector<steady::time_point> sleeps;      // the target of every sleep_until()
    std::vector<bool> failing_changes;           // every change of the flag, in order
    bool is_failing = false;

    void advance(steady::duration d) { clock += d; }

    steady::time_point now() override { return clock; }
    bool deadline_passed() override { return deadline && clock >= *deadline; }
    bool sleep_until(steady::time_point t) override {
        // Like the queue: the deadline cuts the wait short; no real time passes.
        sleeps.push_back(t);
        const auto until = deadline ? std::min(t, *deadline) : t;
        clock = std::max(clock, until);
        return !deadline_passed();
    }
    void set_failing(bool failing) override {
        if (failing != is_failing) {
            failing_changes.push_back(failing);
        }
        is_failing = failing;
    }
    bool failing() const override { return is_failing; }
};

}  // namespace test
