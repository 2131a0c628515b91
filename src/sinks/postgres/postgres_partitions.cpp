#include "sinks/postgres/postgres_partitions.h"

#include <libpq-fe.h>

#include <cstdio>
#include <string_view>
#include <vector>

#include "core/civil_time.h"

namespace spdlog_ext::detail {

namespace {

constexpr std::int64_t seconds_per_day = 86400;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
}

std::string date_digits(std::int64_t days, bool with_day) {
    const civil_date d = civil_from_days(days);
    char buf[32];
    if (with_day) {
        std::snprintf(buf, sizeof buf, "%04lld%02u%02u", static_cast<long long>(d.year), d.month,
                      d.day);
    } else {
        std::snprintf(buf, sizeof buf, "%04lld%02u", static_cast<long long>(d.year), d.month);
    }
    return buf;
}

// A UTC midnight as a timestamptz literal: the same instant whatever the session's TimeZone.
std::string bound_literal(std::int64_t epoch_s) {
    const civil_date d = civil_from_days(floor_div(epoch_s, seconds_per_day));
    char buf[48];
    std::snprintf(buf, sizeof buf, "'%04lld-%02u-%02u 00:00:00+00'", static_cast<long long>(d.year),
                  d.month, d.day);
    return buf;
}

std::string for_values(const pg_partition_period& p) {
    return " FOR VALUES FROM (" + bound_literal(p.from_s) + ") TO (" + bound_literal(p.to_s) + ")";
}

std::vector<pg_partition_period> wanted_periods(postgres_partition kind, std::int64_t now_s) {
    std::vector<pg_partition_period> out;
    for (int offset = -1; offset <= pg_periods_ahead(kind); ++offset) {
        out.push_back(pg_period_at(kind, now_s, offset));
    }
    return out;
}

// The table's partitions (relname), or none when it is not there.
std::vector<std::string> existing_partitions(pg_connection& conn, const pg_schema_names& names) {
    const pg_result_ptr r = conn.exec(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(" +
        conn.quote(names.table) + ")");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.emplace_back(PQgetvalue(r.get(), i, 0));
    }
    return out;
}

// The DEFAULT partition as the server quotes it (regclass text), or "" when there is none.
std::string default_partition(pg_connection& conn, const pg_schema_names& names) {
    const pg_result_ptr r = conn.exec(
        "SELECT partdefid::regclass::text FROM pg_partitioned_table WHERE partrelid = "
        "to_regclass(" +
        conn.quote(names.table) + ") AND partdefid <> 0");
    return PQntuples(r.get()) > 0 ? std::string(PQgetvalue(r.get(), 0, 0)) : std::string();
}

// Another process made the same relation between our look and our CREATE.
bool made_by_another(const pg_error& e) {
    return e.sqlstate == "42P07" || e.sqlstate == "23505";
}

}  // namespace

pg_partition_period pg_period_at(postgres_partition kind, std::int64_t epoch_s, int offset) {
    const std::int64_t day = floor_div(epoch_s, seconds_per_day);
    pg_partition_period p;
    if (kind == postgres_partition::week) {
        // 1970-01-01 was a Thursday (3 days after a Monday).
        const std::int64_t monday = day - (day + 3 - floor_div(day + 3, 7) * 7) + 7 * offset;
        p.from_s = monday * seconds_per_day;
        p.to_s = (monday + 7) * seconds_per_day;
        p.suffix = "w" + date_digits(monday, true);
    } else if (kind == postgres_partition::month) {
        const civil_date d = civil_from_days(day);
        const std::int64_t index = d.year * 12 + static_cast<std::int64_t>(d.month) - 1 + offset;
        const std::int64_t year = floor_div(index, 12);
        const auto month = static_cast<unsigned>(index - year * 12 + 1);
        const std::int64_t first = days_from_civil(year, month, 1);
        const std::int64_t next =
            month == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, month + 1, 1);
        p.from_s = first * seconds_per_day;
        p.to_s = next * seconds_per_day;
        p.suffix = "m" + date_digits(first, false);
    } else {  // day
        const std::int64_t d = day + offset;
        p.from_s = d * seconds_per_day;
        p.to_s = (d + 1) * seconds_per_day;
        p.suffix = "p" + date_digits(d, true);
    }
    return p;
}

int pg_periods_ahead(postgres_partition kind) {
    switch (kind) {
        case postgres_partition::day:
            return 7;
        case postgres_partition::week:
            return 4;
        case postgres_partition::month:
            return 2;
        case postgres_partition::none:
            break;
    }
    return 0;
}

std::string pg_table_tail(const postgres_config& cfg) {
    return cfg.partition == postgres_partition::none
               ? std::string(")")
               : std::string(", PRIMARY KEY (id, timestamp)) PARTITION BY RANGE (timestamp)");
}

std::string pg_partition_name(pg_connection& conn, const postgres_config& cfg,
                              const std::string& suffix) {
    return (cfg.schema.empty() ? std::string() : conn.quote_name(cfg.schema) + ".") +
           conn.quote_name(pg_derived_name(cfg.table_name(), suffix));
}

void pg_create_initial_partitions(pg_connection& conn, const postgres_config& cfg,
                                  const pg_schema_names& names, std::int64_t now_s) {
    conn.exec("CREATE TABLE IF NOT EXISTS " + pg_partition_name(conn, cfg, "default") +
              " PARTITION OF " + names.table + " DEFAULT");
    for (const auto& p : wanted_periods(cfg.partition, now_s)) {
        conn.exec("CREATE TABLE IF NOT EXISTS " + pg_partition_name(conn, cfg, p.suffix) +
                  " PARTITION OF " + names.table + for_values(p));
    }
}

std::string pg_ensure_partitions(pg_connection& conn, const postgres_config& cfg,
                                 const pg_schema_names& names, std::int64_t now_s) {
    if (cfg.partition == postgres_partition::none) {
        return {};
    }
    const std::vector<std::string> existing = existing_partitions(conn, names);
    const auto exists = [&](const std::string& suffix) {
        const std::string name = pg_derived_name(cfg.table_name(), suffix);
        for (const auto& e : existing) {
            if (e == name) {
                return true;
            }
        }
        return false;
    };
    std::string problems;
    const auto note = [&](const std::string& what, const pg_error& e) {
        if (e.connection_lost || !conn.ok()) {
            throw e;
        }
        problems +=
            (problems.empty() ? "" : "; ") + what + " (SQLSTATE " + e.sqlstate + "): " + e.what();
    };
    if (!exists("default") && default_partition(conn, names).empty()) {
        try {
            pg_exec_bounded(
                conn, {"CREATE TABLE IF NOT EXISTS " + pg_partition_name(conn, cfg, "default") +
                       " PARTITION OF " + names.table + " DEFAULT"});
        } catch (const pg_error& e) {
            if (!made_by_another(e)) {
                note("cannot create the DEFAULT partition", e);
            }
        }
    }
    for (const auto& p : wanted_periods(cfg.partition, now_s)) {
        if (exists(p.suffix)) {
            continue;
        }
        const std::string partition = pg_partition_name(conn, cfg, p.suffix);
        try {
            pg_exec_bounded(conn, {"CREATE TABLE IF NOT EXISTS " + partition + " PARTITION OF " +
                                   names.table + for_values(p)});
            continue;
        } catch (const pg_error& e) {
            if (made_by_another(e)) {
                continue;
            }
            if (e.sqlstate != "23514") {
                note("cannot create partition " + partition, e);
                continue;
            }
        }
        // 23514: the DEFAULT partition holds rows of this period (logged before the partition
        // existed), and PostgreSQL refuses a partition that would hide them. Move them into a
        // table of the parent's shape and attach it, in one transaction: readers see the rows
        // in one place or the other, never both or neither.
        const std::string from_default = default_partition(conn, names);
        const std::string in_range = " WHERE timestamp >= " + bound_literal(p.from_s) +
                                     " AND timestamp < " + bound_literal(p.to_s);
        try {
            pg_exec_bounded(
                conn,
                {"CREATE TABLE " + partition + " (LIKE " + names.table +
                     " INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
                 "WITH moved AS (DELETE FROM " + from_default + in_range +
                     " RETURNING *) INSERT INTO " + partition + " SELECT * FROM moved",
                 "ALTER TABLE " + names.table + " ATTACH PARTITION " + partition + for_values(p)});
        } catch (const pg_error& e) {
            if (!made_by_another(e)) {
                note("cannot move the DEFAULT partition's rows into new partition " + partition, e);
            }
        }
    }
    return problems;
}

pg_partition_retention pg_drop_expired_partitions(pg_connection& conn, const postgres_config& cfg,
                                                  const pg_schema_names& names) {
    pg_partition_retention out;
    const std::string cutoff = "now() - interval '" + std::to_string(cfg.retention_days) + " days'";
    // The upper bound as the server prints it (in the session's DateStyle, read back in the
    // same): MAXVALUE, DEFAULT and anything else unexpected give NULL and are kept.
    const pg_result_ptr expired = conn.exec(
        "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(" +
        conn.quote(names.table) +
        ") AND (substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$ TO \\('([^']*)'\\)$re$))"
        "::timestamptz <= " +
        cutoff + " ORDER BY 1");
    std::vector<std::string> partitions;
    for (int i = 0; i < PQntuples(expired.get()); ++i) {
        partitions.emplace_back(PQgetvalue(expired.get(), i, 0));
    }
    for (const auto& partition : partitions) {
        pg_exec_bounded(conn, {"ALTER TABLE " + names.table + " DETACH PARTITION " + partition,
                               "DROP TABLE " + partition});
        ++out.partitions_dropped;
    }
    const std::string from_default = default_partition(conn, names);
    if (!from_default.empty()) {
        out.default_rows_deleted = pg_delete_in_chunks(conn, from_default, "timestamp < " + cutoff,
                                                       cfg.retention_chunk_rows);
    }
    return out;
}

std::string pg_partition_problem(pg_connection& conn, const postgres_config& cfg,
                                 const pg_schema_names& names, const std::string& display_table) {
    const pg_result_ptr r = conn.exec(
        "SELECT c.relkind = 'p', c.relkind <> 'p' OR pg_get_partkeydef(c.oid) = 'RANGE (' || "
        "quote_ident('timestamp') || ')' FROM pg_class c WHERE c.oid = to_regclass(" +
        conn.quote(names.table) + ")");
    if (PQntuples(r.get()) == 0) {
        return {};
    }
    const bool partitioned = std::string_view(PQgetvalue(r.get(), 0, 0)) == "t";
    const bool on_timestamp = std::string_view(PQgetvalue(r.get(), 0, 1)) == "t";
    const bool wanted = cfg.partition != postgres_partition::none;
    if (wanted && !partitioned) {
        return "table " + display_table +
               " exists and is not partitioned, but LOG_POSTGRES_PARTITION (partition) asks for "
               "time partitions: the sink never converts a table. Migrate it (rename it and its "
               "indexes, let the sink create the partitioned table, copy the rows you keep: "
               "docs/sinks/postgres.md, \"Partitioning\") or set LOG_POSTGRES_PARTITION=none";
    }
    if (!wanted && partitioned) {
        return "table " + display_table +
               " is partitioned, but LOG_POSTGRES_PARTITION (partition) is none: set it to the "
               "table's period (day, week or month) so that the sink keeps creating its "
               "partitions, or use another table (LOG_POSTGRES_TABLE_PREFIX)";
    }
    if (wanted && !on_timestamp) {
        return "table " + display_table +
               " is partitioned, but not by RANGE (timestamp) as LOG_POSTGRES_PARTITION "
               "(partition) needs: use another table (LOG_POSTGRES_TABLE_PREFIX)";
    }
    return {};
}

}  // namespace spdlog_ext::detail
