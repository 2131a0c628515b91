// Timers: one record per timed scope or call, with its duration, outcome, laps and fields; and,
// on request, a metric point through record_metric. Nothing at all when the level is disabled.
// Manual: docs/fields-and-formatting.md ("Timers").
#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spdlog_ext/fields.h"

namespace spdlog_ext {

struct timer_options {
    // Non-empty: at the end the timer also logs a metric point of this measurement through
    // record_metric (tags: name, outcome and the timer's string fields; values: duration_ms,
    // lap_<lap>_ms and the timer's number and boolean fields). Copied when the timer starts.
    std::string_view metric;
};

// Laps kept per timer; later laps are only counted (field `laps_dropped`).
inline constexpr std::size_t max_timer_laps = 32;

// Logs one record when it ends (scope exit, stop()):
//   "db.query took 12.345 ms"  (or "db.query failed after 12.345 ms")
// with fields duration_ms (double), outcome ("ok" / "error"), laps (when any), exception (when
// known) and its own fields. Outcome "error" when the scope is left by an exception or after
// fail(). The exception's text is known only through fail(e) (time_call does it): a destructor
// cannot read the exception that is unwinding it.
//
// When the logger does not log `level` at construction (or the shared_ptr is null), the timer is
// inert: no clock read, no allocation, no record. The logger passed by reference must outlive the
// timer; the shared_ptr form keeps the logger alive until the timer ends. Ends on the thread that
// destroys it (the record carries that thread's scoped fields). Never throws from its end.
class scoped_timer {
  public:
    // The level check is inline so that a disabled timer costs no call into the library.
    scoped_timer(spdlog::logger& logger, std::string_view name,
                 spdlog::level::level_enum level = spdlog::level::info, field_list fields = {},
                 timer_options options = {}) {
        if (logger.should_log(level)) {
            logger_ = &logger;
            start(name, level, std::move(fields), options);
        }
    }
    scoped_timer(const std::shared_ptr<spdlog::logger>& logger, std::string_view name,
                 spdlog::level::level_enum level = spdlog::level::info, field_list fields = {},
                 timer_options options = {}) {
        if (logger && logger->should_log(level)) {
            owner_ = logger;
            logger_ = logger.get();
            start(name, level, std::move(fields), options);
        }
    }
    ~scoped_timer() {
        if (logger_ != nullptr) {
            stop();
        }
    }
    scoped_timer(const scoped_timer&) = delete;
    scoped_timer& operator=(const scoped_timer&) = delete;

    // Marks a lap: its time since the start goes into the `laps` field, in order.
    void lap(std::string_view name) noexcept {
        if (logger_ != nullptr) {
            record_lap(name);
        }
    }
    // Outcome "error" with the exception's text (and its nested exceptions).
    void fail(const std::exception& e) noexcept;
    // Outcome "error", no text (an exception not derived from std::exception).
    void fail() noexcept;
    // Logs the record now; the end of the scope then logs nothing more. Idempotent.
    void stop() noexcept;
    // Ends the timer without any record.
    void cancel() noexcept;
    // False when inert (level disabled) or already stopped/cancelled.
    bool active() const noexcept { return logger_ != nullptr; }

  private:
    void record_lap(std::string_view name) noexcept;
    void start(std::string_view name, spdlog::level::level_enum level, field_list&& fields,
               const timer_options& options) noexcept;

    spdlog::logger* logger_ = nullptr;
    std::shared_ptr<spdlog::logger> owner_;
    spdlog::level::level_enum level_ = spdlog::level::off;
    int uncaught_at_start_ = 0;
    bool failed_ = false;
    std::chrono::steady_clock::time_point start_;
    std::string name_;
    std::string metric_;
    std::string exception_;
    field_list fields_;
    std::vector<std::pair<std::string, double>> laps_;
    std::size_t laps_dropped_ = 0;
};

namespace detail {
// fn() with its exception, if any, given to the timer (then rethrown).
template <typename Fn>
decltype(auto) invoke_timed(scoped_timer& timer, Fn&& fn) {
    try {
        return std::invoke(std::forward<Fn>(fn));
    } catch (const std::exception& e) {
        timer.fail(e);
        throw;
    } catch (...) {
        timer.fail();
        throw;
    }
}
}  // namespace detail

// Calls fn() inside a scoped_timer and returns what it returns (values, references, move-only
// types, void). An exception from fn is logged (outcome "error" with its text) and rethrown.
template <typename Fn>
decltype(auto) time_call(spdlog::logger& logger, std::string_view name, Fn&& fn,
                         spdlog::level::level_enum level = spdlog::level::info,
                         field_list fields = {}, timer_options options = {}) {
    scoped_timer timer(logger, name, level, std::move(fields), options);
    return detail::invoke_timed(timer, std::forward<Fn>(fn));
}

template <typename Fn>
decltype(auto) time_call(const std::shared_ptr<spdlog::logger>& logger, std::string_view name,
                         Fn&& fn, spdlog::level::level_enum level = spdlog::level::info,
                         field_list fields = {}, timer_options options = {}) {
    scoped_timer timer(logger, name, level, std::move(fields), options);
    return detail::invoke_timed(timer, std::forward<Fn>(fn));
}

}  // namespace spdlog_ext
