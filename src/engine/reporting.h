// Internal: how the engine tells: errors (rate limited, masked) to the error handler or stderr,
// records it could not deliver to the fallback sink, drop summaries, and the last-error and
// disabled state that stats() shows. Its mutex is a leaf: nothing else is locked under it.
#pragma once

#include <spdlog/sinks/sink.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "engine/engine_counters.h"
#include "spdlog_ext/engine/engine_config.h"
#include "spdlog_ext/engine/sink_stats.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

class reporter {
  public:
    // `cfg` (its name, secrets, error handler, overflow policy, fallback) must outlive this.
    reporter(const engine_config& cfg, engine_counters& counters);

    // Reported at most once a second per sink, unless `always` (a disabled backend, ...).
    void note_error(const std::string& message, bool always = false);
    // Credentials in URLs and the sink's secrets masked: every reason, error and stat passes here.
    std::string mask(std::string text) const;
    // mask() on every string in a backend's stats (objects and arrays, to a bounded depth).
    void mask_strings(nlohmann::json& value, int depth = 0) const;

    // Hands records to the fallback sink with fallback_sink/fallback_reason fields; counted.
    void to_fallback(record* first, std::size_t count, const std::string& reason);
    // Writes a summary of the records dropped (and one of those shed) since the last, if any.
    void report_drops();
    // True on a thread inside to_fallback() or report_drops(): a fallback that logs back
    // through the sink must not recurse.
    static bool in_fallback_write() noexcept;

    void mark_success();
    void set_disabled_reason(std::string reason);
    std::string disabled_reason() const;
    std::string last_error() const;
    // last_error, last_error_time, last_success.
    void fill(sink_stats& s) const;

  private:
    void write_summary(const std::string& text);

    const engine_config& cfg_;
    engine_counters& counters_;
    spdlog::sink_ptr fallback_;

    mutable std::mutex mu_;
    std::string disabled_reason_;
    std::string last_error_;
    std::optional<std::chrono::system_clock::time_point> last_error_time_;
    std::optional<std::chrono::system_clock::time_point> last_success_;
    std::chrono::steady_clock::time_point last_error_report_{};
    std::uint64_t suppressed_errors_ = 0;
};

}  // namespace spdlog_ext::detail
