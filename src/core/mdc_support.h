// Internal: spdlog::mdc where this spdlog has it (>= 1.14, thread-local storage enabled).
// Defines SPDLOG_EXT_HAS_MDC. Header-only spdlog already includes mdc.h from its pattern
// formatter, and some versions of mdc.h have no include guard, so it is included only once.
#pragma once

#include <spdlog/pattern_formatter.h>

#if defined(__has_include)
#if __has_include(<spdlog/mdc.h>) && !defined(SPDLOG_NO_TLS)
#if !defined(SPDLOG_HEADER_ONLY)
#include <spdlog/mdc.h>
#endif
#define SPDLOG_EXT_HAS_MDC 1
#endif
#endif
