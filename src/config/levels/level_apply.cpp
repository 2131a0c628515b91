#include "config/levels/level_apply.h"

#include <spdlog/details/os.h>
#include <spdlog/details/registry.h>
#include <spdlog/spdlog.h>

#include <unordered_map>

namespace spdlog_ext::detail {

level_baseline capture_baseline() {
    level_baseline baseline;
    // spdlog::get_level() dereferences the default logger, which spdlog::shutdown() removes.
    if (auto* default_logger = spdlog::default_logger_raw()) {
        baseline.global = default_logger->level();
    }
    const std::string env = spdlog::details::os::getenv("SPDLOG_LEVEL");
    if (auto spec = parse_level_spec(env)) {
        if (spec->global)
            baseline.global = *spec->global;
        baseline.loggers = spec->loggers;
    }
    return baseline;
}

effective_levels overlay(const level_baseline& baseline, const level_spec& spec) {
    effective_levels out;
    out.global = spec.global.value_or(baseline.global);
    out.loggers = baseline.loggers;
    for (const auto& entry : spec.loggers)
        out.loggers[entry.first] = entry.second;
    return out;
}

void apply_levels(const effective_levels& levels,
                  const std::vector<std::weak_ptr<spdlog::logger>>& attached) {
    spdlog::details::registry::log_levels map;
    for (const auto& entry : levels.loggers)
        map.emplace(entry.first, entry.second);
    auto global = levels.global;
    spdlog::details::registry::instance().set_levels(std::move(map), &global);
    for (const auto& weak : attached) {
        if (auto logger = weak.lock())
            logger->set_level(levels.for_logger(logger->name()));
    }
}

}  // namespace spdlog_ext::detail
