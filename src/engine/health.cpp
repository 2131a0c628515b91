// health() and prometheus_text(): the sinks of the directory, judged against the thresholds with
// a small history of counter samples per sink (taken by these calls, never by logging).
#include "spdlog_ext/health.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "engine/engine_core.h"
#include "engine/sink_directory.h"
#include "spdlog_ext/env_options.h"

namespace spdlog_ext {

namespace {

using steady = std::chrono::steady_clock;
using wall = std::chrono::system_clock;

// The counters the recent window needs.
struct sample {
    steady::time_point at;
    std::uint64_t batches = 0;
    std::uint64_t failed_batches = 0;
    std::uint64_t retries = 0;
    std::uint64_t fallback = 0;
    std::uint64_t dropped = 0;
};

struct sink_history {
    std::deque<sample> samples;  // oldest first; the front is the newest before the window
    std::optional<wall::time_point> last_success_seen;
    std::optional<steady::time_point> waiting_since;  // records waiting, no success since
};

struct health_state {
    std::mutex mu;
    std::unordered_map<std::uint64_t, sink_history> histories;  // by directory id
};

health_state& state() {
    static auto* s = new health_state;  // never destroyed: health() may run during exit
    return *s;
}

// A window holds at most about this many samples, however often health() is called.
constexpr int samples_per_window = 32;

std::string seconds_text(double seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, seconds < 10 ? "%.1f s" : "%.0f s", seconds);
    return buf;
}

std::string percent_text(double ratio) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", ratio * 100);
    return buf;
}

double seconds_of(steady::duration d) {
    return std::chrono::duration<double>(d).count();
}

double parse_ratio(const env_options& env, const char* option, double fallback_value) {
    const auto value = env.raw(option);
    if (!value) {
        return fallback_value;
    }
    const char* begin = value->c_str();
    char* end = nullptr;
    const double ratio = std::strtod(begin, &end);
    if (value->empty() || end != begin + value->size() || !(ratio > 0 && ratio <= 1)) {
        env.fail(option, "'" + *value +
                             "' is not a ratio: use a number above 0 and at most 1 "
                             "(e.g. 0.8)");
    }
    return ratio;
}

class judge {
  public:
    judge(const health_thresholds& t, steady::time_point now, wall::time_point wall_now)
        : t_(t), now_(now), wall_now_(wall_now) {}

    sink_health evaluate(const detail::live_sink& sink, sink_history& history) const {
        sink_health h;
        h.stats = sink.core->stats();
        const sink_stats& s = h.stats;
        h.name = s.name;
        h.backend = s.backend_kind;

        const auto since_success = wall_now_ - s.last_success.value_or(sink.created);
        h.seconds_since_success =
            std::max(0.0, std::chrono::duration<double>(since_success).count());

        if (s.disabled) {
            worse(h, health_verdict::failing,
                  "disabled: the backend refused to go on (see last_error); records go to the "
                  "fallback");
        }
        judge_stall(h, history);
        judge_window(h, sink, history);
        judge_queue(h);
        return h;
    }

  private:
    static void worse(sink_health& h, health_verdict v, std::string reason) {
        h.verdict = std::max(h.verdict, v);
        h.reasons.push_back(std::move(reason));
    }

    void judge_stall(sink_health& h, sink_history& history) const {
        const sink_stats& s = h.stats;
        if (s.queue_depth == 0) {
            history.waiting_since.reset();
        } else if (!history.waiting_since || s.last_success != history.last_success_seen) {
            history.waiting_since = now_;  // first seen waiting, or delivered since the last call
        }
        history.last_success_seen = s.last_success;
        if (!history.waiting_since) {
            return;
        }
        const auto stalled = now_ - *history.waiting_since;
        if (stalled < t_.stall_degraded && stalled < t_.stall_failing) {
            return;
        }
        const auto verdict =
            stalled >= t_.stall_failing ? health_verdict::failing : health_verdict::degraded;
        worse(h, verdict,
              std::to_string(s.queue_depth) + " records waiting and nothing delivered for " +
                  seconds_text(seconds_of(stalled)) + " (degraded after " +
                  seconds_text(seconds_of(t_.stall_degraded)) + ", failing after " +
                  seconds_text(seconds_of(t_.stall_failing)) + ")");
    }

    void judge_window(sink_health& h, const detail::live_sink& sink, sink_history& history) const {
        const sink_stats& s = h.stats;
        if (history.samples.empty()) {  // every counter was zero when the sink was made
            history.samples.push_back({now_ - (wall_now_ - sink.created), 0, 0, 0, 0, 0});
        }
        const auto window_start = now_ - t_.window;
        const sample* base = &history.samples.front();
        for (const auto& old : history.samples) {
            if (old.at > window_start) {
                break;
            }
            base = &old;
        }
        const sample current{now_, s.batches, s.failed_batches, s.retries, s.fallback, s.dropped};
        const auto delta = [](std::uint64_t now_value, std::uint64_t then) {
            return now_value >= then ? now_value - then : 0;
        };
        const std::uint64_t failures = delta(current.failed_batches, base->failed_batches) +
                                       delta(current.retries, base->retries);
        const std::uint64_t writes = failures + delta(current.batches, base->batches);
        const std::uint64_t fallback = delta(current.fallback, base->fallback);
        const std::uint64_t dropped = delta(current.dropped, base->dropped);
        const std::string span = seconds_text(seconds_of(now_ - base->at));

        if (writes > 0) {
            h.failure_ratio = static_cast<double>(failures) / static_cast<double>(writes);
        }
        if (writes >= std::max<std::size_t>(t_.min_writes, 1) &&
            h.failure_ratio >= t_.failure_degraded) {
            const auto verdict = h.failure_ratio >= t_.failure_failing ? health_verdict::failing
                                                                       : health_verdict::degraded;
            worse(h, verdict,
                  std::to_string(failures) + " of " + std::to_string(writes) +
                      " writes failed in the last " + span + " (degraded at " +
                      percent_text(t_.failure_degraded) + ", failing at " +
                      percent_text(t_.failure_failing) + ")");
        }
        if (fallback > 0) {
            worse(h, health_verdict::degraded,
                  std::to_string(fallback) + " records went to the fallback in the last " + span);
        }
        if (dropped > 0) {
            worse(h, health_verdict::degraded,
                  std::to_string(dropped) + " records dropped in the last " + span);
        }

        // Keep about samples_per_window samples per window, and one before it as the base.
        if (now_ - history.samples.back().at >= t_.window / samples_per_window) {
            history.samples.push_back(current);
        }
        while (history.samples.size() >= 2 && history.samples[1].at <= window_start) {
            history.samples.pop_front();
        }
    }

    void judge_queue(sink_health& h) const {
        const sink_stats& s = h.stats;
        const auto ratio = [](std::uint64_t used, std::uint64_t max) {
            return max == 0 ? 0.0 : static_cast<double>(used) / static_cast<double>(max);
        };
        const double by_records = ratio(s.queue_depth, s.queue_max_records);
        const double by_bytes = ratio(s.queue_bytes, s.queue_max_bytes);
        h.queue_fill = std::min(1.0, std::max(by_records, by_bytes));
        if (h.queue_fill >= t_.queue_fill_degraded && s.queue_depth > 0) {
            worse(h, health_verdict::degraded,
                  "queue " + percent_text(h.queue_fill) + " full (" +
                      (by_records >= by_bytes ? "records" : "bytes") + "; degraded at " +
                      percent_text(t_.queue_fill_degraded) + ")");
        }
    }

    const health_thresholds& t_;
    steady::time_point now_;
    wall::time_point wall_now_;
};

}  // namespace

const char* to_string(health_verdict verdict) noexcept {
    switch (verdict) {
        case health_verdict::ok:
            return "ok";
        case health_verdict::degraded:
            return "degraded";
        case health_verdict::failing:
            return "failing";
    }
    return "failing";
}

health_thresholds health_thresholds::from_env() {
    const env_options env("health");
    health_thresholds t;
    t.window = env.get_duration("WINDOW", t.window);
    t.stall_degraded = env.get_duration("STALL_DEGRADED", t.stall_degraded);
    t.stall_failing = env.get_duration("STALL_FAILING", t.stall_failing);
    t.failure_degraded = parse_ratio(env, "FAILURE_DEGRADED", t.failure_degraded);
    t.failure_failing = parse_ratio(env, "FAILURE_FAILING", t.failure_failing);
    t.min_writes = env.get_size("MIN_WRITES", t.min_writes);
    t.queue_fill_degraded = parse_ratio(env, "QUEUE_FILL", t.queue_fill_degraded);
    if (t.window.count() <= 0) {
        env.fail("WINDOW", "must be a positive duration (e.g. 5m)");
    }
    if (t.stall_failing < t.stall_degraded) {
        env.fail("STALL_FAILING", "must be at least LOG_HEALTH_STALL_DEGRADED (" +
                                      std::to_string(t.stall_degraded.count()) + " ms)");
    }
    if (t.failure_failing < t.failure_degraded) {
        env.fail("FAILURE_FAILING", "must be at least LOG_HEALTH_FAILURE_DEGRADED");
    }
    return t;
}

nlohmann::json sink_health::to_json() const {
    return nlohmann::json{
        {"name", name},
        {"backend", backend},
        {"status", to_string(verdict)},
        {"reasons", reasons},
        {"queue_fill", queue_fill},
        {"failure_ratio", failure_ratio},
        {"seconds_since_success", seconds_since_success},
        {"stats", stats.to_json()},
    };
}

nlohmann::json health_report::to_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : sinks) {
        list.push_back(s.to_json());
    }
    return nlohmann::json{{"status", to_string(overall)}, {"sinks", std::move(list)}};
}

health_report health() {
    return health(health_thresholds::from_env());
}

health_report health(const health_thresholds& thresholds) {
    // Declared before the lock: a sink destroyed meanwhile has its core released after it.
    const auto sinks = detail::live_sinks();
    health_report report;
    report.sinks.reserve(sinks.size());
    auto& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    const judge j(thresholds, steady::now(), wall::now());
    for (const auto& sink : sinks) {
        report.sinks.push_back(j.evaluate(sink, st.histories[sink.id]));
        report.overall = std::max(report.overall, report.sinks.back().verdict);
    }
    // Forget the sinks that are gone.
    for (auto it = st.histories.begin(); it != st.histories.end();) {
        const bool live = std::any_of(sinks.begin(), sinks.end(), [&](const detail::live_sink& s) {
            return s.id == it->first;
        });
        it = live ? std::next(it) : st.histories.erase(it);
    }
    return report;
}

}  // namespace spdlog_ext
