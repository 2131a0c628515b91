// postgres_batch_sink: batched, exactly-once logging into a PostgreSQL table with COPY.
//
//   spdlog_ext::postgres_config cfg;              // every field has a sensible default
//   cfg.conninfo = "postgresql://app@db/app";     // libpq string or URI
//   cfg.table_prefix = "myapp";                   // table "myapp_logs"; no prefix → "logs"
//   auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
//   auto log = spdlog_ext::postgres_logger_mt("app", cfg);   // or a logger at once
//
// The table is created when missing (columns of the usual Python/PostgreSQL log handlers). Each
// batch is one transaction: COPY of its rows plus its batch id in <table>_batches, so a batch
// whose COMMIT outcome was lost with the connection is checked, not written twice. The sink
// never connects on the logging path: the engine's worker does, with backoff.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext {

// The indexes created with the table; see docs/postgres-indexes.md for their measured ingest cost.
enum class postgres_indexes {
    none,      // primary key only: fastest ingest
    minimal,   // BRIN(timestamp) + (level, timestamp): recent logs, by level
    standard,  // minimal + (logger_name, timestamp) + (hostname, timestamp)
    full,      // standard + GIN(extra_data jsonb_path_ops): structured-field lookups
};

// Time partitioning of a table the sink creates (docs/sinks/postgres.md, "Partitioning").
enum class postgres_partition {
    none,   // one plain table; retention deletes rows in chunks
    day,    // PARTITION BY RANGE (timestamp), one partition per UTC day
    week,   // one per ISO week (from Monday 00:00 UTC)
    month,  // one per UTC calendar month
};

// The SQL type of a promoted column (postgres_column). A closed set: each value is checked in the
// sink before it is sent, so the server never refuses a row for one (docs/sinks/postgres.md).
enum class postgres_column_type {
    text,              // JSON strings
    bigint,            // JSON integers in 64-bit range
    integer,           // JSON integers in 32-bit range
    smallint,          // JSON integers in 16-bit range
    double_precision,  // JSON numbers ("double precision")
    real,              // JSON numbers within float range
    boolean,           // JSON true / false
    timestamptz,       // RFC 3339 strings with a zone: 2024-05-01T12:00:00.5Z
    uuid,              // strings 8-4-4-4-12 hex digits
    jsonb,             // any JSON value
};

// A record field written to a column of its own (LOG_POSTGRES_COLUMNS): the top-level field
// `name` goes to the column `name` and leaves extra_data; a value that does not fit `type` stays
// in extra_data and the column is NULL.
struct postgres_column {
    std::string name;
    postgres_column_type type = postgres_column_type::text;
    bool index = false;  // CREATE INDEX IF NOT EXISTS on the column (with create_table)
};

struct postgres_config {
    postgres_config() {
        engine.name = "postgres";
        engine.redaction = redactor::defaults();  // secrets never leave the process
        // COPY likes big batches: each commit costs the server a few ms, and a batch is this
        // large only when a backlog builds (docs/benchmarks.md#postgresql).
        engine.batch_max_records = 20000;
        engine.batch_max_bytes = 16u << 20;
    }

    // libpq connection string or URI. Empty: LOG_POSTGRES_URL, else DATABASE_URL, else libpq's
    // own PG* variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, ...).
    std::string conninfo;
    std::string schema;        // empty: the connection's search_path (usually public)
    std::string table_prefix;  // "myapp" → myapp_logs; empty → logs
    bool create_table = true;  // false: the table must exist (checked on first connect)
    postgres_indexes indexes = postgres_indexes::minimal;
    int retention_days = 0;  // > 0: rows older than this are deleted, in small chunks
    std::chrono::milliseconds retention_interval = std::chrono::minutes(10);
    std::size_t retention_chunk_rows = 5000;  // rows per DELETE (bounds lock time)
    std::chrono::seconds connect_timeout = std::chrono::seconds(10);
    // Bounds on an established connection (libpq parameters; a value the conninfo sets itself
    // wins). TCP keepalives find a peer that vanished; tcp_user_timeout ends a connection whose
    // sent data stays unacknowledged; 0 leaves a setting to the OS / server.
    std::chrono::seconds keepalives_idle = std::chrono::seconds(10);
    std::chrono::seconds keepalives_interval = std::chrono::seconds(5);
    int keepalives_count = 3;
    std::chrono::milliseconds tcp_user_timeout = std::chrono::seconds(30);
    // The server cancels a statement of the sink's running longer (SET after connecting), and
    // the worker gives up waiting for a reply after statement_timeout + max(tcp_user_timeout,
    // 1 s): a path that swallows packets but keeps the socket open cannot hold it. 0: neither.
    std::chrono::milliseconds statement_timeout = std::chrono::seconds(30);
    // NOTIFY "<schema>.<table>_new" in each batch's transaction (sent only on commit), so that
    // postgres_log_store::tail wakes at once instead of at its next poll. Measured cost and why
    // it is on by default: docs/log-tail.md.
    bool notify = true;
    // Not none: a new table is range-partitioned on timestamp; partitions are created ahead by
    // the worker, records outside them go to a DEFAULT partition, and retention drops whole
    // partitions. An existing table of the other kind is refused (never converted).
    postgres_partition partition = postgres_partition::none;
    engine_config engine;  // queue, batching, retry, fallback (name defaults to "postgres")
    // Fields promoted to typed columns, after the fixed ones (LOG_POSTGRES_COLUMNS).
    std::vector<postgres_column> columns;

    // The (unquoted) table name: "<prefix>_logs" or "logs".
    std::string table_name() const;
    // Reads LOG_POSTGRES_* (and the engine options) from the environment; throws config_error.
    static postgres_config from_env();
};

class postgres_batch_sink final : public engine_sink {
  public:
    // Throws config_error for settings that can never work (a name over 63 bytes, ...). Does not
    // connect: a database that is down at start-up is retried by the worker.
    explicit postgres_batch_sink(postgres_config config);
};

// Engine sinks are thread-safe either way (they hand records to a worker thread).
using postgres_batch_sink_mt = postgres_batch_sink;
using postgres_batch_sink_st = postgres_batch_sink;

std::shared_ptr<spdlog::logger> postgres_logger_mt(const std::string& logger_name,
                                                   postgres_config config = {});
std::shared_ptr<spdlog::logger> postgres_logger_st(const std::string& logger_name,
                                                   postgres_config config = {});

}  // namespace spdlog_ext
