#include "sinks/postgres/postgres_ddl.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "core/utf8.h"
#include "sinks/postgres/postgres_config.h"
#include "sinks/postgres/postgres_encoder.h"
#include "sinks/postgres/postgres_partitions.h"

namespace spdlog_ext::detail {

namespace {

// `new_table`: the table was created in this transaction. The txid BRIN is built only then: on an
// existing table CREATE INDEX scans it all under a SHARE lock that blocks every writer (the tail
// stays correct without it, just slower; docs/log-tail.md gives the CONCURRENTLY statement).
void create_indexes(pg_connection& conn, const postgres_config& cfg, const pg_schema_names& names,
                    bool new_table) {
    const std::string table = cfg.table_name();
    const auto index = [&](const std::string& suffix, const std::string& definition) {
        conn.exec("CREATE INDEX IF NOT EXISTS " + conn.quote_name(pg_derived_name(table, suffix)) +
                  " ON " + names.table + " " + definition);
    };
    if (cfg.indexes == postgres_indexes::none) {
        return;
    }
    index("timestamp_brin", "USING BRIN (timestamp)");
    index("level_timestamp", "(level, timestamp)");
    if (new_table) {
        index("txid_brin", "USING BRIN (txid) WITH (pages_per_range = 32, autosummarize = on)");
    }
    if (cfg.indexes == postgres_indexes::minimal) {
        return;
    }
    index("logger_timestamp", "(logger_name, timestamp)");
    index("host_timestamp", "(hostname, timestamp)");
    if (cfg.indexes == postgres_indexes::full) {
        index("extra_gin", "USING GIN (extra_data jsonb_path_ops)");
    }
}

// ", "a" bigint, ..." for CREATE TABLE.
std::string promoted_column_definitions(pg_connection& conn, const postgres_config& cfg) {
    std::string out;
    for (const postgres_column& column : cfg.columns) {
        out += ", " + conn.quote_name(column.name) + " " + pg_column_type_sql(column.type);
    }
    return out;
}

std::string hash_hex(const std::string& text) {
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (unsigned char c : text) {
        hash = (hash ^ c) * 16777619u;
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", hash);
    return hex;
}

}  // namespace

std::string pg_promoted_index_name(const std::string& table, const std::string& column) {
    // The suffix stays within 40 bytes, so pg_derived_name keeps at least 13 of the table's.
    std::string suffix = column + "_idx";
    if (suffix.size() > 40) {
        suffix = std::string(utf8::truncate(column, 27)) + "_" + hash_hex(column) + "_idx";
    }
    return pg_derived_name(table, suffix);
}

std::string pg_ensure_promoted_columns(pg_connection& conn, const postgres_config& cfg,
                                       const pg_schema_names& names) {
    if (cfg.columns.empty()) {
        return {};
    }
    const auto existing_types = [&] {
        const pg_result_ptr r = conn.exec(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(" +
            conn.quote(names.table) + ") AND a.attnum > 0 AND NOT a.attisdropped");
        std::vector<std::pair<std::string, std::string>> out;
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            out.emplace_back(PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1));
        }
        return out;
    };
    const auto type_of = [](const std::vector<std::pair<std::string, std::string>>& types,
                            const std::string& name) -> const std::string* {
        for (const auto& t : types) {
            if (t.first == name) {
                return &t.second;
            }
        }
        return nullptr;
    };
    const auto add_statement = [&](const postgres_column& column) {
        return "ALTER TABLE " + names.table + " ADD COLUMN IF NOT EXISTS " +
               conn.quote_name(column.name) + " " + pg_column_type_sql(column.type);
    };
    auto types = existing_types();
    std::vector<const postgres_column*> missing;
    for (const postgres_column& column : cfg.columns) {
        if (type_of(types, column.name) == nullptr) {
            missing.push_back(&column);
        }
    }
    if (!missing.empty() && !cfg.create_table) {
        std::string message = "the log table lacks the promoted column(s) ";
        std::string statements;
        for (const postgres_column* column : missing) {
            message += (column == missing.front() ? "" : ", ") + conn.quote_name(column->name);
            statements += add_statement(*column) + "; ";
        }
        return message +
               " of LOG_POSTGRES_COLUMNS and create_table is off (LOG_POSTGRES_CREATE_TABLE): "
               "run " +
               statements + "or turn create_table on";
    }
    const bool any_index = std::any_of(cfg.columns.begin(), cfg.columns.end(),
                                       [](const postgres_column& c) { return c.index; });
    if (cfg.create_table && (!missing.empty() || any_index)) {
        // ADD COLUMN without a default is instant, but waits for an ACCESS EXCLUSIVE lock that
        // would block every writer queued behind it: give up soon (pg_error; retried).
        std::vector<std::string> statements;
        for (const postgres_column* column : missing) {
            statements.push_back(add_statement(*column));
        }
        for (const postgres_column& column : cfg.columns) {
            if (column.index) {
                statements.push_back(
                    "CREATE INDEX IF NOT EXISTS " +
                    conn.quote_name(pg_promoted_index_name(cfg.table_name(), column.name)) +
                    " ON " + names.table + " (" + conn.quote_name(column.name) + ")");
            }
        }
        try {
            pg_exec_bounded(conn, statements);
        } catch (const pg_error& e) {
            if (e.connection_lost || !conn.ok()) {
                throw;
            }
            if (e.sqlstate == "55P03" || e.sqlstate == "40P01" || e.sqlstate == "57014") {
                throw;  // a lock not granted in time, a deadlock, a timeout: try again later
            }
            return "could not add the promoted columns of LOG_POSTGRES_COLUMNS or their indexes "
                   "(SQLSTATE " +
                   e.sqlstate + ": " + e.what() + ")";
        }
        if (!missing.empty()) {
            types = existing_types();
        }
    }
    for (const postgres_column& column : cfg.columns) {
        const std::string* type = type_of(types, column.name);
        if (type == nullptr) {
            return "the log table lacks the promoted column " + conn.quote_name(column.name) +
                   " of LOG_POSTGRES_COLUMNS";
        }
        if (*type != pg_column_type_sql(column.type)) {
            return "the log table's column " + conn.quote_name(column.name) + " is " + *type +
                   ", LOG_POSTGRES_COLUMNS says " + pg_column_type_sql(column.type) +
                   ": change the type in LOG_POSTGRES_COLUMNS, or the column (ALTER TABLE " +
                   names.table + " ALTER COLUMN " + conn.quote_name(column.name) + " TYPE " +
                   pg_column_type_sql(column.type) + ")";
        }
    }
    return {};
}

void pg_exec_bounded(pg_connection& conn, const std::vector<std::string>& statements) {
    conn.exec("BEGIN");
    try {
        conn.exec("SET LOCAL lock_timeout = '2s'");
        for (const auto& sql : statements) {
            conn.exec(sql);
        }
        conn.exec("COMMIT");
    } catch (const pg_error& e) {
        if (!e.connection_lost && conn.ok()) {
            try {
                conn.exec("ROLLBACK");
            } catch (const pg_error&) {  // the connection just died: nothing is open then
            }
        }
        throw;
    }
}

std::int64_t pg_epoch_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string pg_derived_name(const std::string& table, const std::string& suffix) {
    std::string name = table + "_" + suffix;
    if (name.size() <= pg_max_identifier) {
        return name;
    }
    const std::size_t keep = pg_max_identifier - suffix.size() - 10;
    return std::string(utf8::truncate(table, keep)) + "_" + hash_hex(table) + "_" + suffix;
}

std::string pg_notify_channel(const postgres_config& cfg) {
    return pg_derived_name(
        (cfg.schema.empty() ? std::string() : cfg.schema + ".") + cfg.table_name(), "new");
}

std::string pg_txid_default(int server_version) {
    return server_version >= 130000 ? "(pg_current_xact_id()::text::bigint)" : "txid_current()";
}

pg_schema_names pg_schema_names_for(pg_connection& conn, const postgres_config& cfg) {
    const std::string table = cfg.table_name();
    const std::string schema_prefix =
        cfg.schema.empty() ? std::string() : conn.quote_name(cfg.schema) + ".";
    pg_schema_names names;
    names.table = schema_prefix + conn.quote_name(table);
    names.batches = schema_prefix + conn.quote_name(pg_derived_name(table, "batches"));
    for (std::size_t shape = 0; shape < names.copy_sql.size(); ++shape) {
        std::string& sql = names.copy_sql[shape];
        sql = "COPY " + names.table + " (";
        const auto columns = copy_columns_for(copy_shape::of_index(shape));
        for (std::size_t i = 0; i < columns.size(); ++i) {
            sql += (i ? "," : "") + conn.quote_name(columns[i]);
        }
        for (const postgres_column& column : cfg.columns) {
            sql += "," + conn.quote_name(column.name);
        }
        sql += ") FROM STDIN";
    }
    return names;
}

void pg_create_schema(pg_connection& conn, const postgres_config& cfg,
                      const pg_schema_names& names) {
    if (cfg.create_table) {
        if (!cfg.schema.empty()) {
            conn.exec("CREATE SCHEMA IF NOT EXISTS " + conn.quote_name(cfg.schema));
        }
        const pg_result_ptr existing =
            conn.exec("SELECT to_regclass(" + conn.quote(names.table) + ") IS NULL");
        const bool new_table = std::string_view(PQgetvalue(existing.get(), 0, 0)) == "t";
        conn.exec("CREATE TABLE IF NOT EXISTS " + names.table + " (id BIGSERIAL" +
                  std::string(cfg.partition == postgres_partition::none ? " PRIMARY KEY" : "") +
                  ","
                  " timestamp TIMESTAMPTZ NOT NULL,"
                  " level TEXT NOT NULL CHECK (level IN"
                  " ('TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL')),"
                  " logger_name TEXT NOT NULL,"
                  " process_id INTEGER, thread_id BIGINT, thread_name TEXT, hostname TEXT,"
                  " message TEXT NOT NULL, exception TEXT,"
                  " function_name TEXT, module TEXT, filename TEXT, lineno INTEGER,"
                  " pathname TEXT, extra_data JSONB,"
                  " created_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
                  " txid BIGINT DEFAULT " +
                  pg_txid_default(conn.server_version()) + promoted_column_definitions(conn, cfg) +
                  pg_table_tail(cfg));
        create_indexes(conn, cfg, names, new_table);  // on a partitioned table: on each partition
        if (new_table && cfg.partition != postgres_partition::none) {
            pg_create_initial_partitions(conn, cfg, names, pg_epoch_seconds());
        }
    }
    conn.exec("CREATE TABLE IF NOT EXISTS " + names.batches +
              " (batch_id TEXT PRIMARY KEY, row_count INTEGER NOT NULL,"
              " committed_at TIMESTAMPTZ NOT NULL DEFAULT now())");
}

std::string pg_ensure_txid_column(pg_connection& conn, const postgres_config& cfg,
                                  const pg_schema_names& names) {
    const std::string schema_expr =
        cfg.schema.empty() ? "current_schema()" : conn.quote(cfg.schema);
    const pg_result_ptr found = conn.exec(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = " + schema_expr +
        " AND table_name = " + conn.quote(cfg.table_name()) + " AND column_name = 'txid'");
    if (PQntuples(found.get()) > 0) {
        return {};
    }
    if (!cfg.create_table) {
        return "the log table lacks the txid column that postgres_log_store::tail needs and "
               "create_table is off (LOG_POSTGRES_CREATE_TABLE): run ALTER TABLE " +
               names.table + " ADD COLUMN txid BIGINT, ALTER COLUMN txid SET DEFAULT " +
               pg_txid_default(conn.server_version());
    }
    try {
        // ADD COLUMN with this (volatile) default would rewrite the table; added plain and
        // given its default afterwards, both steps are instant. Old rows keep NULL and are
        // never tailed (they are history, which query() shows).
        pg_exec_bounded(conn,
                        {"ALTER TABLE " + names.table + " ADD COLUMN IF NOT EXISTS txid BIGINT",
                         "ALTER TABLE " + names.table + " ALTER COLUMN txid SET DEFAULT " +
                             pg_txid_default(conn.server_version())});
        return {};
    } catch (const pg_error& e) {
        if (e.connection_lost || !conn.ok()) {
            throw;
        }
        return std::string(
                   "could not add the txid column that postgres_log_store::tail needs "
                   "(SQLSTATE ") +
               e.sqlstate + ": " + e.what() + "); the sink writes on without it";
    }
}

// An existing table of another shape is used only if it has every column we write.
std::string pg_schema_problem(pg_connection& conn, const postgres_config& cfg,
                              const std::string& display_table) {
    const std::string schema_expr =
        cfg.schema.empty() ? "current_schema()" : conn.quote(cfg.schema);
    const pg_result_ptr rows = conn.exec(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = " + schema_expr +
        " AND table_name = " + conn.quote(cfg.table_name()));
    const int n = PQntuples(rows.get());
    if (n == 0) {
        return "table " + display_table +
               " does not exist and create_table is off "
               "(LOG_POSTGRES_CREATE_TABLE): create it or turn create_table on";
    }
    std::string missing;
    for (const char* column : copy_columns) {
        bool found = false;
        for (int i = 0; i < n && !found; ++i) {
            found = std::string_view(PQgetvalue(rows.get(), i, 0)) == column;
        }
        if (!found) {
            missing += missing.empty() ? "" : ", ";
            missing += column;
        }
    }
    if (!missing.empty()) {
        return "table " + display_table + " exists but lacks column(s) " + missing +
               ": use another table (LOG_POSTGRES_TABLE_PREFIX) or add them";
    }
    return {};
}

std::uint64_t pg_delete_in_chunks(pg_connection& conn, const std::string& table,
                                  const std::string& condition, std::size_t chunk_rows) {
    std::uint64_t total = 0;
    for (int round = 0; round < 100; ++round) {
        const pg_result_ptr r =
            conn.exec("DELETE FROM " + table + " WHERE ctid IN (SELECT ctid FROM " + table +
                      " WHERE " + condition + " LIMIT " + std::to_string(chunk_rows) + ")");
        const auto deleted = std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
        total += deleted;
        if (deleted < chunk_rows) {
            break;
        }
    }
    return total;
}

}  // namespace spdlog_ext::detail
