// Internal: the PostgreSQL backend (encoder: COPY text rows; transport: libpq) behind
// postgres_batch_sink. Kept out of the public header so libpq never leaks into users' builds.
#pragma once

#include <memory>
#include <string>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// conninfo with its defaults applied (environment fallbacks, connect_timeout).
std::string resolve_conninfo(const postgres_config& cfg);
// Throws config_error for settings that can never work (names over 63 bytes, ...).
void validate_postgres_config(const postgres_config& cfg);
// Validates `cfg` first (config_error), then builds the backend; it does not connect.
std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg);
// The registry's factory reads LOG_POSTGRES_* through `env`.
postgres_config postgres_config_from(const env_options& env);

}  // namespace spdlog_ext::detail
