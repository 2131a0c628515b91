// postgres_log_store: the read-and-control side of the PostgreSQL log table (on libpqxx).
//
//   auto store = spdlog_ext::postgres_log_store::from_env();   // LOG_POSTGRES_*, like the sink
//   spdlog_ext::page_request req;
//   req.filter.min_level = spdlog::level::warn;
//   for (auto page = store.query(req);; page = store.query(req)) {
//       for (const auto& row : page.rows) use(row);
//       if (page.next_cursor.empty()) break;
//       req.cursor = page.next_cursor;                       // keyset: stable under inserts
//   }
//
// Every value of a filter travels as a query parameter, never inside the SQL text. Errors are
// store_error (kind() says which: a bad cursor, a missing table, the server down, ...). The store
// never creates the log table; it reads what postgres_batch_sink writes. One connection per
// object, made on first use and remade after it breaks; methods are thread-safe (serialised);
// tail() uses a connection of its own. Manual: docs/log-store.md.
#pragma once

#include <spdlog/common.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "spdlog_ext/runtime_levels.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext {

// Timestamps as the table stores them: microseconds since the Unix epoch, UTC.
using log_time = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

class store_error : public std::runtime_error {
  public:
    enum class kind {
        config,          // settings that cannot work (names, limits)
        connection,      // cannot connect, or the connection was lost
        missing_table,   // the log table (or a column the call needs) does not exist
        bad_cursor,      // a page or tail cursor that is malformed or made for other filters
        bad_filter,      // a filter or argument out of range (limit, window, keep_days, ...)
        bad_level_spec,  // a level spec that does not parse ("info,db=debug" syntax)
        server,          // any other error the server reported
    };
    store_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
    kind what_kind() const noexcept { return kind_; }

  private:
    kind kind_;
};

// Which rows: every set member narrows the result (AND); an empty member does not filter.
struct log_filter {
    std::optional<log_time> since;  // timestamp >= since
    std::optional<log_time> until;  // timestamp <  until
    std::optional<spdlog::level::level_enum> min_level;
    std::vector<spdlog::level::level_enum> levels;  // an exact set; wins over min_level
    // Logger names: exact, or a prefix written "db.*" (matches "db.pool", "db.x.y").
    std::vector<std::string> loggers;
    std::vector<std::string> hosts;  // hostname, exact
    std::string search;  // case-insensitive substring of message or exception (no wildcards)
    // Each a JSON object that extra_data must contain (jsonb @>), e.g. {"user_id": 7}.
    std::vector<nlohmann::json> fields;
    std::optional<bool> has_exception;
};

// One stored record, typed. Optional columns are empty when the row holds NULL.
struct log_row {
    std::int64_t id = 0;
    log_time timestamp{};
    spdlog::level::level_enum level = spdlog::level::info;
    std::string logger;
    std::string message;
    std::optional<std::string> exception;
    std::optional<std::string> hostname;
    std::optional<std::int64_t> process_id;
    std::optional<std::int64_t> thread_id;
    std::optional<std::string> thread_name;
    std::optional<std::string> filename;  // source file (pathname column)
    std::optional<std::int64_t> lineno;
    std::optional<std::string> function_name;
    nlohmann::json extra = nlohmann::json::object();  // extra_data ({} when NULL)

    // The keys of spdlog_ext::json_formatter plus "id": timestamp, level, logger, message, ...
    nlohmann::json to_json() const;
};

enum class log_order {
    id,    // newest stored first (id DESC): the primary key, fast on any table
    time,  // newest timestamp first (timestamp DESC, id DESC)
};

struct page_request {
    log_filter filter;
    std::size_t limit = 100;  // 1 .. max_page_rows, else store_error(bad_filter)
    std::string cursor;       // from a previous page's next_cursor; empty: the first page
    log_order order = log_order::id;
};
inline constexpr std::size_t max_page_rows = 1000;

struct log_page {
    std::vector<log_row> rows;
    std::string next_cursor;  // empty: no more rows
};

struct log_stats {
    log_time from{}, to{};
    std::chrono::seconds bucket{};
    std::uint64_t total = 0;
    std::uint64_t errors = 0;  // error + critical
    double error_rate = 0;     // errors / total (0 when total is 0)
    std::map<spdlog::level::level_enum, std::uint64_t> by_level;
    std::uint64_t loggers = 0;  // distinct logger names in the window
    std::vector<std::pair<std::string, std::uint64_t>> by_logger;  // top N, most first
    std::vector<std::pair<std::string, std::uint64_t>> by_host;    // top N, most first
    struct bucket_count {
        log_time start{};
        std::uint64_t count = 0;
        std::uint64_t errors = 0;
    };
    std::vector<bucket_count> buckets;  // every bucket of the window, empty ones included

    nlohmann::json to_json() const;
};

struct cleanup_result {
    std::uint64_t rows = 0;  // deleted, or (dry run) that would be deleted
    bool dry_run = false;
};

struct tail_options {
    log_filter filter;
    std::string resume;  // a cursor handed to on_rows earlier; empty: from now on
    bool use_notify = true;  // LISTEN for the sink's NOTIFY; false: poll only
    std::chrono::milliseconds poll_interval{1000};  // the safety net (or the polling period)
    std::size_t max_rows_per_fetch = 1000;
};

// What the tail hands over: rows in commit order (each transaction's rows together), and the
// cursor to resume right after them (nothing missed, nothing repeated).
using tail_callback =
    std::function<void(const std::vector<log_row>& rows, const std::string& resume_cursor)>;

class postgres_log_store {
  public:
    // Validates (store_error kind config); does not connect.
    explicit postgres_log_store(postgres_config config);
    // postgres_config::from_env(): LOG_POSTGRES_URL, DATABASE_URL, PG*, LOG_POSTGRES_SCHEMA, ...
    static postgres_log_store from_env();
    postgres_log_store(postgres_log_store&&) noexcept;
    postgres_log_store& operator=(postgres_log_store&&) noexcept;
    ~postgres_log_store();

    log_page query(const page_request& request);
    std::uint64_t count(const log_filter& filter);
    // Over [now - window, now) in buckets of `bucket`; top_n loggers and hosts.
    log_stats stats(std::chrono::seconds window = std::chrono::hours(24),
                    std::chrono::seconds bucket = std::chrono::hours(1), std::size_t top_n = 10);
    // Deletes rows older than keep_days (0: every row) in bounded chunks; dry_run only counts.
    cleanup_result cleanup(int keep_days, bool dry_run = false);

    // Follows new rows until keep_going() returns false (asked at least every poll_interval).
    // Reconnects by itself after the server goes away; throws store_error for what retrying
    // cannot fix (missing table, bad cursor) and rethrows what on_rows throws.
    void tail(const tail_options& options, const tail_callback& on_rows,
              const std::function<bool()>& keep_going);

    // Runtime levels in <table>_levels (see spdlog_ext/runtime_levels.h). get: the spec that
    // applies to (service, host) — the most specific row — or "" when none. set: validates the
    // spec first (store_error bad_level_spec), stores it and notifies the watchers.
    std::string get_levels(const std::string& service = "", const std::string& host = "");
    void set_levels(const std::string& spec, const std::string& service = "",
                    const std::string& host = "");

    const postgres_config& config() const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

// A level watcher (spdlog_ext/runtime_levels.h) over config's <table>_levels table (created when
// missing and config.create_table), plus options.file when set (the table wins when it has a
// row for this service and host). Its own connection, on its own thread: it never connects from
// here, and a database that is down keeps the current levels. Throws store_error(config) for
// settings that cannot work. LOG_POSTGRES_LEVELS=true does the same from the environment.
std::unique_ptr<level_watcher> start_postgres_level_watcher(const postgres_config& config,
                                                            level_watcher_options options = {});

}  // namespace spdlog_ext
