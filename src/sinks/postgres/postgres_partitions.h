// Internal: the time partitions of a log table with LOG_POSTGRES_PARTITION: their UTC periods and
// names, the DEFAULT partition, creation ahead of time, retention by dropping whole partitions,
// and the check that an existing table is of the configured kind.
#pragma once

#include <cstdint>
#include <string>

#include "sinks/postgres/postgres_connection.h"
#include "sinks/postgres/postgres_ddl.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// One partition's range [from_s, to_s) in seconds since 1970 UTC, and its name's suffix:
// "p20261128" (day), "w20261123" (week, from its Monday), "m202611" (month).
struct pg_partition_period {
    std::int64_t from_s = 0;
    std::int64_t to_s = 0;
    std::string suffix;
};

// The period of `kind` (not none) holding `epoch_s`, moved by `offset` periods.
pg_partition_period pg_period_at(postgres_partition kind, std::int64_t epoch_s, int offset = 0);

// Periods kept created after the current one (the previous one is created too).
int pg_periods_ahead(postgres_partition kind);

// Closes CREATE TABLE's column list: ")" or, partitioned, the primary key with the partition
// key (a unique constraint must include it) and "PARTITION BY RANGE (timestamp)".
std::string pg_table_tail(const postgres_config& cfg);

// The partition's name (from pg_derived_name: 63-byte safe), quoted and schema-qualified.
std::string pg_partition_name(pg_connection& conn, const postgres_config& cfg,
                              const std::string& suffix);

// In the transaction that created the partitioned table: its DEFAULT partition and the periods
// around `now_s`, so that no COPY finds the table without a partition. Throws pg_error.
void pg_create_initial_partitions(pg_connection& conn, const postgres_config& cfg,
                                  const pg_schema_names& names, std::int64_t now_s);

// Outside a transaction: creates what is missing of the DEFAULT partition and the periods from
// the previous to pg_periods_ahead after `now_s`. A partition another process created first
// counts as created; rows the DEFAULT partition holds in a new period's range are moved into
// it. Returns why a partition could not be made ("" when all are there); throws pg_error only
// when the connection is lost.
std::string pg_ensure_partitions(pg_connection& conn, const postgres_config& cfg,
                                 const pg_schema_names& names, std::int64_t now_s);

struct pg_partition_retention {
    std::uint64_t partitions_dropped = 0;
    std::uint64_t default_rows_deleted = 0;
};

// Detaches and drops every partition whose upper bound is at or before now() - retention_days
// (never one that can hold a newer row), then deletes the DEFAULT partition's older rows in
// chunks. Throws pg_error.
pg_partition_retention pg_drop_expired_partitions(pg_connection& conn, const postgres_config& cfg,
                                                  const pg_schema_names& names);

// Why an existing table is not of the configured kind (a plain table with partitioning on, a
// partitioned one with it off or on another key), with how to migrate; "" when it fits or the
// table does not exist.
std::string pg_partition_problem(pg_connection& conn, const postgres_config& cfg,
                                 const pg_schema_names& names, const std::string& display_table);

}  // namespace spdlog_ext::detail
