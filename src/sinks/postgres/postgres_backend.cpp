#include "sinks/postgres/postgres_backend.h"
#include "core/levels.h"
#include "sinks/postgres/copy_text_encoder.h"

#include <spdlog/details/os.h>

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/text.h"
#include "core/utf8.h"
#include "engine/exit_guard.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/json_formatter.h"

namespace spdlog_ext::detail {

namespace {

// A name derived from the table's, shortened with a stable hash when it would pass 63 bytes
// (PostgreSQL would silently truncate it, and two indexes could collide).
std::string derived_name(const std::string& table, const std::string& suffix) {
    std::string name = table + "_" + suffix;
    if (name.size() <= pg_max_identifier) {
        return name;
    }
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (unsigned char c : table) {
        hash = (hash ^ c) * 16777619u;
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", hash);
    const std::size_t keep = pg_max_identifier - suffix.size() - 10;
    return std::string(utf8::truncate(table, keep)) + "_" + hex + "_" + suffix;
}

// The first line of a libpq message (the rest repeats the query).
std::string first_line(const char* what) {
    std::string s(what);
    const auto nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
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

// ---- libpq, thinly wrapped -------------------------------------------------------------------

struct pg_error : std::runtime_error {
    pg_error(const std::string& message, std::string state, bool lost)
        : std::runtime_error(message), sqlstate(std::move(state)), connection_lost(lost) {}
    std::string sqlstate;
    bool connection_lost;
};

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

class pg_connection {
  public:
    // Connects without blocking in libpq (PQconnectStartParams/PQconnectPoll), so that `abort`
    // (set by interrupt() at the shutdown deadline) and `timeout` end the attempt; libpq enforces
    // its connect_timeout only in its blocking calls. The conninfo's own connect_timeout wins.
    // `settings.params` follow the conninfo (expanded as "dbname") and so override it.
    pg_connection(const std::string& conninfo, const session_settings& settings,
                  const std::atomic<bool>& abort, std::chrono::milliseconds timeout)
        : abort_(abort), reply_limit_(settings.reply_limit) {
        std::vector<const char*> keywords{"dbname"};
        std::vector<const char*> values{conninfo.c_str()};
        for (const auto& [keyword, value] : settings.params) {
            keywords.push_back(keyword.c_str());
            values.push_back(value.c_str());
        }
        keywords.push_back(nullptr);
        values.push_back(nullptr);
        conn_ = PQconnectStartParams(keywords.data(), values.data(), 1);
        if (conn_ == nullptr) {
            throw pg_error("cannot connect to PostgreSQL: out of memory", "", true);
        }
        // Server notices ("relation ... already exists, skipping") are not the host's business.
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr);
        timeout = own_connect_timeout().value_or(timeout);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        PostgresPollingStatusType state = PGRES_POLLING_WRITING;
        while (PQstatus(conn_) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
               state != PGRES_POLLING_FAILED) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (abort.load()) {
                give_up("interrupted (shutdown deadline)");
            }
            if (left.count() <= 0) {
                give_up("timeout expired after " + std::to_string(timeout.count()) + " ms");
            }
            pollfd fd{PQsocket(conn_),
                      static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
            const int ready =
                fd.fd < 0 ? 1
                          : ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 50)));
            if (ready != 0) {  // ready, or an error poll cannot tell apart: libpq will say
                state = PQconnectPoll(conn_);
            }
        }
        if (PQstatus(conn_) != CONNECTION_OK) {
            give_up(PQerrorMessage(conn_));
        }
        // Every later call waits in poll() here, not inside libpq: bounded by reply_limit_ and
        // ended by `abort`, even on a path that swallows packets but keeps the socket open.
        if (PQsetnonblocking(conn_, 1) != 0) {
            give_up(PQerrorMessage(conn_));
        }
        // Made here, on the worker: interrupt() takes it to another thread (PQcancel is the
        // one libpq call that may run concurrently with the connection's owner).
        cancel_ = PQgetCancel(conn_);
    }
    ~pg_connection() {
        if (cancel_ != nullptr) {
            PQfreeCancel(cancel_);
        }
        if (conn_ != nullptr) {
            PQfinish(conn_);
        }
    }
    pg_connection(const pg_connection&) = delete;
    pg_connection& operator=(const pg_connection&) = delete;

    bool ok() const noexcept { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }

    // Runs a statement; throws pg_error unless it succeeds. Returns its result.
    result_ptr exec(const std::string& sql) {
        result_ptr r = send_and_wait(sql);
        check(r.get(), PGRES_COMMAND_OK, PGRES_TUPLES_OK);
        return r;
    }

    std::string quote_name(const std::string& name) { return escaped(name, true); }
    std::string quote(const std::string& value) { return escaped(value, false); }

    // COPY ... FROM STDIN with `data` (COPY text format), sent in large chunks.
    void copy_in(const std::string& copy_sql, const std::string& data) {
        result_ptr start = send_and_wait(copy_sql);
        check(start.get(), PGRES_COPY_IN, PGRES_COPY_IN);
        constexpr std::size_t chunk = 1u << 20;
        for (std::size_t at = 0; at < data.size(); at += chunk) {
            const auto n = static_cast<int>(std::min(chunk, data.size() - at));
            int queued;
            while ((queued = PQputCopyData(conn_, data.data() + at, n)) == 0) {
                flush();  // libpq's buffer is full: send some first
            }
            if (queued != 1) {
                fail(nullptr);
            }
            flush();
        }
        int ended;
        while ((ended = PQputCopyEnd(conn_, nullptr)) == 0) {
            flush();
        }
        if (ended != 1) {
            fail(nullptr);
        }
        flush();
        // The COPY's outcome, then nothing more (drain every result libpq has).
        check(last_result().get(), PGRES_COMMAND_OK, PGRES_COMMAND_OK);
    }

    // The cancel object, for interrupt() to use on another thread; nullptr after the first call.
    PGcancel* take_cancel() noexcept { return std::exchange(cancel_, nullptr); }

    // TLS as libpq negotiated it: {"tls": false} or {"tls": true, "tls_protocol", "tls_cipher"}.
    nlohmann::json tls_description() const {
        nlohmann::json out{{"tls", PQsslInUse(conn_) == 1}};
        if (PQsslInUse(conn_) == 1) {
            for (const char* attribute : {"protocol", "cipher"}) {
                const char* value = PQsslAttribute(conn_, attribute);
                out[std::string("tls_") + attribute] = value != nullptr ? value : "";
            }
        }
        return out;
    }

    int server_version() const noexcept { return PQserverVersion(conn_); }

  private:
    [[noreturn]] void give_up(const std::string& message) {
        const std::string text = "cannot connect to PostgreSQL: " + first_line(message.c_str());
        PQfinish(conn_);
        conn_ = nullptr;
        throw pg_error(text, "", true);
    }

    // connect_timeout from the conninfo (libpq's rule: at least 2 s), if set.
    std::optional<std::chrono::milliseconds> own_connect_timeout() const {
        std::optional<std::chrono::milliseconds> found;
        if (PQconninfoOption* options = PQconninfo(conn_)) {
            for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
                if (std::string_view(o->keyword) == "connect_timeout" && o->val && *o->val) {
                    const long seconds = std::strtol(o->val, nullptr, 10);
                    if (seconds > 0) {
                        found = std::chrono::seconds(std::max(seconds, 2L));
                    }
                }
            }
            PQconninfoFree(options);
        }
        return found;
    }

    // Sends `sql` and returns its result (the last one, or the first error; a COPY's start).
    result_ptr send_and_wait(const std::string& sql) {
        if (PQsendQuery(conn_, sql.c_str()) != 1) {
            fail(nullptr);
        }
        flush();
        return last_result();
    }

    result_ptr last_result() {
        result_ptr kept;
        for (result_ptr r = next_result(); r; r = next_result()) {
            const ExecStatusType status = PQresultStatus(r.get());
            if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) {
                return r;  // the caller goes on with the copy
            }
            if (!kept || PQresultStatus(kept.get()) != PGRES_FATAL_ERROR) {
                kept = std::move(r);
            }
        }
        return kept;
    }

    result_ptr next_result() {
        while (PQisBusy(conn_) == 1) {
            wait_socket(false);
        }
        return result_ptr(PQgetResult(conn_));
    }

    // Sends what libpq has buffered (non-blocking mode).
    void flush() {
        for (int left = PQflush(conn_); left != 0; left = PQflush(conn_)) {
            if (left < 0) {
                fail(nullptr);
            }
            wait_socket(true);
        }
    }

    // Waits until the socket can be read (or written, `for_write`), then lets libpq read what
    // came (the server may answer while we send). Polls in short slices to see `abort_`; gives
    // the connection up when nothing moves for reply_limit_.
    void wait_socket(bool for_write) {
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            if (abort_.load()) {
                lose("interrupted (shutdown deadline)");
            }
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start);
            if (reply_limit_.count() > 0 && waited >= reply_limit_) {
                lose("no reply from PostgreSQL within " + std::to_string(reply_limit_.count()) +
                     " ms (statement_timeout + max(tcp_user_timeout, 1 s))");
            }
            pollfd fd{PQsocket(conn_), static_cast<short>(POLLIN | (for_write ? POLLOUT : 0)), 0};
            if (fd.fd < 0) {
                fail(nullptr);
            }
            const int ready = ::poll(&fd, 1, 100);
            if (ready > 0) {
                if (PQconsumeInput(conn_) != 1) {
                    fail(nullptr);
                }
                return;
            }
            if (ready < 0 && errno != EINTR) {
                lose(std::string("poll failed: ") + std::strerror(errno));
            }
        }
    }

    [[noreturn]] void lose(const std::string& why) {
        broken_ = true;  // libpq still thinks it is fine: the caller must drop it
        throw pg_error(why, "", true);
    }

    void check(PGresult* r, ExecStatusType want, ExecStatusType also) {
        const ExecStatusType status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (status != want && status != also) {
            fail(r);
        }
    }

    [[noreturn]] void fail(PGresult* r) {
        const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        const std::string sqlstate = state ? state : "";
        const std::string message =
            r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
        const bool lost = !ok() || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
                          sqlstate == "57P02" || sqlstate == "57P03";
        throw pg_error(first_line(message.c_str()), sqlstate, lost);
    }

    std::string escaped(const std::string& text, bool identifier) {
        char* out = identifier ? PQescapeIdentifier(conn_, text.data(), text.size())
                               : PQescapeLiteral(conn_, text.data(), text.size());
        if (out == nullptr) {
            fail(nullptr);
        }
        std::string quoted(out);
        PQfreemem(out);
        return quoted;
    }

    PGconn* conn_ = nullptr;
    PGcancel* cancel_ = nullptr;  // guarded by the backend's conn_mu_ once published
    const std::atomic<bool>& abort_;
    const std::chrono::milliseconds reply_limit_;
    bool broken_ = false;
};

class postgres_backend final : public backend {
  public:
    postgres_backend(postgres_config cfg, std::string conninfo)
        : cfg_(std::move(cfg)),
          conninfo_(std::move(conninfo)),
          settings_(session_settings_for(cfg_, conninfo_)),
          instance_(random_instance_id()),
          pid_text_(std::to_string(process_id())),
          encoder_(pid_text_, host_name()),
          display_table_((cfg_.schema.empty() ? "" : cfg_.schema + ".") + cfg_.table_name()) {}

    batch_result write(record_span batch, const write_context& ctx) override {
        std::string error;
        if (!ensure_ready(error)) {
            return schema_error_ ? batch_result::with(batch_result::outcome::disable, error)
                                 : batch_result::retry(error);
        }
        const std::string batch_id = instance_ + "-" + std::to_string(ctx.batch_id);
        bool committing = false;
        bool recording_id = false;
        try {
            // A retry first asks whether an earlier try committed (its reply may have been lost).
            if (ctx.attempt > 0 && batch_committed(batch_id)) {
                return batch_result::delivered();
            }
            encoder_.encode(batch, buffer_);
            conn_->exec("BEGIN");
            conn_->copy_in(copy_sql_, buffer_);
            recording_id = true;
            conn_->exec("INSERT INTO " + batches_ + " (batch_id, row_count) VALUES (" +
                        conn_->quote(batch_id) + ", " + std::to_string(batch.size()) + ")");
            committing = true;
            conn_->exec("COMMIT");
            return batch_result::delivered();
        } catch (const pg_error& e) {
            if (e.connection_lost || !conn_->ok()) {
                drop_connection();
                const std::string what =
                    committing ? "commit outcome unknown (connection lost): " : "connection lost: ";
                return batch_result::retry(what + e.what(), std::nullopt, committing);
            }
            rollback();
            if (recording_id && e.sqlstate == "23505") {
                // The id is there: an earlier try, whose connection we gave up while its COMMIT
                // was on the way, committed after our check. Writing again would duplicate.
                return batch_result::delivered();
            }
            if (is_data_error(e.sqlstate)) {
                return batch_result::with(
                    batch_result::outcome::isolate,
                    "PostgreSQL refused the data (SQLSTATE " + e.sqlstate + "): " + e.what());
            }
            if (e.sqlstate == "42P01" || e.sqlstate == "42703" || e.sqlstate == "3F000") {
                schema_checked_ = false;  // table, column or schema gone: set up again
            }
            return batch_result::retry("PostgreSQL error (SQLSTATE " + e.sqlstate +
                                       "): " + e.what());
        }
    }

    // Never blocks: the worker's waits see abort_ within 100 ms and drop the connection. The
    // cancel request (so the server stops a running statement now, not when it next writes to
    // the closed socket) goes from a detached thread that owns the PGcancel: PQcancel connects
    // and waits for the server, which on a dead path can take as long as TCP does, and that
    // must not hold shutdown past its deadline.
    void interrupt() noexcept override {
        abort_.store(true);  // ends a connection attempt or a wait; the engine is past its deadline
        PGcancel* cancel = nullptr;
        {
            std::lock_guard<std::mutex> lock(conn_mu_);
            if (conn_) {
                cancel = conn_->take_cancel();
            }
        }
        if (cancel != nullptr) {
            try {
                std::thread([cancel] {
                    char error[256];
                    (void)PQcancel(cancel, error, sizeof error);
                    PQfreeCancel(cancel);
                }).detach();
            } catch (...) {  // no thread: the server notices the closed connection instead
                PQfreeCancel(cancel);
            }
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
                retention_deleted_ +=
                    delete_in_chunks(table_, "timestamp < now() - interval '" +
                                                 std::to_string(cfg_.retention_days) + " days'");
            }
            // Batch ids are only needed while a batch may be retried: keep a day of them.
            delete_in_chunks(batches_, "committed_at < now() - interval '1 day'");
        } catch (const pg_error& e) {
            if (e.connection_lost || !conn_->ok()) {
                drop_connection();
            } else {
                rollback();
            }
            throw std::runtime_error(std::string("retention: ") + e.what());
        }
    }

    nlohmann::json extra_stats() const override {
        nlohmann::json out{{"connected", connected_.load()},
                           {"table", display_table_},
                           {"retention_deleted", retention_deleted_.load()}};
        std::lock_guard<std::mutex> lock(tls_mu_);
        if (connected_.load()) {
            out.update(tls_);  // tls: whether this connection is encrypted, and how
        } else {
            out["tls"] = nullptr;  // not connected: unknown
        }
        return out;
    }

  private:
    bool ensure_ready(std::string& error) {
        if (schema_error_) {
            error = schema_message_;
            return false;
        }
        try {
            if (!conn_ || !conn_->ok()) {
                if (process_exit_done()) {
                    // Past the exit hook, TLS libraries may be cleaned up: never connect again.
                    error = "not connecting: the process is exiting";
                    return false;
                }
                auto fresh = std::make_unique<pg_connection>(conninfo_, settings_, abort_,
                                                             cfg_.connect_timeout);
                {
                    std::lock_guard<std::mutex> lock(tls_mu_);
                    tls_ = fresh->tls_description();
                }
                {
                    std::lock_guard<std::mutex> lock(conn_mu_);
                    conn_ = std::move(fresh);
                }
                schema_checked_ = false;
                apply_timeouts();
            }
            if (!schema_checked_) {
                set_up_schema();
                schema_checked_ = true;
            }
            connected_ = true;
            return true;
        } catch (const pg_error& e) {
            if (schema_error_) {
                error = schema_message_;
            } else if (e.connection_lost || !conn_ || !conn_->ok()) {
                drop_connection();
                error = e.what();
            } else {
                rollback();
                error = std::string("PostgreSQL set-up failed: ") + e.what();
            }
        }
        return false;
    }

    // The server's bounds for this session: a statement of ours runs at most statement_timeout,
    // and a transaction left open by a connection we gave up (its COMMIT lost on the way) ends
    // as soon, releasing its locks (the batch id a retry inserts again).
    void apply_timeouts() {
        const auto ms = settings_.statement_timeout.count();
        if (ms <= 0) {
            return;
        }
        conn_->exec("SET statement_timeout = " + std::to_string(ms));
        if (conn_->server_version() >= 90600) {
            conn_->exec("SET idle_in_transaction_session_timeout = " + std::to_string(ms));
        }
    }

    void drop_connection() {
        std::lock_guard<std::mutex> lock(conn_mu_);
        conn_.reset();
        connected_ = false;
    }

    void rollback() noexcept {
        try {
            if (conn_ && conn_->ok()) {
                conn_->exec("ROLLBACK");
            }
        } catch (...) {  // nothing was open, or the connection just died: either is fine
        }
    }

    void set_up_schema() {
        pg_connection& c = *conn_;
        const std::string table = cfg_.table_name();
        const std::string schema_prefix =
            cfg_.schema.empty() ? std::string() : c.quote_name(cfg_.schema) + ".";
        table_ = schema_prefix + c.quote_name(table);
        batches_ = schema_prefix + c.quote_name(derived_name(table, "batches"));
        copy_sql_ = "COPY " + table_ + " (";
        for (std::size_t i = 0; i < copy_columns.size(); ++i) {
            copy_sql_ += (i ? "," : "") + c.quote_name(copy_columns[i]);
        }
        copy_sql_ += ") FROM STDIN";

        c.exec("BEGIN");
        if (cfg_.create_table) {
            if (!cfg_.schema.empty()) {
                c.exec("CREATE SCHEMA IF NOT EXISTS " + c.quote_name(cfg_.schema));
            }
            c.exec("CREATE TABLE IF NOT EXISTS " + table_ +
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
            create_indexes(table);
        }
        c.exec("CREATE TABLE IF NOT EXISTS " + batches_ +
               " (batch_id TEXT PRIMARY KEY, row_count INTEGER NOT NULL,"
               " committed_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        check_columns(table);
        c.exec("COMMIT");
    }

    void create_indexes(const std::string& table) {
        const auto index = [&](const std::string& suffix, const std::string& definition) {
            conn_->exec("CREATE INDEX IF NOT EXISTS " +
                        conn_->quote_name(derived_name(table, suffix)) + " ON " + table_ + " " +
                        definition);
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
    void check_columns(const std::string& table) {
        const std::string schema_expr =
            cfg_.schema.empty() ? "current_schema()" : conn_->quote(cfg_.schema);
        const result_ptr rows =
            conn_->exec("SELECT column_name FROM information_schema.columns WHERE table_schema = " +
                        schema_expr + " AND table_name = " + conn_->quote(table));
        const int n = PQntuples(rows.get());
        if (n == 0) {
            fail_schema("table " + display_table_ +
                        " does not exist and create_table is off "
                        "(LOG_POSTGRES_CREATE_TABLE): create it or turn create_table on");
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
            fail_schema("table " + display_table_ + " exists but lacks column(s) " + missing +
                        ": use another table (LOG_POSTGRES_TABLE_PREFIX) or add them");
        }
    }

    [[noreturn]] void fail_schema(const std::string& message) {
        schema_error_ = true;
        schema_message_ = message;
        throw pg_error(message, "", false);
    }

    bool batch_committed(const std::string& batch_id) {
        const result_ptr r = conn_->exec("SELECT 1 FROM " + batches_ +
                                         " WHERE batch_id = " + conn_->quote(batch_id));
        return PQntuples(r.get()) > 0;
    }

    // Deletes matching rows a chunk per transaction, so locks are held briefly; bounded per call.
    std::uint64_t delete_in_chunks(const std::string& table, const std::string& condition) {
        std::uint64_t total = 0;
        for (int round = 0; round < 100; ++round) {
            const result_ptr r = conn_->exec(
                "DELETE FROM " + table + " WHERE ctid IN (SELECT ctid FROM " + table + " WHERE " +
                condition + " LIMIT " + std::to_string(cfg_.retention_chunk_rows) + ")");
            const auto deleted = std::strtoull(PQcmdTuples(r.get()), nullptr, 10);
            total += deleted;
            if (deleted < cfg_.retention_chunk_rows) {
                break;
            }
        }
        return total;
    }

    postgres_config cfg_;
    std::string conninfo_;
    const session_settings settings_;
    std::string instance_;  // makes batch ids unique across processes and restarts
    const std::string pid_text_;
    std::mutex conn_mu_;              // guards conn_ against interrupt() from another thread
    std::atomic<bool> abort_{false};  // interrupt() was called: stop connecting
    std::unique_ptr<pg_connection> conn_;
    bool schema_checked_ = false;
    bool schema_error_ = false;
    std::string schema_message_;
    std::string table_;    // quoted, schema-qualified
    std::string batches_;  // quoted, schema-qualified
    std::string copy_sql_;
    copy_text_encoder encoder_;
    std::string buffer_;               // the batch's COPY text, reused
    const std::string display_table_;  // for messages and stats (read from other threads)
    std::atomic<bool> connected_{false};
    mutable std::mutex tls_mu_;
    nlohmann::json tls_ = nlohmann::json::object();  // of the current connection
    std::atomic<std::uint64_t> retention_deleted_{0};
    std::chrono::steady_clock::time_point last_housekeeping_{};
};

}  // namespace

std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg) {
    validate_postgres_config(cfg);
    return std::make_unique<postgres_backend>(cfg, resolve_conninfo(cfg));
}

}  // namespace spdlog_ext::detail
