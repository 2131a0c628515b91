// Internal: applying a level spec to the process: spdlog's registry (every registered logger,
// and the levels loggers created later get in initialize_logger) and attached loggers.
#pragma once

#include <spdlog/logger.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "spdlog_ext/runtime_levels.h"

namespace spdlog_ext::detail {

// The levels in force before any spec: the spec overrides them, removing a name from the spec
// returns the logger to these.
struct level_baseline {
    spdlog::level::level_enum global = spdlog::level::info;
    std::map<std::string, spdlog::level::level_enum> loggers;
};

// SPDLOG_LEVEL (when it parses) and spdlog's current default level.
level_baseline capture_baseline();

struct effective_levels {
    spdlog::level::level_enum global = spdlog::level::info;
    std::map<std::string, spdlog::level::level_enum> loggers;

    spdlog::level::level_enum for_logger(const std::string& name) const {
        const auto it = loggers.find(name);
        return it == loggers.end() ? global : it->second;
    }
};

effective_levels overlay(const level_baseline& baseline, const level_spec& spec);

// registry::set_levels (replaces the stored map, so a dropped name falls back to the global
// level, and sets every registered logger), then each live attached logger. Takes spdlog's
// registry mutex: never call it while holding a lock that a thread inside spdlog may wait for.
void apply_levels(const effective_levels& levels,
                  const std::vector<std::weak_ptr<spdlog::logger>>& attached);

}  // namespace spdlog_ext::detail
