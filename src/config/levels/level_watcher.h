// Internal: starting a level watcher over given sources (the store adds its table source), and
// what the registry needs beyond the public API.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <vector>

#include "config/levels/level_source.h"
#include "spdlog_ext/runtime_levels.h"

namespace spdlog_ext::detail {

// The program's name (glibc: program_invocation_short_name) and the host name; "" if unknown.
std::string default_level_service();

// For a source whose library makes exit-time state lazily (libpqxx's function-local statics,
// created by the first query): called after that first use, it registers the watchers' exit hook
// once more. Exit handlers run in reverse order of registration, so the watchers are then stopped
// before that state is destroyed under a thread still using it (TSan saw exactly that).
void register_exit_hook_after_first_use();
std::string default_level_host();

struct level_watcher_access {
    // Sources in priority order (the first that holds a spec wins). options.file is not added
    // here: the caller passes make_file_level_source itself (last).
    static std::unique_ptr<level_watcher> start(level_watcher_options options,
                                                std::vector<std::unique_ptr<level_source>> sources);
    // Applies the current spec again (after spdlog::cfg::load_env_levels replaced the registry's
    // levels). No-op when only the baseline applies.
    static void reapply(level_watcher& watcher);
    // Sets `logger`'s level from the current spec (a logger registered while a change was being
    // applied). No-op when only the baseline applies.
    static void apply_current_to(level_watcher& watcher, spdlog::logger& logger);
};

}  // namespace spdlog_ext::detail
