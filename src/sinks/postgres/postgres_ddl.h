// Internal: the PostgreSQL sink's schema work on a connection: its table and <table>_batches
// (created when missing, with the configured indexes), the column check of an existing table,
// the txid column the live tail needs, the NOTIFY channel, and the chunked DELETEs of retention.
#pragma once

#include <array>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sinks/postgres/postgres_connection.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// A name derived from the table's, shortened with a stable hash when it would pass 63 bytes
// (PostgreSQL would silently truncate it, and two indexes could collide).
std::string pg_derived_name(const std::string& table, const std::string& suffix);

// The channel the sink NOTIFYs after each batch and postgres_log_store::tail LISTENs on:
// "<schema>.<table>_new" (channels are per database, so the schema is part of it), or
// "<table>_new" without a schema; shortened like pg_derived_name to stay within 63 bytes.
std::string pg_notify_channel(const postgres_config& cfg);

// The txid column's default: the writing transaction's 64-bit (epoch-extended) id, the same
// numbering as pg_current_snapshot() (PostgreSQL 13+) / txid_current_snapshot() (12 and older).
std::string pg_txid_default(int server_version);

// `statements` in one transaction whose locks wait at most 2 s (ALTER/CREATE INDEX/ATTACH wait
// for locks on the log table, and a request queued behind a long query would stall every writer
// behind it). On failure it rolls back (unless the connection is lost) and throws the pg_error.
void pg_exec_bounded(pg_connection& conn, const std::vector<std::string>& statements);

// Seconds since 1970 UTC now (partition periods are computed from it).
std::int64_t pg_epoch_seconds();

// The statements' names, quoted and schema-qualified.
struct pg_schema_names {
    std::string table;    // the log table
    std::string batches;  // its committed batch ids
    // COPY <table> (<copy_columns_for(shape)>, <promoted columns>) FROM STDIN, by
    // copy_shape::index().
    std::array<std::string, 4> copy_sql;
};
pg_schema_names pg_schema_names_for(pg_connection& conn, const postgres_config& cfg);

// CREATE SCHEMA/TABLE/INDEX IF NOT EXISTS as cfg says (the log table only with create_table),
// and the batches table. Inside the caller's transaction; throws pg_error.
void pg_create_schema(pg_connection& conn, const postgres_config& cfg,
                      const pg_schema_names& names);

// Adds the txid column (and its default) to an existing log table that lacks it, in its own
// transaction with a short lock_timeout (ALTER TABLE waits for an ACCESS EXCLUSIVE lock and
// would block every writer queued behind it). Returns "" when the column is there (or now added),
// else why not: the sink keeps writing either way (only the live tail needs the column).
// Nothing is done with create_table off. Throws pg_error only when the connection is lost.
std::string pg_ensure_txid_column(pg_connection& conn, const postgres_config& cfg,
                                  const pg_schema_names& names);

// The promoted columns (postgres_config::columns): with create_table, an existing table lacking
// some gets them (ALTER TABLE ... ADD COLUMN IF NOT EXISTS) and the indexes asked for, in their
// own transaction with a short lock_timeout. Returns "" when every column is there with its
// type, else why not (create_table off and a column missing: the ALTER TABLE statement to run;
// a column of another type). Throws pg_error for a lost connection or a lock not granted in
// time (the set-up is then retried).
std::string pg_ensure_promoted_columns(pg_connection& conn, const postgres_config& cfg,
                                       const pg_schema_names& names);

// The index of promoted column `column`: <table>_<column>_idx, shortened with hashes to stay
// within 63 bytes.
std::string pg_promoted_index_name(const std::string& table, const std::string& column);

// Why the log table cannot be used (it is missing, or lacks a column COPY writes; messages
// name it as `display_table`), or "" when it can.
std::string pg_schema_problem(pg_connection& conn, const postgres_config& cfg,
                              const std::string& display_table);

// Deletes `table`'s rows matching `condition`, `chunk_rows` per statement so locks are held
// briefly; at most 100 statements per call. Returns the rows deleted.
std::uint64_t pg_delete_in_chunks(pg_connection& conn, const std::string& table,
                                  const std::string& condition, std::size_t chunk_rows);

}  // namespace spdlog_ext::detail
