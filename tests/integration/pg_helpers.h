// Helpers for the PostgreSQL integration tests: a pqxx connection to the throwaway server,
// queries whose rows come back as strings, table cleanup, and the services script
// (pg-stop-immediate / pg-start) for outage tests.
//
// Only libpqxx APIs present in both 6.4 and 7.x are used, and none that 7.x deprecates.
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>

#include "integration/service_env.h"

namespace pg_test {

// The server's URL (fails the test, never skips it, when the services env is missing).
inline std::string url() {
    return spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_URL");
}

// A SQL identifier, double-quoted ("" inside).
inline std::string quote_ident(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

// A SQL string literal (standard_conforming_strings is on: only ' needs doubling).
inline std::string quote_literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        out += c;
        if (c == '\'') {
            out += '\'';
        }
    }
    return out + "'";
}

// [schema.]table, each part quoted.
inline std::string qualified(const std::string& schema, const std::string& table) {
    return schema.empty() ? quote_ident(table) : quote_ident(schema) + "." + quote_ident(table);
}

using cell = std::optional<std::string>;  // nullopt: SQL NULL
using row = std::vector<cell>;
using rows = std::vector<row>;

// Runs `sql` (one or more statements, no parameters) in its own connection, autocommit, and
// returns the rows of the last statement as text.
inline rows query(const std::string& sql) {
    pqxx::connection connection(url());
    pqxx::nontransaction tx(connection);
    const pqxx::result result = tx.exec(sql);
    rows out;
    for (const auto& r : result) {
        row values;
        for (const auto& f : r) {
            if (f.is_null()) {
                values.emplace_back(std::nullopt);
            } else {
                values.emplace_back(std::string(f.c_str(), f.size()));
            }
        }
        out.push_back(std::move(values));
    }
    return out;
}

inline void exec(const std::string& sql) {
    (void)query(sql);
}

// The single value of a one-row, one-column query ("NULL" for SQL NULL).
inline std::string scalar(const std::string& sql) {
    const rows r = query(sql);
    if (r.size() != 1 || r[0].size() != 1) {
        throw std::runtime_error("expected one value from: " + sql + " (got " +
                                 std::to_string(r.size()) + " rows)");
    }
    return r[0][0] ? *r[0][0] : std::string("NULL");
}

inline long long count(const std::string& sql_from_where) {
    return std::stoll(scalar("SELECT count(*) FROM " + sql_from_where));
}

// True when a relation (table) of that exact name exists in the schema (any schema if empty).
inline bool relation_exists(const std::string& name, const std::string& schema = {}) {
    std::string sql =
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = " +
        quote_literal(name);
    if (!schema.empty()) {
        sql += " AND n.nspname = " + quote_literal(schema);
    }
    return std::stoll(scalar(sql)) > 0;
}

// Drops every table whose name starts with `prefix` (any schema). Never throws: used in
// destructors, possibly while the server is down.
inline void drop_tables_with_prefix(const std::string& prefix) noexcept {
    try {
        const rows names = query(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
            "left(c.relname, length(" +
            quote_literal(prefix) + ")) = " + quote_literal(prefix));
        for (const auto& r : names) {
            if (!r.empty() && r[0]) {
                exec("DROP TABLE IF EXISTS " + *r[0] + " CASCADE");
            }
        }
    } catch (...) {
    }
}

inline void drop_schema(const std::string& schema) noexcept {
    try {
        exec("DROP SCHEMA IF EXISTS " + quote_ident(schema) + " CASCADE");
    } catch (...) {
    }
}

// Drops the tables (and schemas) of a test at scope exit, and before it starts.
struct table_cleanup {
    std::vector<std::string> prefixes;
    std::vector<std::string> schemas;

    explicit table_cleanup(std::vector<std::string> table_prefixes,
                           std::vector<std::string> schema_names = {})
        : prefixes(std::move(table_prefixes)), schemas(std::move(schema_names)) {
        run();
    }
    ~table_cleanup() { run(); }
    table_cleanup(const table_cleanup&) = delete;
    table_cleanup& operator=(const table_cleanup&) = delete;

    void run() noexcept {
        for (const auto& p : prefixes) {
            drop_tables_with_prefix(p);
        }
        for (const auto& s : schemas) {
            drop_schema(s);
        }
    }
};

// True when a new connection succeeds within `limit`.
inline bool wait_ready(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            pqxx::connection connection(url());
            if (connection.is_open()) {
                return true;
            }
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

using spdlog_ext_test::services;

// Restarts PostgreSQL when it leaves scope (after a test that kills it, even when an assertion
// failed half-way), and waits until it accepts connections again.
struct server_restart_guard {
    server_restart_guard() = default;
    ~server_restart_guard() {
        try {
            if (services("pg-start") != 0) {
                (void)services("pg-start");
            }
            (void)wait_ready(std::chrono::seconds(30));
        } catch (...) {
        }
    }
    server_restart_guard(const server_restart_guard&) = delete;
    server_restart_guard& operator=(const server_restart_guard&) = delete;
};

}  // namespace pg_test
