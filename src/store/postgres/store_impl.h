// Internal: postgres_log_store's state, shared by the files that implement its methods
// (postgres_log_store.cpp: query/count/stats/cleanup, store_tail.cpp: tail, store_levels.cpp:
// levels). One lazily made connection, serialised by `mutex`; errors become store_error with the
// connection's secrets masked.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_pqxx.h"

namespace spdlog_ext {

struct postgres_log_store::impl {
    postgres_config cfg;
    std::string conninfo;              // resolved like the sink's (LOG_POSTGRES_URL, PG*, ...)
    std::vector<std::string> secrets;  // masked in every message
    std::string table_display;         // schema.table as users named it, for messages

    std::mutex mutex;
    std::unique_ptr<pqxx::connection> conn;  // guarded by mutex; null until first use

    explicit impl(postgres_config config);

    // Names quoted for SQL (schema-qualified when a schema is set): the log table and
    // <table>_<suffix> (pg_derived_name), e.g. derived("levels").
    std::string table_sql() const;
    std::string derived_sql(const std::string& suffix) const;

    // Runs fn(connection) under the mutex, connecting first when needed. Any exception becomes a
    // store_error (see rethrow); a broken connection is dropped so that the next call reconnects.
    template <typename Fn>
    auto with_connection(const char* doing, Fn&& fn) -> decltype(fn(std::declval<pqxx::connection&>())) {
        std::lock_guard<std::mutex> lock(mutex);
        try {
            if (!conn) conn = detail::store::connect(conninfo);
            return fn(*conn);
        } catch (...) {
            rethrow(doing, conn);
        }
    }

    // Maps the exception in flight to store_error: broken_connection → connection (and resets
    // `connection`), 42P01/42703 → missing_table naming the table, store_error as is, other SQL
    // errors → server. `doing` starts the message ("query: ...").
    [[noreturn]] void rethrow(const char* doing, std::unique_ptr<pqxx::connection>& connection) const;
    std::string mask(std::string text) const;
};

}  // namespace spdlog_ext
