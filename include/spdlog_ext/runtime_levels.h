// Runtime levels: spdlog's level syntax ("info,db=debug") from a file (LOG_LEVELS_FILE) or, in
// builds with PostgreSQL, from the <table>_levels table (LOG_POSTGRES_LEVELS=true or
// spdlog_ext::start_postgres_level_watcher in postgres_log_store.h), applied to every logger of
// the process while it runs. Manual: docs/runtime-levels.md.
#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog_ext {

// A parsed spec: an optional level for every logger, and levels for named loggers.
struct level_spec {
    std::optional<spdlog::level::level_enum> global;
    std::map<std::string, spdlog::level::level_enum> loggers;

    // The canonical text: the global level first, then name=level sorted by name ("" when empty).
    std::string to_string() const;
    bool operator==(const level_spec& other) const {
        return global == other.global && loggers == other.loggers;
    }
};

inline constexpr std::size_t max_level_spec_bytes = 512;  // spdlog's own limit for SPDLOG_LEVEL

// Strict: `[LEVEL][,LOGGER=LEVEL]...` with LEVEL one of trace debug info warn warning err error
// critical off (any case), spaces around items allowed, at most one global level, logger names
// non-empty without control characters, no logger twice, at most max_level_spec_bytes. An empty
// (or blank) spec is valid and sets nothing. On failure returns std::nullopt and, when `error`
// is given, says what is wrong. Unlike spdlog::cfg::helpers::load_levels, an unknown level name
// is an error rather than silently skipped.
std::optional<level_spec> parse_level_spec(std::string_view text, std::string* error = nullptr);

struct level_watcher_options {
    // Which row of the levels table applies: the most specific of (service, host), (service, ''),
    // ('', host), ('', ''). Defaults (empty): the program's name and the host name.
    std::string service;
    std::string host;
    std::chrono::milliseconds poll{30000};       // the table is re-read this often (safety net)
    std::string file;                            // a spec file (LOG_LEVELS_FILE); empty: none
    std::chrono::milliseconds file_check{1000};  // how often the file is checked for a change
    // Called on the watcher's thread after each change: the new spec and "" when it was applied,
    // or the rejected text and why (the previous levels stay). Must not throw or block.
    std::function<void(const std::string& spec, const std::string& error)> on_change;
};

namespace detail {
struct level_watcher_state;
struct level_watcher_access;
}  // namespace detail

// One thread that watches the sources and applies changes to every logger registered with
// spdlog (and, through spdlog's registry, to loggers created later). Levels in force when it
// starts (SPDLOG_LEVEL, spdlog's level) are the baseline: a spec overrides them, and a spec that
// no longer names a logger returns it to the spec's (else the baseline's) global level. A source
// that cannot be read (a database down, a file being written) keeps the last good levels; an
// invalid spec is reported once and changes nothing. Logging never waits for the watcher.
class level_watcher {
  public:
    // A watcher over options.file alone (the table source: start_postgres_level_watcher).
    static std::unique_ptr<level_watcher> start(level_watcher_options options);

    // The spec applied last (canonical text, "" when only the baseline applies).
    std::string current_spec() const;
    // A logger that is not registered with spdlog (a bare std::make_shared<spdlog::logger>) gets
    // the levels too while it lives.
    void attach(std::weak_ptr<spdlog::logger> logger);
    // Stops the thread (at most about a second; the levels stay as they are). Also done by the
    // destructor and, for every live watcher, at exit (return from main, std::exit).
    void stop();
    ~level_watcher();

    level_watcher(const level_watcher&) = delete;
    level_watcher& operator=(const level_watcher&) = delete;

  private:
    friend struct detail::level_watcher_access;
    explicit level_watcher(std::shared_ptr<detail::level_watcher_state> state);
    std::shared_ptr<detail::level_watcher_state> state_;
};

// The process-wide watcher the environment asks for: LOG_POSTGRES_LEVELS=true (the levels table
// of LOG_POSTGRES_*'s table, service LOG_POSTGRES_LEVELS_SERVICE, default the program's name)
// and/or LOG_LEVELS_FILE. make_logger and sinks_from_env call it; a program that builds its
// loggers otherwise may call it itself. Starts at most one; returns whether one is running.
// Never throws: problems are reported through the warning handler.
bool start_level_watcher_from_env() noexcept;

}  // namespace spdlog_ext
