#include "sinks/postgres/postgres_backend.h"

#include <spdlog/details/os.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <string_view>
#include <tuple>

#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/json_formatter.h"

namespace spdlog_ext::detail {

namespace {

constexpr std::size_t max_identifier = 63;  // PostgreSQL's NAMEDATALEN - 1

// Columns written by COPY, in this order; `id` and `created_at` are filled by the server.
constexpr std::array<const char*, 15> copy_columns = {
    "timestamp", "level",     "logger_name", "process_id", "thread_id",
    "thread_name", "hostname", "message",     "exception",  "function_name",
    "module",    "filename",  "lineno",      "pathname",   "extra_data"};

const char* level_name(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
            return "TRACE";
        case spdlog::level::debug:
            return "DEBUG";
        case spdlog::level::info:
            return "INFO";
        case spdlog::level::warn:
            return "WARNING";
        case spdlog::level::err:
            return "ERROR";
        default:
            return "CRITICAL";
    }
}

// A name derived from the table's, shortened with a stable hash when it would pass 63 bytes
// (PostgreSQL would silently truncate it, and two indexes could collide).
std::string derived_name(const std::string& table, const std::string& suffix) {
    std::string name = table + "_" + suffix;
    if (name.size() <= max_identifier) {
        return name;
    }
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (unsigned char c : table) {
        hash = (hash ^ c) * 16777619u;
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", hash);
    const std::size_t keep = max_identifier - suffix.size() - 10;
    return std::string(utf8::truncate(table, keep)) + "_" + hex + "_" + suffix;
}

// PostgreSQL text cannot hold NUL, and jsonb refuses \u0000: replace both, and repair UTF-8.
void sanitize_json(nlohmann::json& j) {
    if (j.is_string()) {
        utf8::sanitize_in_place(j.get_ref<std::string&>(), utf8::nul_policy::replace);
    } else if (j.is_array()) {
        for (auto& v : j) {
            sanitize_json(v);
        }
    } else if (j.is_object()) {
        nlohmann::json clean = nlohmann::json::object();
        for (auto& [key, value] : j.items()) {
            sanitize_json(value);
            clean[utf8::sanitize(key, utf8::nul_policy::replace)] = std::move(value);
        }
        j = std::move(clean);
    }
}

std::string clean_text(const std::string& s) {
    return utf8::sanitize(s, utf8::nul_policy::replace);
}

std::string base_name(const std::string& path) {
    const auto slash = path.find_last_of("/\\");
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string stem(const std::string& path) {
    std::string name = base_name(path);
    const auto dot = name.find_last_of('.');
    return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

// The first line of a libpq/libpqxx message (the rest repeats the query).
std::string first_line(const char* what) {
    std::string s(what);
    const auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
}

// A row's fields as COPY wants them: text, or a null pointer for NULL.
struct row_text {
    std::string timestamp, logger, thread_name, host, message, exception, function, module,
        filename, lineno, pathname, extra, pid, tid;
    bool has_thread_name = false, has_exception = false, has_source = false, has_extra = false;
};

void encode_row(const record& r, row_text& out) {
    out.timestamp = format_rfc3339(r.time, json_time_zone::utc);
    out.logger = clean_text(r.logger_name);
    out.pid = std::to_string(process_id());
    out.tid = std::to_string(r.thread_id);
    out.has_thread_name = !r.thread_name.empty();
    out.thread_name = out.has_thread_name ? clean_text(r.thread_name) : std::string();
    out.host = clean_text(host_name());
    out.message = clean_text(r.message);
    nlohmann::json extra;
    out.has_exception = false;
    if (r.fields.is_object() && !r.fields.empty()) {
        extra = r.fields;
        auto it = extra.find(exception_field);
        if (it != extra.end()) {
            out.exception = clean_text(it->is_string() ? it->get<std::string>() : it->dump());
            out.has_exception = true;
            extra.erase(it);
        }
    }
    out.has_extra = extra.is_object() && !extra.empty();
    if (out.has_extra) {
        sanitize_json(extra);
        out.extra = extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out.has_source = r.has_source();
    if (out.has_source) {
        out.function = clean_text(r.source_function);
        out.pathname = clean_text(r.source_file);
        out.filename = base_name(out.pathname);
        out.module = stem(out.pathname);
        out.lineno = std::to_string(r.source_line);
    }
}

std::string random_instance_id() {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                        static_cast<std::uint64_t>(spdlog::details::os::pid()));
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

// Data the server refuses (bad values, constraints, limits): bisect to isolate the culprits.
bool is_data_error(const std::string& sqlstate) {
    const std::string cls = sqlstate.substr(0, 2);
    return cls == "22" || cls == "23" || cls == "54";
}

class postgres_backend final : public backend {
public:
    postgres_backend(postgres_config cfg, std::string conninfo)
        : cfg_(std::move(cfg)),
          conninfo_(std::move(conninfo)),
          instance_(random_instance_id()),
          display_table_((cfg_.schema.empty() ? "" : cfg_.schema + ".") + cfg_.table_name()) {}

    batch_result write(record_span batch, const write_context& ctx) override {
        std::string error;
        if (!ensure_ready(error)) {
            return schema_error_ ? batch_result::with(batch_result::outcome::disable, error)
                                 : batch_result::retry(error);
        }
        const std::string batch_id = instance_ + "-" + std::to_string(ctx.batch_id);
        try {
            if (ctx.attempt > 0 && batch_committed(batch_id)) {
                return batch_result::delivered();  // an earlier try committed; its reply was lost
            }
            pqxx::work tx(*conn_);
            copy_rows(tx, batch);
            tx.exec0("INSERT INTO " + batches_ + " (batch_id, row_count) VALUES (" +
                     tx.quote(batch_id) + ", " + std::to_string(batch.size()) + ")");
            tx.commit();
            return batch_result::delivered();
        } catch (const pqxx::in_doubt_error& e) {
            drop_connection();
            return batch_result::retry(std::string("commit outcome unknown (connection lost): ") +
                                           first_line(e.what()),
                                       std::nullopt, true);
        } catch (const pqxx::broken_connection& e) {
            drop_connection();
            return batch_result::retry(std::string("connection lost: ") + first_line(e.what()),
                                       std::nullopt, true);
        } catch (const pqxx::sql_error& e) {
            const std::string state = e.sqlstate();
            if (is_data_error(state)) {
                return batch_result::with(batch_result::outcome::isolate,
                                          "PostgreSQL refused the data (SQLSTATE " + state +
                                              "): " + first_line(e.what()));
            }
            if (state == "42P01" || state == "42703" || state == "3F000") {
                schema_checked_ = false;  // table, column or schema gone: set up again
            }
            if (conn_ && !conn_->is_open()) {
                drop_connection();
            }
            return batch_result::retry("PostgreSQL error (SQLSTATE " + state +
                                       "): " + first_line(e.what()));
        } catch (const std::exception& e) {
            if (conn_ && !conn_->is_open()) {
                drop_connection();
            }
            return batch_result::retry(std::string("PostgreSQL: ") + first_line(e.what()),
                                       std::nullopt, true);
        }
    }

    void interrupt() noexcept override {
        std::lock_guard<std::mutex> lock(conn_mu_);
        try {
            if (conn_) {
                conn_->cancel_query();
            }
        } catch (...) {
        }
    }

    void housekeeping() override {
        const auto now = std::chrono::steady_clock::now();
        if (now - last_housekeeping_ < cfg_.retention_interval) {
            return;
        }
        last_housekeeping_ = now;
        std::string error;
        if (!ensure_ready(error)) {
            return;
        }
        try {
            if (cfg_.retention_days > 0) {
                retention_deleted_ += delete_in_chunks(
                    table_, "timestamp < now() - interval '" +
                                std::to_string(cfg_.retention_days) + " days'");
            }
            // Batch ids are only needed while a batch may be retried: keep a day of them.
            delete_in_chunks(batches_, "committed_at < now() - interval '1 day'");
        } catch (const pqxx::broken_connection&) {
            drop_connection();
        }
    }

    nlohmann::json extra_stats() const override {
        return nlohmann::json{{"connected", connected_.load()},
                              {"table", display_table_},
                              {"retention_deleted", retention_deleted_.load()}};
    }

private:
    bool ensure_ready(std::string& error) {
        if (schema_error_) {
            error = schema_message_;
            return false;
        }
        try {
            if (!conn_ || !conn_->is_open()) {
                auto fresh = std::make_unique<pqxx::connection>(conninfo_);
                std::lock_guard<std::mutex> lock(conn_mu_);
                conn_ = std::move(fresh);
                schema_checked_ = false;
            }
            if (!schema_checked_) {
                set_up_schema();
                schema_checked_ = true;
            }
            connected_ = true;
            return true;
        } catch (const pqxx::broken_connection& e) {
            drop_connection();
            error = std::string("cannot connect to PostgreSQL: ") + first_line(e.what());
        } catch (const std::exception& e) {
            if (schema_error_) {
                error = schema_message_;
            } else {
                error = std::string("PostgreSQL set-up failed: ") + first_line(e.what());
                if (conn_ && !conn_->is_open()) {
                    drop_connection();
                }
            }
        }
        return false;
    }

    void drop_connection() {
        std::lock_guard<std::mutex> lock(conn_mu_);
        conn_.reset();
        connected_ = false;
    }

    void set_up_schema() {
        pqxx::connection& c = *conn_;
        const std::string table = cfg_.table_name();
        const std::string schema_prefix =
            cfg_.schema.empty() ? std::string() : c.quote_name(cfg_.schema) + ".";
        table_ = schema_prefix + c.quote_name(table);
        batches_ = schema_prefix + c.quote_name(derived_name(table, "batches"));

        pqxx::work tx(c);
        if (cfg_.create_table) {
            if (!cfg_.schema.empty()) {
                tx.exec0("CREATE SCHEMA IF NOT EXISTS " + c.quote_name(cfg_.schema));
            }
            tx.exec0("CREATE TABLE IF NOT EXISTS " + table_ +
                     " (id BIGSERIAL PRIMARY KEY,"
                     " timestamp TIMESTAMPTZ NOT NULL,"
                     " level TEXT NOT NULL CHECK (level IN"
                     " ('TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL')),"
                     " logger_name TEXT NOT NULL,"
                     " process_id INTEGER, thread_id BIGINT, thread_name TEXT, hostname TEXT,"
                     " message TEXT NOT NULL, exception TEXT,"
                     " function_name TEXT, module TEXT, filename TEXT, lineno INTEGER,"
                     " pathname TEXT, extra_data JSONB,"
                     " created_at TIMESTAMPTZ NOT NULL DEFAULT now())");
            create_indexes(tx, table);
        }
        tx.exec0("CREATE TABLE IF NOT EXISTS " + batches_ +
                 " (batch_id TEXT PRIMARY KEY, row_count INTEGER NOT NULL,"
                 " committed_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        check_columns(tx, table);
        tx.commit();
    }

    void create_indexes(pqxx::work& tx, const std::string& table) {
        const auto index = [&](const std::string& suffix, const std::string& definition) {
            tx.exec0("CREATE INDEX IF NOT EXISTS " + tx.conn().quote_name(derived_name(table, suffix)) +
                     " ON " + table_ + " " + definition);
        };
        if (cfg_.indexes == postgres_indexes::none) {
            return;
        }
        index("timestamp_brin", "USING BRIN (timestamp)");
        index("level_timestamp", "(level, timestamp)");
        if (cfg_.indexes == postgres_indexes::minimal) {
            return;
        }
        index("logger_timestamp", "(logger_name, timestamp)");
        index("host_timestamp", "(hostname, timestamp)");
        if (cfg_.indexes == postgres_indexes::full) {
            index("extra_gin", "USING GIN (extra_data jsonb_path_ops)");
        }
    }

    // An existing table of another shape is used only if it has every column we write.
    void check_columns(pqxx::work& tx, const std::string& table) {
        const std::string schema_expr =
            cfg_.schema.empty() ? "current_schema()" : tx.quote(cfg_.schema);
        const pqxx::result rows =
            tx.exec("SELECT column_name FROM information_schema.columns WHERE table_schema = " +
                    schema_expr + " AND table_name = " + tx.quote(table));
        if (rows.empty()) {
            fail_schema("table " + display_table_ +
                        " does not exist and create_table is off "
                        "(LOG_POSTGRES_CREATE_TABLE): create it or turn create_table on");
        }
        std::string missing;
        for (const char* column : copy_columns) {
            bool found = false;
            for (const auto& row : rows) {
                if (row[0].as<std::string>() == column) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                missing += missing.empty() ? "" : ", ";
                missing += column;
            }
        }
        if (!missing.empty()) {
            fail_schema("table " + display_table_ + " exists but lacks column(s) " + missing +
                        ": use another table (LOG_POSTGRES_TABLE_PREFIX) or add them");
        }
    }

    [[noreturn]] void fail_schema(const std::string& message) {
        schema_error_ = true;
        schema_message_ = message;
        throw std::runtime_error(message);
    }

    bool batch_committed(const std::string& batch_id) {
        pqxx::nontransaction tx(*conn_);
        return !tx.exec("SELECT 1 FROM " + batches_ + " WHERE batch_id = " + tx.quote(batch_id))
                    .empty();
    }

    void copy_rows(pqxx::work& tx, record_span batch) {
        std::vector<std::string> columns(copy_columns.begin(), copy_columns.end());
#if PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 7)
        std::string column_list;
        for (const auto& c : columns) {
            column_list += column_list.empty() ? "" : ",";
            column_list += tx.conn().quote_name(c);
        }
        auto stream = pqxx::stream_to::raw_table(tx, table_, column_list);
#else
        pqxx::stream_to stream(tx, table_, columns);  // libpqxx < 7.7 takes the name as given
#endif
        row_text row;
        const auto text = [](bool present, const std::string& s) -> const char* {
            return present ? s.c_str() : nullptr;
        };
        for (const record& r : batch) {
            encode_row(r, row);
            stream << std::make_tuple(
                row.timestamp.c_str(), level_name(r.level), row.logger.c_str(), row.pid.c_str(),
                row.tid.c_str(), text(row.has_thread_name, row.thread_name), row.host.c_str(),
                row.message.c_str(), text(row.has_exception, row.exception),
                text(row.has_source, row.function), text(row.has_source, row.module),
                text(row.has_source, row.filename), text(row.has_source, row.lineno),
                text(row.has_source, row.pathname), text(row.has_extra, row.extra));
        }
        stream.complete();
    }

    // Deletes matching rows a chunk per transaction, so locks are held briefly; bounded per call.
    std::uint64_t delete_in_chunks(const std::string& table, const std::string& condition) {
        std::uint64_t total = 0;
        for (int round = 0; round < 100; ++round) {
            pqxx::work tx(*conn_);
            const pqxx::result r = tx.exec("DELETE FROM " + table + " WHERE ctid IN (SELECT ctid FROM " +
                                           table + " WHERE " + condition + " LIMIT " +
                                           std::to_string(cfg_.retention_chunk_rows) + ")");
            tx.commit();
            total += static_cast<std::uint64_t>(r.affected_rows());
            if (static_cast<std::size_t>(r.affected_rows()) < cfg_.retention_chunk_rows) {
                break;
            }
        }
        return total;
    }

    postgres_config cfg_;
    std::string conninfo_;
    std::string instance_;  // makes batch ids unique across processes and restarts
    std::mutex conn_mu_;    // guards conn_ against interrupt() from another thread
    std::unique_ptr<pqxx::connection> conn_;
    bool schema_checked_ = false;
    bool schema_error_ = false;
    std::string schema_message_;
    std::string table_;    // quoted, schema-qualified
    std::string batches_;  // quoted, schema-qualified
    const std::string display_table_;  // for messages and stats (read from other threads)
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> retention_deleted_{0};
    std::chrono::steady_clock::time_point last_housekeeping_{};
};

}  // namespace

std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg) {
    return std::make_unique<postgres_backend>(cfg, resolve_conninfo(cfg));
}

}  // namespace spdlog_ext::detail
