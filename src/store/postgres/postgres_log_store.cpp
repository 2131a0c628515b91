// postgres_log_store: construction, query, count, stats, cleanup. tail() is in store_tail.cpp,
// the levels in store_levels.cpp; the shared state in store_impl.h.
#include "spdlog_ext/postgres_log_store.h"

#include <algorithm>
#include <charconv>

#include "spdlog_ext/json_formatter.h"
#include "store/postgres/store_cursor.h"
#include "store/postgres/store_impl.h"
#include "store/postgres/store_rows.h"
#include "store/postgres/store_sql.h"

namespace spdlog_ext {

namespace store = detail::store;

namespace {

std::uint64_t to_count(const pqxx::field& f) {
    const std::string text = store::text(f).value_or("0");
    std::uint64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

std::uint64_t json_count(const nlohmann::json& j) {
    return j.is_number_unsigned() || j.is_number_integer() ? j.get<std::uint64_t>() : 0;
}

std::string time_json(log_time t) {
    return format_rfc3339(std::chrono::time_point_cast<spdlog::log_clock::duration>(t),
                          json_time_zone::utc);
}

std::string level_json(spdlog::level::level_enum level) {
    const auto name = spdlog::level::to_string_view(level);
    return std::string(name.data(), name.size());
}

constexpr std::chrono::seconds max_stats_window = std::chrono::hours(24 * 366);
constexpr std::size_t max_stats_buckets = 10000;
constexpr std::size_t max_top_n = 1000;

}  // namespace

postgres_log_store::postgres_log_store(postgres_config config)
    : impl_(std::make_unique<impl>(std::move(config))) {}

postgres_log_store postgres_log_store::from_env() {
    return postgres_log_store(postgres_config::from_env());
}

postgres_log_store::postgres_log_store(postgres_log_store&&) noexcept = default;
postgres_log_store& postgres_log_store::operator=(postgres_log_store&&) noexcept = default;
postgres_log_store::~postgres_log_store() = default;

const postgres_config& postgres_log_store::config() const {
    return impl_->cfg;
}

// Keyset pagination: the next page starts strictly after the last row's key, so rows inserted
// meanwhile (larger ids, and in practice newer timestamps) never shift it; one row more than
// asked says whether there is a next page.
log_page postgres_log_store::query(const page_request& request) {
    if (request.limit < 1 || request.limit > max_page_rows) {
        throw store_error(store_error::kind::bad_filter,
                          "query: limit must be 1.." + std::to_string(max_page_rows) + ", not " +
                              std::to_string(request.limit));
    }
    store::sql_params params;
    std::string where = store::filter_sql(request.filter, params, impl_->cfg.columns);
    const std::string fingerprint = store::filter_fingerprint(request.filter);
    if (!request.cursor.empty()) {
        const auto c = store::decode_page_cursor(request.cursor, request.order, fingerprint);
        params.emplace_back(std::to_string(c.id));
        const std::string id_param = "$" + std::to_string(params.size()) + "::int8";
        if (request.order == log_order::id) {
            where += " AND id < " + id_param;
        } else {
            params.emplace_back(store::format_timestamp(c.timestamp));
            const std::string ts_param = "$" + std::to_string(params.size()) + "::timestamptz";
            // The plain bound lets an index on timestamp start at the cursor.
            where += " AND timestamp <= " + ts_param + " AND (timestamp, id) < (" + ts_param +
                     ", " + id_param + ")";
        }
    }
    const std::string limit = " LIMIT " + std::to_string(request.limit + 1);
    std::string sql;
    if (request.order == log_order::id) {
        sql = "SELECT " + store::select_columns(impl_->cfg.columns) + " FROM " +
              impl_->table_sql() + " WHERE " + where + " ORDER BY id DESC" + limit;
    } else if (impl_->cfg.indexes == postgres_indexes::none ||
               store::effective_levels(request.filter).empty()) {  // min_level off: no rows
        sql = "SELECT " + store::select_columns(impl_->cfg.columns) + " FROM " +
              impl_->table_sql() + " WHERE " + where + " ORDER BY timestamp DESC, id DESC" + limit;
    } else {
        // The presets have no B-tree on timestamp alone, but one on (level, timestamp): the
        // newest rows of each level come from it in order, and the page is the newest of those
        // (a sort of the whole table otherwise: seconds on a million rows).
        std::string branches;
        for (const auto level : store::effective_levels(request.filter)) {
            branches += std::string(branches.empty() ? "" : " UNION ALL ") + "(SELECT * FROM " +
                        impl_->table_sql() + " WHERE level = '" + store::level_name(level) +
                        "' AND " + where + " ORDER BY timestamp DESC, id DESC" + limit + ")";
        }
        sql = "SELECT " + store::select_columns(impl_->cfg.columns) + " FROM (" + branches +
              ") page ORDER BY timestamp DESC, id DESC" + limit;
    }
    return impl_->with_connection("query", [&](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        const pqxx::result result = store::exec(tx, sql, params);
        log_page page;
        // result::size_type is unsigned in libpqxx 6 and int in 7: one conversion, here.
        const auto rows = static_cast<std::size_t>(result.size());
        const std::size_t n = std::min(rows, request.limit);
        page.rows.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            page.rows.push_back(store::row_from(result[static_cast<int>(i)]));
        }
        if (rows > request.limit && !page.rows.empty()) {
            store::page_cursor next;
            next.order = request.order;
            next.id = page.rows.back().id;
            next.timestamp = page.rows.back().timestamp;
            next.filter = fingerprint;
            page.next_cursor = store::encode_page_cursor(next);
        }
        return page;
    });
}

std::uint64_t postgres_log_store::count(const log_filter& filter) {
    store::sql_params params;
    const std::string sql = "SELECT count(*) FROM " + impl_->table_sql() + " WHERE " +
                            store::filter_sql(filter, params, impl_->cfg.columns);
    return impl_->with_connection("count", [&](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        return to_count(store::exec(tx, sql, params)[0][0]);
    });
}

// One statement: the window's rows read once (through the BRIN on timestamp), every aggregate
// from that pass; empty buckets are filled in here.
log_stats postgres_log_store::stats(std::chrono::seconds window, std::chrono::seconds bucket,
                                    std::size_t top_n) {
    if (window < std::chrono::seconds(1) || window > max_stats_window) {
        throw store_error(store_error::kind::bad_filter,
                          "stats: the window must be 1 s .. 366 days, not " +
                              std::to_string(window.count()) + " s");
    }
    if (bucket < std::chrono::seconds(1) || bucket > window) {
        throw store_error(store_error::kind::bad_filter,
                          "stats: the bucket must be 1 s .. the window, not " +
                              std::to_string(bucket.count()) + " s");
    }
    const auto buckets =
        static_cast<std::size_t>((window.count() + bucket.count() - 1) / bucket.count());
    if (buckets > max_stats_buckets) {
        throw store_error(store_error::kind::bad_filter,
                          "stats: " + std::to_string(buckets) + " buckets; at most " +
                              std::to_string(max_stats_buckets) + " (use a larger bucket)");
    }
    if (top_n > max_top_n) {
        throw store_error(store_error::kind::bad_filter,
                          "stats: top_n must be 0.." + std::to_string(max_top_n));
    }
    log_stats out;
    out.to =
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
    out.from = out.to - window;
    out.bucket = bucket;
    const store::sql_params params = {store::format_timestamp(out.from),
                                      store::format_timestamp(out.to), std::to_string(top_n),
                                      std::to_string(bucket.count())};
    // One pass over the window (GROUPING SETS, hashed): no materialized copy of the window and
    // no sort of its rows, which on a 24 h window of a busy table cost seconds. GROUPING(...) = k
    // tells the sets apart: 7 (level), 11 (logger_name), 13 (hostname), 6 (bucket, level).
    const std::string sql =
        "WITH g AS (SELECT GROUPING(level, logger_name, hostname, b) k, level, logger_name, "
        "hostname, b, count(*) n FROM (SELECT level, logger_name, coalesce(hostname, '') hostname,"
        " floor(extract(epoch FROM (timestamp - $1::timestamptz)) / $4::int8)::int8 b FROM " +
        impl_->table_sql() +
        " WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz) w"
        " GROUP BY GROUPING SETS ((level), (logger_name), (hostname), (b, level))) "
        "SELECT json_build_object("
        "'by_level', (SELECT coalesce(json_object_agg(level, n), '{}') FROM g WHERE k = 7),"
        "'by_logger', (SELECT coalesce(json_agg(json_build_array(logger_name, n) ORDER BY n DESC, "
        "logger_name), '[]') FROM (SELECT logger_name, n FROM g WHERE k = 11 "
        "ORDER BY n DESC, logger_name LIMIT $3::int8) s),"
        "'loggers', (SELECT count(*) FROM g WHERE k = 11),"
        "'by_host', (SELECT coalesce(json_agg(json_build_array(hostname, n) ORDER BY n DESC, "
        "hostname), '[]') FROM (SELECT hostname, n FROM g WHERE k = 13 "
        "ORDER BY n DESC, hostname LIMIT $3::int8) s),"
        "'buckets', (SELECT coalesce(json_agg(json_build_array(b, n, e) ORDER BY b), '[]') FROM"
        " (SELECT b, sum(n) n, coalesce(sum(n) FILTER (WHERE level IN ('ERROR', 'CRITICAL')), 0) e"
        " FROM g WHERE k = 6 GROUP BY b) s))::text";
    const std::string text = impl_->with_connection("stats", [&](pqxx::connection& conn) {
        pqxx::nontransaction tx(conn);
        return store::text(store::exec(tx, sql, params)[0][0]).value_or("{}");
    });
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw store_error(store_error::kind::server, "stats: unexpected result from the server");
    }
    for (auto it = j["by_level"].begin(); it != j["by_level"].end(); ++it) {
        if (const auto level = store::level_from_name(it.key())) {
            out.by_level[*level] = json_count(it.value());
            out.total += json_count(it.value());
            if (*level >= spdlog::level::err)
                out.errors += json_count(it.value());
        }
    }
    out.error_rate =
        out.total ? static_cast<double>(out.errors) / static_cast<double>(out.total) : 0.0;
    out.loggers = json_count(j["loggers"]);
    for (const auto& pair : j["by_logger"]) {
        out.by_logger.emplace_back(pair[0].get<std::string>(), json_count(pair[1]));
    }
    for (const auto& pair : j["by_host"]) {
        out.by_host.emplace_back(pair[0].get<std::string>(), json_count(pair[1]));
    }
    out.buckets.resize(buckets);
    for (std::size_t i = 0; i < buckets; ++i)
        out.buckets[i].start = out.from + bucket * static_cast<long>(i);
    for (const auto& b : j["buckets"]) {
        const auto index = b[0].get<std::int64_t>();
        if (index < 0 || static_cast<std::size_t>(index) >= buckets)
            continue;  // cannot happen
        out.buckets[static_cast<std::size_t>(index)].count = json_count(b[1]);
        out.buckets[static_cast<std::size_t>(index)].errors = json_count(b[2]);
    }
    return out;
}

// Like the sink's retention: bounded DELETEs (short locks, never TRUNCATE, which would take an
// ACCESS EXCLUSIVE lock and stall every writer), each its own transaction, until one is short.
// The statement has the shape of pg_delete_in_chunks (src/sinks/postgres/postgres_ddl.cpp).
cleanup_result postgres_log_store::cleanup(int keep_days, bool dry_run) {
    if (keep_days < 0) {
        throw store_error(store_error::kind::bad_filter,
                          "cleanup: keep_days must be >= 0 (0 removes every row), not " +
                              std::to_string(keep_days));
    }
    store::sql_params params;
    std::string condition = "TRUE";
    if (keep_days > 0) {
        params.emplace_back(std::to_string(keep_days));
        condition = "timestamp < now() - make_interval(days => $1::int)";
    }
    const std::string table = impl_->table_sql();
    cleanup_result result;
    result.dry_run = dry_run;
    if (dry_run) {
        result.rows = impl_->with_connection("cleanup", [&](pqxx::connection& conn) {
            pqxx::nontransaction tx(conn);
            return to_count(store::exec(tx, "SELECT count(*) FROM " + table + " WHERE " + condition,
                                        params)[0][0]);
        });
        return result;
    }
    const std::size_t chunk = impl_->cfg.retention_chunk_rows;
    // (tableoid, ctid): on a partitioned table (LOG_POSTGRES_PARTITION) a ctid is unique only
    // within its partition. The chunked DELETE is kept there too (the sink's retention drops
    // whole partitions instead).
    const std::string sql = "DELETE FROM " + table +
                            " WHERE (tableoid, ctid) IN (SELECT tableoid, ctid FROM " + table +
                            " WHERE " + condition + " LIMIT " + std::to_string(chunk) + ")";
    for (;;) {
        const auto deleted = impl_->with_connection("cleanup", [&](pqxx::connection& conn) {
            pqxx::work tx(conn);
            const pqxx::result r = store::exec(tx, sql, params);
            tx.commit();
            return static_cast<std::uint64_t>(r.affected_rows());
        });
        result.rows += deleted;
        if (deleted < chunk)
            break;
    }
    return result;
}

nlohmann::json log_row::to_json() const {
    nlohmann::json j = {{"id", id},
                        {"timestamp", time_json(timestamp)},
                        {"level", level_json(level)},
                        {"logger", logger},
                        {"message", message}};
    if (thread_id)
        j["thread_id"] = *thread_id;
    if (thread_name)
        j["thread_name"] = *thread_name;
    if (process_id)
        j["pid"] = *process_id;
    if (hostname)
        j["host"] = *hostname;
    if (filename || lineno || function_name) {
        j["source"] = {{"file", filename.value_or("")},
                       {"line", lineno.value_or(0)},
                       {"function", function_name.value_or("")}};
    }
    if (exception)
        j["exception"] = *exception;
    if (extra.is_object() ? !extra.empty() : !extra.is_null())
        j["fields"] = extra;
    return j;
}

nlohmann::json log_stats::to_json() const {
    nlohmann::json levels = nlohmann::json::object();
    for (const auto& [level, n] : by_level)
        levels[level_json(level)] = n;
    const auto named = [](const std::vector<std::pair<std::string, std::uint64_t>>& list) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& entry : list)
            out.push_back({{"name", entry.first}, {"count", entry.second}});
        return out;
    };
    nlohmann::json series = nlohmann::json::array();
    for (const auto& b : buckets) {
        series.push_back({{"start", time_json(b.start)}, {"count", b.count}, {"errors", b.errors}});
    }
    return {{"from", time_json(from)},
            {"to", time_json(to)},
            {"bucket_seconds", bucket.count()},
            {"total", total},
            {"errors", errors},
            {"error_rate", error_rate},
            {"by_level", levels},
            {"loggers", loggers},
            {"by_logger", named(by_logger)},
            {"by_host", named(by_host)},
            {"buckets", series}};
}

}  // namespace spdlog_ext
