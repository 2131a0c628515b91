// Internal: the pattern of the fallback sinks the library builds (the default stderr one and
// LOG_<BACKEND>_FALLBACK=stdout), one definition so both read alike.
#pragma once

namespace spdlog_ext::detail {

inline constexpr const char* fallback_pattern =
    "[%Y-%m-%d %H:%M:%S.%f] [%n] [%l] [spdlog_ext fallback] %v%*";

}  // namespace spdlog_ext::detail
