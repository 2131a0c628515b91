// Internal: level names as the receivers want them (spdlog's own are "warning"/"err"-style mixes).
#pragma once

#include <spdlog/common.h>

namespace spdlog_ext::detail {

// TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL (and OFF): Python logging's names.
inline const char* level_upper(spdlog::level::level_enum level) noexcept {
    static const char* const names[] = {"TRACE", "DEBUG",    "INFO", "WARNING",
                                        "ERROR", "CRITICAL", "OFF"};
    const auto i = static_cast<unsigned>(level);
    return i < 7 ? names[i] : "OFF";
}

// trace, debug, info, warning, error, critical (and off).
inline const char* level_lower(spdlog::level::level_enum level) noexcept {
    static const char* const names[] = {"trace", "debug",    "info", "warning",
                                        "error", "critical", "off"};
    const auto i = static_cast<unsigned>(level);
    return i < 7 ? names[i] : "off";
}

}  // namespace spdlog_ext::detail
