#include "engine/reporting.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <exception>

#include "core/secrets.h"
#include "core/url_credentials.h"
#include "format/fallback_pattern.h"
#include "spdlog_ext/fields_flag.h"

namespace spdlog_ext::detail {

namespace {
// How deep this thread is inside fallback writes: guards against re-entrant logging (a
// fallback that logs through a logger using the same sink).
thread_local int tls_fallback_depth = 0;

spdlog::sink_ptr default_fallback_sink() {
    // Never destroyed: a worker detached at exit may still hand records to it while static
    // destructors run.
    static const auto* const sink = new spdlog::sink_ptr([] {
        auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        s->set_formatter(make_pattern_formatter(detail::fallback_pattern));
        return s;
    }());
    return *sink;
}
}  // namespace

reporter::reporter(const engine_config& cfg, engine_counters& counters)
    : cfg_(cfg),
      counters_(counters),
      fallback_(cfg.fallback ? cfg.fallback : default_fallback_sink()) {}

bool reporter::in_fallback_write() noexcept {
    return tls_fallback_depth > 0;
}

void reporter::to_fallback(record* first, std::size_t count, const std::string& reason) {
    ++tls_fallback_depth;
    for (std::size_t i = 0; i < count; ++i) {
        record& rec = first[i];
        if (!rec.fields.is_object()) {
            rec.fields = nlohmann::json::object();
        }
        rec.fields["fallback_sink"] = cfg_.name;
        rec.fields["fallback_reason"] = reason;
        try {
            record_scope scope(rec);
            fallback_->log(rec.to_log_msg());
        } catch (const std::exception& e) {
            // Counted as handed over all the same: there is nowhere further to send it.
            note_error(std::string("fallback sink failed: ") + e.what());
        }
    }
    try {
        fallback_->flush();
    } catch (const std::exception& e) {
        note_error(std::string("fallback sink flush failed: ") + e.what());
    }
    --tls_fallback_depth;
    counters_.fallback.fetch_add(count, std::memory_order_relaxed);
}

void reporter::report_drops() {
    const auto n = counters_.dropped_unreported.exchange(0, std::memory_order_relaxed);
    if (n > 0) {
        // A summary, so that drops are never silent; not a record of its own in the counters.
        write_summary(
            std::to_string(n) + " record(s) dropped: queue full (policy " +
            (cfg_.overflow == overflow_policy::drop_oldest ? "drop_oldest" : "drop_newest") + ")");
    }
    std::uint64_t shed_total = 0;
    std::string shed_levels;
    for (int level = 0; level < 6; ++level) {
        const auto shed = counters_.shed_unreported[level].exchange(0, std::memory_order_relaxed);
        if (shed > 0) {
            const auto name = spdlog::level::to_string_view(spdlog::level::level_enum(level));
            shed_levels += (shed_levels.empty() ? "" : ", ") +
                           std::string(name.data(), name.size()) + " " + std::to_string(shed);
            shed_total += shed;
        }
    }
    if (shed_total > 0) {
        const auto shed_level = spdlog::level::to_string_view(cfg_.shed_level);
        write_summary(std::to_string(shed_total) + " record(s) shed: queue above " +
                      std::to_string(int(cfg_.shed_watermark * 100 + 0.5)) +
                      "% (shed_watermark), level below " +
                      std::string(shed_level.data(), shed_level.size()) +
                      " (shed_level): " + shed_levels);
    }
}

void reporter::write_summary(const std::string& text) {
    spdlog::details::log_msg msg(cfg_.name, spdlog::level::warn, text);
    ++tls_fallback_depth;
    try {
        fallback_->log(msg);
        fallback_->flush();
    } catch (const std::exception&) {
    }
    --tls_fallback_depth;
}

void reporter::note_error(const std::string& message, bool always) {
    const std::string text = mask(message);
    const auto now = std::chrono::steady_clock::now();
    std::uint64_t suppressed = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        last_error_ = text;
        last_error_time_ = std::chrono::system_clock::now();
        // At most one report a second per sink: a dead backend must not flood stderr.
        if (!always && now - last_error_report_ < std::chrono::seconds(1)) {
            ++suppressed_errors_;
            return;
        }
        last_error_report_ = now;
        suppressed = suppressed_errors_;
        suppressed_errors_ = 0;
    }
    std::string report = cfg_.name + ": " + text;
    if (suppressed > 0) {
        report += " (" + std::to_string(suppressed) +
                  (suppressed == 1 ? " more error" : " more errors") + " since the last report)";
    }
    try {
        if (cfg_.error_handler) {
            cfg_.error_handler(report);
        } else {
            std::fprintf(stderr, "[*** spdlog_ext error ***] %s\n", report.c_str());
        }
    } catch (...) {
        // An error handler must not take the worker down.
    }
}

void reporter::mask_strings(nlohmann::json& value, int depth) const {
    if (value.is_string()) {
        value = mask(value.get<std::string>());
    } else if (depth < 32 && (value.is_object() || value.is_array())) {
        for (auto& item : value) {
            mask_strings(item, depth + 1);
        }
    }
}

std::string reporter::mask(std::string text) const {
    // Credentials in a URL (a proxy's, quoted by libcurl; a connection string's) are masked
    // whatever the backend.
    return mask_secrets(mask_url_credentials(std::move(text)), cfg_.secrets, "***");
}

void reporter::mark_success() {
    std::lock_guard<std::mutex> lock(mu_);
    last_success_ = std::chrono::system_clock::now();
}

void reporter::set_disabled_reason(std::string reason) {
    std::lock_guard<std::mutex> lock(mu_);
    disabled_reason_ = std::move(reason);
}

std::string reporter::disabled_reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return disabled_reason_;
}

std::string reporter::last_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
}

void reporter::fill(sink_stats& s) const {
    std::lock_guard<std::mutex> lock(mu_);
    s.last_error = last_error_;
    s.last_error_time = last_error_time_;
    s.last_success = last_success_;
}

}  // namespace spdlog_ext::detail
