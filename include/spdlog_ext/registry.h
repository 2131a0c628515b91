// Builds sinks from the LOG_BACKENDS environment variable:
//
//   LOG_BACKENDS=console,file,postgres ./app
//   auto log = spdlog_ext::make_logger("app");   // sinks from LOG_BACKENDS, levels from
//                                                 // SPDLOG_LEVEL (see make_logger below)
//   ...
//   spdlog_ext::shutdown(std::chrono::seconds(5));   // drain every sink before exit
//
// Built-in backends: console (coloured stdout), stderr, file (JSON lines), null; the network
// backends (postgres, datadog, slack, influx) when compiled in. register_backend() adds yours.
// Manual: docs/configuration.md.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spdlog_ext/env_options.h"

namespace spdlog_ext {

// Makes a sink from its LOG_<NAME>_* options; throws config_error for bad settings.
using backend_factory = std::function<spdlog::sink_ptr(const env_options& env)>;

// Adds (or replaces) a backend, usable from LOG_BACKENDS at once. Names are case-insensitive,
// letters, digits and '_' only; throws std::invalid_argument otherwise.
void register_backend(const std::string& name, backend_factory factory);
std::vector<std::string> registered_backends();  // sorted

// "Console; file,,FILE " → {"console", "file"}: names separated by ',' or ';', lower-cased,
// spaces and empty items ignored, duplicates dropped (first occurrence kept).
std::vector<std::string> parse_backend_list(std::string_view list);

// What happens when a backend cannot be built (an unknown name, a malformed LOG_* setting, a
// missing DD_API_KEY, a PostgreSQL connection string libpq cannot parse).
enum class strictness {
    from_env,  // LOG_STRICT decides: true/1/on/yes → strict; unset, false/0/off/no → lenient
    lenient,   // report each broken backend (one line, via the warning handler) and build the
               // rest; when none is left, build `console` (with one more warning)
    strict,    // throw config_error naming the variable (for services that prefer to fail fast)
};

// One sink per named backend; broken backends are handled as `mode` says. An unknown name's
// warning names the known backends and the nearest one ("did you mean 'postgres'?"). A list with
// no name at all gives `console`. After a sink is built, LOG_<NAME>_LEVEL and LOG_<NAME>_PATTERN
// apply to it.
std::vector<spdlog::sink_ptr> sinks_from_string(std::string_view list,
                                                strictness mode = strictness::from_env);
// The same for LOG_BACKENDS; unset or blank → "console".
std::vector<spdlog::sink_ptr> sinks_from_env(strictness mode = strictness::from_env);

// A logger registered with spdlog whose sinks come from the environment (sinks_from_env(mode)).
// Every logger made this way shares the same sink instances (one connection per backend, not one
// per logger). Returns the existing logger if one of that name is registered.
//
// Loggers from make_logger and from the <sink>_logger_mt/_st factories follow spdlog's global
// settings the way spdlog's own factories (spdlog::basic_logger_mt, ...) do:
//   - level: the per-logger level from SPDLOG_LEVEL / spdlog::cfg ("info,db=debug"), else
//     spdlog's global level (spdlog::set_level);
//   - flush level: spdlog::flush_on;  error handler: spdlog::set_error_handler;
//   - backtrace: spdlog::enable_backtrace.
// They differ in two points. make_logger reads SPDLOG_LEVEL itself (once, until shutdown());
// for the factories, call spdlog::cfg::load_env_levels() as with spdlog's. make_logger keeps each
// sink's formatter (the console's pattern with %*, the file's JSON) and always registers its
// logger (it is get-or-create by name); the factories apply spdlog::set_pattern's formatter and
// register only when spdlog::set_automatic_registration is on, as spdlog's factories do.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name,
                                            strictness mode = strictness::from_env);

// Flushes and stops every sink built by this registry (engine sinks drain within the deadline),
// and drops the loggers make_logger created. True when everything was delivered in time.
bool shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Where registry warnings go (broken or unknown backends, unknown LOG_* variables, an unknown
// DD_SITE). Default: stderr, one line each.
void set_warning_handler(std::function<void(const std::string&)> handler);

}  // namespace spdlog_ext
