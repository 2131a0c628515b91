// Internal: the process-wide level watcher that LOG_POSTGRES_LEVELS / LOG_LEVELS_FILE ask for,
// started when the registry builds sinks from the environment (and by
// spdlog_ext::start_level_watcher_from_env).
#pragma once

#include <spdlog/logger.h>

namespace spdlog_ext::detail {

// make_logger: after spdlog::cfg::load_env_levels() replaced the registry's levels with
// SPDLOG_LEVEL's, the watcher's spec goes back on top.
void reapply_env_levels() noexcept;
// make_logger: a logger registered while a change was being applied gets the current levels.
void apply_env_levels_to(spdlog::logger& logger) noexcept;
// spdlog_ext::shutdown(): stops the watcher (the levels stay); the next sinks_from_env starts it
// again.
void stop_env_level_watcher() noexcept;

}  // namespace spdlog_ext::detail
