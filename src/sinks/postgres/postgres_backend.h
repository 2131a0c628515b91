// Internal: the PostgreSQL backend behind postgres_batch_sink: each batch one transaction (COPY
// of its rows plus its batch id), through postgres_connection, on the schema of postgres_ddl.
// Kept out of the public header so libpq never leaks into users' builds.
#pragma once

#include <memory>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// Validates `cfg` (validate_postgres_config: the one validation, config_error), then builds the
// backend; it does not connect.
std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg);

}  // namespace spdlog_ext::detail
