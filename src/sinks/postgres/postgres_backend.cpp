#include "sinks/postgres/postgres_backend.h"

#include <spdlog/details/os.h>

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/exit_guard.h"
#include "sinks/postgres/postgres_config.h"
#include "sinks/postgres/postgres_connection.h"
#include "sinks/postgres/postgres_ddl.h"
#include "sinks/postgres/postgres_encoder.h"
#include "sinks/postgres/postgres_partitions.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

namespace {

std::string random_instance_id() {
    std::random_device rd;
    std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                        static_cast<std::uint64_t>(spdlog::details::os::pid()));
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

// After the notification queue was found full, batches go without NOTIFY for this long (the
// followers' polling safety net finds their rows).
constexpr auto notify_pause = std::chrono::seconds(60);

// The COPY data goes to the server in pieces of about this size as they are encoded: small
// enough that the server starts parsing at once, large enough to cost few system calls.
constexpr std::size_t copy_piece_bytes = std::size_t(256) << 10;
constexpr std::size_t first_copy_piece_bytes = std::size_t(8) << 10;
// Records masked at a time before they are encoded (write_context::prepare).
constexpr std::size_t prepare_records = 32;

class postgres_backend final : public backend {
  public:
    postgres_backend(postgres_config cfg, std::string conninfo)
        : cfg_(std::move(cfg)),
          conninfo_(std::move(conninfo)),
          settings_(session_settings_for(cfg_, conninfo_)),
          instance_(random_instance_id()),
          pid_text_(std::to_string(process_id())),
          encoder_(pid_text_, host_name(), cfg_.columns),
          display_table_((cfg_.schema.empty() ? "" : cfg_.schema + ".") + cfg_.table_name()),
          column_mismatches_(cfg_.columns.size(), 0) {}

    bool prepares_records() const noexcept override { return true; }

    batch_result write(record_span batch, const write_context& ctx) override {
        std::string error;
        if (!ensure_ready(error)) {
            return schema_error_ ? batch_result::with(batch_result::outcome::disable, error)
                                 : batch_result::retry(error);
        }
        const std::string batch_id = instance_ + "-" + std::to_string(ctx.batch_id);
        const bool notify = cfg_.notify && std::chrono::steady_clock::now() >= notify_paused_until_;
        bool committing = false;
        bool recording_id = false;
        try {
            // A retry first asks whether an earlier try committed (its reply may have been lost).
            if (ctx.attempt > 0 && batch_committed(batch_id)) {
                count_mismatches();  // of the try that committed: this batch's last encoding
                return batch_result::delivered();
            }
            // Two round trips per batch: one query string carries the batch id, the NOTIFY
            // (delivered only if this commits), the COPY and the COMMIT, which the server runs
            // as soon as the COPY's data ends (and skips if anything before it failed).
            std::string statement = "BEGIN; INSERT INTO " + names_.batches +
                                    " (batch_id, row_count) VALUES (" + conn_->quote(batch_id) +
                                    ", " + std::to_string(batch.size()) + "); ";
            if (notify) {
                statement += "SELECT pg_notify(" + notify_channel_ + ", 'v1 " +
                             std::to_string(batch.size()) + " " + instance_ + "'); ";
            }
            const copy_shape shape = copy_shape_of(batch);
            statement += names_.copy_sql[shape.index()] + "; COMMIT";
            // Streamed: the server parses one piece while the worker masks (the engine's
            // redaction, done here as the records come: prepares_records) and encodes the
            // next. The first piece is encoded while the statements before the COPY run; the
            // pieces grow from small ones, so that the server starts parsing at once.
            conn_->copy_start(statement);
            std::size_t next = 0;
            std::size_t piece = first_copy_piece_bytes;
            bool started = false;
            while (!started || next < batch.size()) {
                buffer_.clear();
                while (next < batch.size() && buffer_.size() < piece) {
                    const std::size_t end = std::min(batch.size(), next + prepare_records);
                    ctx.prepare(next, end - next);
                    next = encoder_.encode_some(batch.subspan(0, end), next, buffer_, piece, shape);
                }
                if (!started) {
                    recording_id = true;  // an error now is the batch id's (or BEGIN's, NOTIFY's)
                    conn_->copy_ready();
                    recording_id = false;
                    started = true;
                }
                conn_->copy_send(buffer_);
                piece = std::min(piece * 4, copy_piece_bytes);  // 8, 32, 128, 256 KiB
            }
            committing = true;  // the end of the data starts the COMMIT
            conn_->copy_end();
            count_mismatches();
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
                count_mismatches();
                return batch_result::delivered();
            }
            if (cfg_.partition != postgres_partition::none && e.sqlstate == "23514" &&
                e.constraint.empty()) {
                // A check violation that names no constraint is the partition routing's ("no
                // partition of relation ... found for row"; recognised without the message text,
                // which lc_messages may translate): someone dropped the DEFAULT partition. Set up
                // again (it is made again) and retry, instead of taking the rows for bad data.
                schema_checked_ = false;
                return batch_result::retry("no partition for a row (SQLSTATE 23514): " +
                                           std::string(e.what()));
            }
            const pg_failure_action action = classify_pg_failure(e.sqlstate, notify);
            if (action == pg_failure_action::retry_without_notify) {
                notify_paused_until_ = std::chrono::steady_clock::now() + notify_pause;
                ++notify_queue_full_;
                return batch_result::retry(
                    "PostgreSQL's notification queue is full (SQLSTATE 54000: a LISTEN session "
                    "stopped reading); the batch is retried and NOTIFY paused for 60 s: " +
                    std::string(e.what()));
            }
            if (action == pg_failure_action::isolate) {
                return batch_result::with(
                    batch_result::outcome::isolate,
                    "PostgreSQL refused the data (SQLSTATE " + e.sqlstate + "): " + e.what());
            }
            if (e.sqlstate == "42P01" || e.sqlstate == "42703" || e.sqlstate == "3F000") {
                schema_checked_ = false;  // table, column or schema gone: set up again
            }
            return batch_result::retry("PostgreSQL error (SQLSTATE " + e.sqlstate +
                                       "): " + e.what());
        } catch (...) {
            // Not libpq's (the encoder ran out of memory): the COPY was left half-way, and
            // only a new connection is sure to be out of it. The engine retries the batch.
            drop_connection();
            throw;
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
        if (!txid_problem_.empty() && !txid_problem_reported_) {
            txid_problem_reported_ = true;  // once: the sink itself is fine
            throw std::runtime_error(txid_problem_);
        }
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
            if (cfg_.partition != postgres_partition::none) {
                partition_problem_ = pg_ensure_partitions(*conn_, cfg_, names_, pg_epoch_seconds());
            }
            if (cfg_.retention_days > 0 && cfg_.partition != postgres_partition::none) {
                const pg_partition_retention r = pg_drop_expired_partitions(*conn_, cfg_, names_);
                retention_partitions_dropped_ += r.partitions_dropped;
                retention_deleted_ += r.default_rows_deleted;
            } else if (cfg_.retention_days > 0) {
                retention_deleted_ +=
                    pg_delete_in_chunks(*conn_, names_.table,
                                        "timestamp < now() - interval '" +
                                            std::to_string(cfg_.retention_days) + " days'",
                                        cfg_.retention_chunk_rows);
            }
            // Batch ids are only needed while a batch may be retried: keep a day of them.
            pg_delete_in_chunks(*conn_, names_.batches, "committed_at < now() - interval '1 day'",
                                cfg_.retention_chunk_rows);
        } catch (const pg_error& e) {
            if (e.connection_lost || !conn_->ok()) {
                drop_connection();
            } else {
                rollback();
            }
            throw std::runtime_error(std::string("retention: ") + e.what());
        }
        if (!partition_problem_.empty()) {
            throw std::runtime_error("partitions: " + partition_problem_);
        }
    }

    nlohmann::json extra_stats() const override {
        nlohmann::json out{{"connected", connected_.load()},
                           {"table", display_table_},
                           {"retention_deleted", retention_deleted_.load()},
                           {"notify", cfg_.notify},
                           {"notify_queue_full", notify_queue_full_.load()},
                           {"txid_column", txid_ready_.load()},
                           {"retention_partitions_dropped", retention_partitions_dropped_.load()}};
        if (!cfg_.columns.empty()) {
            // Per promoted column: committed values that did not fit it (kept in extra_data).
            nlohmann::json mismatches = nlohmann::json::object();
            std::lock_guard<std::mutex> lock(mismatch_mu_);
            for (std::size_t i = 0; i < cfg_.columns.size(); ++i) {
                mismatches[cfg_.columns[i].name] = column_mismatches_[i];
            }
            out["column_mismatches"] = std::move(mismatches);
        }
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
        names_ = pg_schema_names_for(*conn_, cfg_);
        conn_->exec("BEGIN");
        pg_create_schema(*conn_, cfg_, names_);
        if (std::string problem = pg_schema_problem(*conn_, cfg_, display_table_);
            !problem.empty()) {
            fail_schema(problem);
        }
        if (std::string problem = pg_partition_problem(*conn_, cfg_, names_, display_table_);
            !problem.empty()) {
            fail_schema(problem);
        }
        conn_->exec("COMMIT");
        if (std::string problem = pg_ensure_promoted_columns(*conn_, cfg_, names_);
            !problem.empty()) {
            fail_schema("table " + display_table_ + ": " + problem);
        }
        partition_problem_ = pg_ensure_partitions(*conn_, cfg_, names_, pg_epoch_seconds());
        txid_problem_ = pg_ensure_txid_column(*conn_, cfg_, names_);
        txid_ready_ = txid_problem_.empty();
        notify_channel_ = conn_->quote(pg_notify_channel(cfg_));
    }

    [[noreturn]] void fail_schema(const std::string& message) {
        schema_error_ = true;
        schema_message_ = message;
        throw pg_error(message, "", false);
    }

    void count_mismatches() {
        const auto& last = encoder_.last_mismatches();
        std::lock_guard<std::mutex> lock(mismatch_mu_);
        for (std::size_t i = 0; i < last.size() && i < column_mismatches_.size(); ++i) {
            column_mismatches_[i] += last[i];
        }
    }

    bool batch_committed(const std::string& batch_id) {
        const pg_result_ptr r = conn_->exec("SELECT 1 FROM " + names_.batches +
                                            " WHERE batch_id = " + conn_->quote(batch_id));
        return PQntuples(r.get()) > 0;
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
    pg_schema_names names_;  // quoted, schema-qualified
    copy_text_encoder encoder_;
    std::string buffer_;               // a piece of the batch's COPY text, reused
    const std::string display_table_;  // for messages and stats (read from other threads)
    std::atomic<bool> connected_{false};
    mutable std::mutex tls_mu_;
    nlohmann::json tls_ = nlohmann::json::object();  // of the current connection
    std::atomic<std::uint64_t> retention_deleted_{0};
    std::chrono::steady_clock::time_point last_housekeeping_{};
    std::string notify_channel_;  // quoted as a string literal
    std::chrono::steady_clock::time_point notify_paused_until_{};
    std::atomic<std::uint64_t> notify_queue_full_{0};
    std::string txid_problem_;  // why the table has no txid column ("" when it has)
    bool txid_problem_reported_ = false;
    std::atomic<bool> txid_ready_{false};
    mutable std::mutex mismatch_mu_;
    std::vector<std::uint64_t> column_mismatches_;  // per promoted column, committed rows only
    std::string partition_problem_;  // why a partition could not be made ("" when none)
    std::atomic<std::uint64_t> retention_partitions_dropped_{0};
};

}  // namespace

pg_failure_action classify_pg_failure(const std::string& sqlstate, bool notified) {
    if (notified && sqlstate == "54000") {
        return pg_failure_action::retry_without_notify;
    }
    const std::string cls = sqlstate.substr(0, 2);
    if (cls == "22" || cls == "23" || cls == "54") {
        return pg_failure_action::isolate;  // values, constraints, limits
    }
    return pg_failure_action::retry;
}

std::unique_ptr<backend> make_postgres_backend(const postgres_config& cfg) {
    validate_postgres_config(cfg);  // the one validation, for code and LOG_POSTGRES_* alike
    return std::make_unique<postgres_backend>(cfg, resolve_conninfo(cfg));
}

}  // namespace spdlog_ext::detail
