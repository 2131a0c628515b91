// Internal: where a level watcher reads specs from (the file here in config/levels, the table in
// store/postgres). Every call runs on the watcher's thread, so a slow source never touches the
// logging path.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace spdlog_ext::detail {

// What a source holds now: a spec text, or nothing (no file, no row). `error` set: what it
// holds is unusable before parsing (a file too large), reported like an invalid spec.
struct level_reading {
    bool present = false;
    std::string text;
    std::string error;
    bool operator==(const level_reading& o) const {
        return present == o.present && text == o.text && error == o.error;
    }
};

class level_source {
  public:
    using clock = std::chrono::steady_clock;
    virtual ~level_source() = default;

    // For messages: "LOG_LEVELS_FILE /etc/app.levels", "table public.logs_levels".
    virtual std::string name() const = 0;
    // Does the due work (re-reads, reconnects) and returns what the source holds when it may have
    // changed; std::nullopt when nothing is known to have changed or the source cannot be read
    // now (the watcher keeps what it has). Must not throw.
    virtual std::optional<level_reading> check(clock::time_point now) = 0;
    // When check() should run next at the latest.
    virtual clock::time_point next_due() const = 0;
    // A descriptor whose readability means check() has news (-1: none).
    virtual int wait_fd() const { return -1; }
    // Whether the source has delivered a first reading (the table wins over the file only then).
    virtual bool ready() const { return true; }
};

}  // namespace spdlog_ext::detail
