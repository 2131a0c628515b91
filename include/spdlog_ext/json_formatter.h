// An spdlog formatter that writes one JSON object per line, usable with any spdlog sink:
//
//   sink->set_formatter(std::make_unique<spdlog_ext::json_formatter>());
//
// {"timestamp":"2026-11-21T19:37:21.123456+00:00","level":"info","logger":"app",
//  "message":"...","thread_id":1234,"thread_name":"worker","pid":42,"host":"web-1",
//  "source":{"file":"main.cpp","line":12,"function":"main"},"exception":"...",
//  "fields":{"user_id":123}}
//
// Always valid JSON and valid UTF-8: control characters and NUL are escaped (\u0000), invalid
// UTF-8 is replaced by U+FFFD (one per maximal ill-formed subpart). `source`, `exception`,
// `thread_name` and `fields` appear only when present:
//   - `level` is spdlog's level name (trace, debug, info, warning, error, critical);
//   - `thread_name` only when the record is formatted on the thread that logged it (the name of
//     another thread is out of reach) and that thread has a name;
//   - `exception` is the `exception` field (spdlog_ext::exception_field), moved to the top level
//     and rendered as a string;
//   - `fields` holds the other structured fields (see fields_of()) with their JSON types.
// Keys keep the order shown above; inside `fields` keys are sorted.
//
// Like spdlog's own formatters, an instance is not thread-safe (it caches the formatted second):
// each sink owns one, and clone() gives another with the same settings.
// Manual: docs/fields-and-formatting.md.
#pragma once

#include <spdlog/formatter.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace spdlog_ext {

enum class json_time_zone { local, utc };

class json_formatter final : public spdlog::formatter {
  public:
    explicit json_formatter(json_time_zone zone = json_time_zone::local, std::string eol = "\n");

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::formatter> clone() const override;

    json_time_zone time_zone() const noexcept { return zone_; }
    const std::string& eol() const noexcept { return eol_; }

  private:
    json_time_zone zone_;
    std::string eol_;
    // The last second formatted: "YYYY-MM-DDTHH:MM:SS" and "+hh:mm".
    std::int64_t cached_second_;
    char cached_datetime_[32] = {};
    std::size_t cached_datetime_size_ = 0;
    char cached_offset_[8] = {};
};

// RFC 3339 time with microseconds and a numeric offset, e.g. 2026-11-21T19:37:21.123456+01:00
// (local time, the offset in effect at that instant), or 2026-11-21T18:37:21.123456+00:00 with
// json_time_zone::utc (never "Z"). The fraction is truncated, not rounded, to microseconds.
std::string format_rfc3339(spdlog::log_clock::time_point time, json_time_zone zone);

}  // namespace spdlog_ext
