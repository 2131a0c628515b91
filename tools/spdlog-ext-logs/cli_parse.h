// spdlog-ext-logs: the text forms of its arguments (durations, times, levels, fields) turned
// into postgres_log_store types, and the exit codes of docs/cli.md.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "spdlog_ext/postgres_log_store.h"

namespace spdlog_ext_cli {

// Exit codes (docs/cli.md).
enum exit_code : int {
    exit_ok = 0,
    exit_runtime = 1,     // the server reported an error, or anything unexpected
    exit_usage = 2,       // bad flag, filter, cursor or level spec
    exit_config = 3,      // settings that cannot work (environment or flags)
    exit_connection = 4,  // cannot connect, or the connection was lost
    exit_missing_table = 5,
};

// A malformed argument: what() names the flag.
class usage_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// "90s", "30m", "1h", "7d", "2w" (a whole number and a unit). Throws usage_error naming `flag`.
std::chrono::seconds parse_duration(const std::string& text, const std::string& flag);

// A point in time: a duration back from `now` ("1h": an hour ago), "now", or ISO-8601
// "2026-11-28", "2026-11-28T14:03", "2026-11-28 14:03:07.123456", with "Z" or "+01:00";
// without an offset it is local time (UTC when `utc`).
spdlog_ext::log_time parse_time(const std::string& text, const std::string& flag, bool utc,
                                spdlog_ext::log_time now);

// A level name: trace, debug, info, warn/warning, error/err, critical/crit.
spdlog::level::level_enum parse_level(const std::string& text, const std::string& flag);

// "key=value" → {"key": value}; the value is JSON when it parses as JSON, else a string;
// "a.b=1" → {"a": {"b": 1}}.
nlohmann::json parse_field(const std::string& text, const std::string& flag);

// The filter flags shared by query and tail, as typed.
struct filter_args {
    std::string since, until;
    std::string level;
    std::vector<std::string> levels;
    std::vector<std::string> loggers;
    std::vector<std::string> hosts;
    std::string search;
    std::vector<std::string> fields;
    bool has_exception = false;
};

spdlog_ext::log_filter make_filter(const filter_args& args, bool utc);

// Which exit code a store_error maps to.
int exit_code_of(const spdlog_ext::store_error& e);

}  // namespace spdlog_ext_cli
