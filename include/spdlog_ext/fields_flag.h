// A pattern flag that shows a record's structured fields, for text sinks (console, stderr):
//
//   auto f = spdlog_ext::make_pattern_formatter("[%H:%M:%S.%e] [%l] %v%*");
//   sink->set_formatter(std::move(f));   // ... message {"user_id":123}
//
// `%*` renders nothing when the record has no fields (no space either). Otherwise it renders the
// fields as one JSON object, preceded by a space unless the text before it is empty or already
// ends with a space or tab: "%v%*" and "%v %*" both give `message {"user_id":123}`, "%*" alone
// gives `{"user_id":123}`.
// Manual: docs/fields-and-formatting.md.
#pragma once

#include <spdlog/pattern_formatter.h>

#include <memory>
#include <string>

namespace spdlog_ext {

inline constexpr char fields_flag_char = '*';

class fields_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm& tm_time,
                spdlog::memory_buf_t& dest) override;
    std::unique_ptr<spdlog::custom_flag_formatter> clone() const override;
};

// spdlog's pattern_formatter with %* registered.
std::unique_ptr<spdlog::pattern_formatter> make_pattern_formatter(
    const std::string& pattern,
    spdlog::pattern_time_type time_type = spdlog::pattern_time_type::local);

// The pattern of the console and stderr backends, and of the default fallback sink.
inline constexpr const char* default_text_pattern = "[%Y-%m-%d %H:%M:%S.%f] [%n] [%^%l%$] %v%*";

}  // namespace spdlog_ext
