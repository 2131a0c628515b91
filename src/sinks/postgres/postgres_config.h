// Internal: postgres_batch_sink's configuration: read from LOG_POSTGRES_* without validating,
// validated once (validate_postgres_config, when the sink is built), and the secrets its
// diagnostics mask.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "spdlog_ext/env_options.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1): longer ones are silently truncated.
inline constexpr std::size_t pg_max_identifier = 63;

// Reads LOG_POSTGRES_* through `env` (the registry's factory): a value that does not parse is a
// config_error; ranges are left to validate_postgres_config.
postgres_config postgres_config_from(const env_options& env);

// Throws config_error for settings that can never work: a connection string libpq cannot use
// (validate_postgres_conninfo), then validate_postgres_settings.
void validate_postgres_config(const postgres_config& cfg);
// The connection string (resolved as the sink resolves it): parsed by libpq, without connecting.
void validate_postgres_conninfo(const postgres_config& cfg);
// The other settings: names over 63 bytes or with NUL, timeouts, keepalives, retention.
void validate_postgres_settings(const postgres_config& cfg);

// LOG_POSTGRES_COLUMNS: "name:type[:index],..." (e.g. "user_id:bigint:index,ok:boolean"); types
// case-insensitive, with the aliases int8, int4, int, int2, float8, float4, bool. Names are
// trimmed; they are checked by validate_postgres_settings. Throws config_error.
std::vector<postgres_column> parse_postgres_columns(const std::string& spec);
// The type's SQL name, as CREATE TABLE takes it and format_type() shows it.
const char* pg_column_type_sql(postgres_column_type type);
// A promoted column's name is refused when it is one of these (any case): the table's own.
bool pg_is_fixed_column(const std::string& name);

// conninfo with its defaults applied (environment fallbacks, connect_timeout).
std::string resolve_conninfo(const postgres_config& cfg);

// The non-empty strings the sink's diagnostics mask (engine_config::secrets): the password of
// the resolved connection string, its decoded forms, PGPASSWORD.
std::vector<std::string> postgres_secrets(const postgres_config& cfg);

}  // namespace spdlog_ext::detail
