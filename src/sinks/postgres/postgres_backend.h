// Internal: the PostgreSQL backend behind postgres_batch_sink: each batch one transaction (COPY
// of its rows plus its batch id), through postgres_connection, on the schema of postgres_ddl.
// Kept out of the public header so libpq never leaks into users' builds.
#pragma once

#include <memory>
#include <string>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// Validates `cfg` (validate_postgres_config: the one validation, config_error), then builds the
// backend; it does not connect.
std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg);

// What a batch transaction's failure (not a lost connection) means, by SQLSTATE.
enum class pg_failure_action {
    isolate,               // the data was refused (classes 22, 23, 54): bisect to the culprits
    retry_without_notify,  // 54000 with our NOTIFY in the transaction: the server's notification
                           // queue is full (a listener stopped reading), not the data's fault
    retry,                 // anything else: transient, try the same batch again
};
pg_failure_action classify_pg_failure(const std::string& sqlstate, bool notified);

}  // namespace spdlog_ext::detail
