// The process-wide level watcher from the environment:
//   LOG_POSTGRES_LEVELS=true       the <table>_levels table of LOG_POSTGRES_*'s table
//   LOG_POSTGRES_LEVELS_SERVICE    its service (default: the program's name); host: the host name
//   LOG_LEVELS_FILE=/path          a spec file (used when the table has no row, or alone)
#include "registry/level_hook.h"

#include <memory>
#include <mutex>

#include "config/levels/level_watcher.h"
#include "core/text.h"
#include "core/warnings.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/features.h"
#include "spdlog_ext/runtime_levels.h"

#if SPDLOG_EXT_WITH_POSTGRES
#include "spdlog_ext/postgres_log_store.h"
#endif

namespace spdlog_ext {

namespace {

// Never destroyed: the watchers' exit hook stops it while static destructors run.
struct env_watcher {
    std::mutex mu;
    std::unique_ptr<level_watcher> watcher;
};
env_watcher& env() {
    static auto* const state = new env_watcher;
    return *state;
}

bool levels_table_wanted() {
    const auto value = getenv_value("LOG_POSTGRES_LEVELS");
    if (!value)
        return false;
    if (const auto b = detail::boolean_word(detail::lower(detail::trim(*value))))
        return *b;
    detail::warn("LOG_POSTGRES_LEVELS: '" + *value +
                 "' is not a boolean (use true or false); runtime levels from the table are off");
    return false;
}

std::unique_ptr<level_watcher> start_from_env() {
    level_watcher_options options;
    options.file = getenv_value("LOG_LEVELS_FILE").value_or("");
    if (levels_table_wanted()) {
        options.service = getenv_value("LOG_POSTGRES_LEVELS_SERVICE").value_or("");
#if SPDLOG_EXT_WITH_POSTGRES
        try {
            return start_postgres_level_watcher(postgres_config::from_env(), options);
        } catch (const std::exception& e) {
            detail::warn(
                std::string("LOG_POSTGRES_LEVELS: runtime levels from the table are off: ") +
                e.what());
        }
#else
        detail::warn(
            "LOG_POSTGRES_LEVELS: this build of spdlog_ext has no PostgreSQL support; "
            "runtime levels from the table are off");
#endif
    }
    if (options.file.empty())
        return nullptr;
    return level_watcher::start(std::move(options));
}

}  // namespace

bool start_level_watcher_from_env() noexcept {
    try {
        std::lock_guard<std::mutex> lock(env().mu);
        if (!env().watcher)
            env().watcher = start_from_env();
        return env().watcher != nullptr;
    } catch (const std::exception& e) {
        detail::warn(std::string("runtime levels: the watcher did not start: ") + e.what());
    } catch (...) {
    }
    return false;
}

namespace detail {

void reapply_env_levels() noexcept {
    try {
        std::lock_guard<std::mutex> lock(env().mu);
        if (env().watcher)
            level_watcher_access::reapply(*env().watcher);
    } catch (...) {
    }
}

void apply_env_levels_to(spdlog::logger& logger) noexcept {
    try {
        std::lock_guard<std::mutex> lock(env().mu);
        if (env().watcher)
            level_watcher_access::apply_current_to(*env().watcher, logger);
    } catch (...) {
    }
}

void stop_env_level_watcher() noexcept {
    std::unique_ptr<level_watcher> stopping;
    {
        std::lock_guard<std::mutex> lock(env().mu);
        stopping = std::move(env().watcher);
    }
    stopping.reset();  // outside the lock: stopping waits for the thread
}

}  // namespace detail

}  // namespace spdlog_ext
