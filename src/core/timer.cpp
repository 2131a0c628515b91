#include "spdlog_ext/timer.h"

#include "spdlog_ext/metrics.h"

#include <optional>

namespace spdlog_ext {

void scoped_timer::start(std::string_view name, spdlog::level::level_enum level,
                         field_list&& fields, const timer_options& options) noexcept {
    try {
        level_ = level;
        uncaught_at_start_ = std::uncaught_exceptions();
        name_.assign(name);
        metric_.assign(options.metric);
        fields_ = std::move(fields);
        start_ = std::chrono::steady_clock::now();
    } catch (...) {
        cancel();  // out of memory: time nothing rather than throw into the caller
    }
}

void scoped_timer::record_lap(std::string_view name) noexcept {
    if (laps_.size() >= max_timer_laps) {
        ++laps_dropped_;
        return;
    }
    try {
        const std::chrono::duration<double, std::milli> since =
            std::chrono::steady_clock::now() - start_;
        laps_.emplace_back(std::string(name), since.count());
    } catch (...) {
        ++laps_dropped_;
    }
}

void scoped_timer::fail(const std::exception& e) noexcept {
    if (logger_ == nullptr) {
        return;
    }
    failed_ = true;
    try {
        exception_ = describe_exception(e);
    } catch (...) {
        exception_.clear();  // the outcome says "error" all the same
    }
}

void scoped_timer::fail() noexcept {
    if (logger_ != nullptr) {
        failed_ = true;
    }
}

void scoped_timer::cancel() noexcept {
    logger_ = nullptr;
    owner_.reset();
}

namespace {
// The metric point of a finished timer: string fields are tags (series), numbers and booleans
// values; objects, arrays and nulls are left out of the point.
struct timer_point {
    metric_tags tags;
    metric_values values;
};

timer_point make_timer_point(const std::string& name, const char* outcome, double duration_ms,
                             const field_list& fields,
                             const std::vector<std::pair<std::string, double>>& laps) {
    timer_point point{{{"name", name}, {"outcome", outcome}}, {{"duration_ms", duration_ms}}};
    for (const auto& [key, value] : fields) {
        if (value.is_string()) {
            point.tags.emplace_back(key, value.get<std::string>());
        } else if (value.is_number() || value.is_boolean()) {
            point.values.emplace_back(key, value);
        }
    }
    for (const auto& [lap, ms] : laps) {
        point.values.emplace_back("lap_" + lap + "_ms", ms);
    }
    return point;
}
}  // namespace

void scoped_timer::stop() noexcept {
    if (logger_ == nullptr) {
        return;
    }
    spdlog::logger& logger = *logger_;
    logger_ = nullptr;  // one record, whatever happens below
    try {
        const std::chrono::duration<double, std::milli> elapsed =
            std::chrono::steady_clock::now() - start_;
        const double ms = elapsed.count();
        const bool error = failed_ || std::uncaught_exceptions() > uncaught_at_start_;
        const char* outcome = error ? "error" : "ok";
        std::optional<timer_point> point;
        if (!metric_.empty()) {  // before the fields move into the record
            point = make_timer_point(name_, outcome, ms, fields_, laps_);
        }
        fields_.emplace_back("duration_ms", ms);
        fields_.emplace_back("outcome", outcome);
        if (!laps_.empty()) {
            nlohmann::json laps = nlohmann::json::array();
            for (auto& [lap, lap_ms] : laps_) {
                laps.push_back({{"name", std::move(lap)}, {"ms", lap_ms}});
            }
            fields_.emplace_back("laps", std::move(laps));
        }
        if (laps_dropped_ > 0) {
            fields_.emplace_back("laps_dropped", laps_dropped_);
        }
        if (!exception_.empty()) {
            fields_.emplace_back(exception_field, std::move(exception_));
        }
        {
            scoped_fields scope(std::move(fields_));
            if (error) {
                logger.log(level_, "{} failed after {:.3f} ms", name_, ms);
            } else {
                logger.log(level_, "{} took {:.3f} ms", name_, ms);
            }
        }
        if (point) {
            record_metric(logger, metric_, point->tags, point->values, std::nullopt, level_);
        }
    } catch (...) {
        // A timer must never hurt its host: a failing logger or allocation loses the record.
    }
    owner_.reset();
}

}  // namespace spdlog_ext
