// Internal: the PostgreSQL backend (encoder: COPY text rows; transport: libpq) behind
// postgres_batch_sink. Kept out of the public header so libpq never leaks into users' builds.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1): longer ones are silently truncated.
inline constexpr std::size_t pg_max_identifier = 63;

// What the sink adds to the user's connection: libpq parameters (after the conninfo, so they
// override it: only those it does not set itself, but client_encoding always), the
// statement_timeout to SET after connecting (0: none, the user's options set one) and how long
// the worker waits for any reply (0: unbounded).
struct session_settings {
    std::vector<std::pair<std::string, std::string>> params;
    std::chrono::milliseconds statement_timeout{0};
    std::chrono::milliseconds reply_limit{0};
};
session_settings session_settings_for(const postgres_config& cfg, const std::string& conninfo);

// conninfo with its defaults applied (environment fallbacks, connect_timeout).
std::string resolve_conninfo(const postgres_config& cfg);
// Throws config_error for settings that can never work (names over 63 bytes, ...).
void validate_postgres_config(const postgres_config& cfg);
// Validates `cfg` first (config_error), then builds the backend; it does not connect.
std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg);
// The registry's factory reads LOG_POSTGRES_* through `env`.
postgres_config postgres_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
