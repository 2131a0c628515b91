#include "spdlog_ext/engine/sink_stats.h"

#include <spdlog/common.h>

#include <string>

namespace spdlog_ext {

namespace {
nlohmann::json time_or_null(const std::optional<std::chrono::system_clock::time_point>& t) {
    if (!t) {
        return nullptr;
    }
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
    return us;  // microseconds since the Unix epoch: exact and easy to compare
}
}  // namespace

nlohmann::json sink_stats::to_json() const {
    nlohmann::json shed_levels = nlohmann::json::object();
    for (std::size_t level = 0; level < shed_by_level.size(); ++level) {
        const auto name =
            spdlog::level::to_string_view(static_cast<spdlog::level::level_enum>(level));
        shed_levels[std::string(name.data(), name.size())] = shed_by_level[level];
    }
    return nlohmann::json{
        {"name", name},
        {"enqueued", enqueued},
        {"delivered", delivered},
        {"fallback", fallback},
        {"dropped", dropped},
        {"queue_depth", queue_depth},
        {"queue_bytes", queue_bytes},
        {"batches", batches},
        {"failed_batches", failed_batches},
        {"retries", retries},
        {"possible_duplicates", possible_duplicates},
        {"truncated", truncated},
        {"disabled", disabled},
        {"last_error", last_error},
        {"last_error_time_us", time_or_null(last_error_time)},
        {"last_success_time_us", time_or_null(last_success)},
        {"backend", backend},
        {"backend_kind", backend_kind},
        {"queue_max_records", queue_max_records},
        {"queue_max_bytes", queue_max_bytes},
        {"shed", shed},
        {"shed_by_level", std::move(shed_levels)},
    };
}

}  // namespace spdlog_ext
