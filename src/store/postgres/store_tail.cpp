// postgres_log_store::tail: follows committed rows in commit order, woken by the sink's NOTIFY
// (or polling), on a connection of its own. Each round diffs a fresh snapshot against the cursor
// (store_tail_cursor.h): rows of transactions that commit late are read once, when they commit;
// docs/log-tail.md explains the algorithm and its guarantees.
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sinks/postgres/postgres_ddl.h"
#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_cursor.h"
#include "store/postgres/store_impl.h"
#include "store/postgres/store_rows.h"
#include "store/postgres/store_sql.h"
#include "store/postgres/store_tail_cursor.h"

namespace spdlog_ext {

namespace {

using detail::store::sql_params;
using detail::store::tail_state;

struct snapshot {
    std::int64_t xmax = 0;
    std::vector<std::int64_t> xip;
};

std::int64_t to_int64(const pqxx::field& f) {
    return std::stoll(std::string(f.c_str(), f.size()));
}

// "{1,2,3}" (an int8[] as text) → values.
std::vector<std::int64_t> parse_int_array(const std::string& text) {
    std::vector<std::int64_t> out;
    std::string item;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            item += c;
        } else if (!item.empty()) {
            out.push_back(std::stoll(item));
            item.clear();
        }
    }
    return out;
}

std::string int_array(const std::vector<std::int64_t>& values) {
    std::string out = "{";
    for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i ? "," : "") + std::to_string(values[i]);
    }
    return out + "}";
}

class follower {
  public:
    follower(postgres_log_store::impl& store, const tail_options& options,
             const tail_callback& on_rows, const std::function<bool()>& keep_going)
        : store_(store), options_(options), on_rows_(on_rows), keep_going_(keep_going) {
        if (options_.max_rows_per_fetch < 1 || options_.max_rows_per_fetch > 100000) {
            throw store_error(store_error::kind::bad_filter,
                              "tail: max_rows_per_fetch must be between 1 and 100000");
        }
        if (options_.poll_interval.count() < 1) {
            throw store_error(store_error::kind::bad_filter,
                              "tail: poll_interval must be at least 1 ms");
        }
        sql_params probe;
        (void)detail::store::filter_sql(options_.filter, probe,
                                        store_.cfg.columns);  // bad_filter before connecting
        filter_id_ = detail::store::filter_fingerprint(options_.filter);
        if (!options_.resume.empty()) {
            state_ = detail::store::decode_tail_cursor(options_.resume);
            if (state_.filter != filter_id_) {
                throw store_error(store_error::kind::bad_cursor,
                                  "tail: the cursor was made for different filters");
            }
            have_state_ = true;
        }
    }

    void run() {
        auto backoff = std::chrono::milliseconds(100);
        std::mt19937_64 rng(std::random_device{}());
        while (keep_going_()) {
            std::vector<log_row> rows;
            tail_state next;
            bool full = false;
            try {
                if (!conn_)
                    set_up();
                full = round(rows, next);
                backoff = std::chrono::milliseconds(100);
            } catch (...) {
                listener_.reset();  // before the connection it refers to
                try {
                    store_.rethrow("tail", conn_);  // → store_error; drops a broken connection
                } catch (const store_error& e) {
                    if (e.what_kind() != store_error::kind::connection)
                        throw;
                }
                conn_.reset();
                // Half to all of the current step (100 ms doubling to 5 s): tails do not reconnect
                // in step.
                sleep_while_going(
                    std::chrono::milliseconds(std::uniform_int_distribution<long long>(
                        backoff.count() / 2, backoff.count())(rng)));
                backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
                continue;
            }
            if (!rows.empty()) {
                on_rows_(rows, detail::store::encode_tail_cursor(next));  // outside any transaction
            }
            state_ = std::move(next);
            if (!full)
                wait_for_news();
        }
    }

  private:
    // A fresh session: LISTEN first (so a commit after the first round still wakes us), then the
    // table check, the server's identity, and the state (new, resumed, or after a restart).
    void set_up() {
        listener_.reset();
        conn_ = detail::store::connect(store_.conninfo);
        woken_ = true;              // the first round runs at once
        if (options_.use_notify) {  // outside any transaction: LISTEN takes effect at once
            listener_ = detail::store::listen(*conn_, detail::pg_notify_channel(store_.cfg),
                                              [this](const std::string&) { woken_ = true; });
        }
        pqxx::nontransaction tx(*conn_);
        tx.exec("SET application_name = 'spdlog-ext-tail'");
        const int version = std::stoi(tx.exec("SHOW server_version_num")[0][0].c_str());
        v13_ = version >= 130000;
        check_table(tx);
        std::int64_t system_id = 0;
        {
            // pg_control_system() may be denied to plain roles: then the check is skipped.
            const auto r = tx.exec(
                "SELECT CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
                "THEN (SELECT system_identifier FROM pg_control_system())::text ELSE '0' END, "
                "extract(epoch FROM date_trunc('second', pg_postmaster_start_time()))::int8 "
                "* 1000000 + extract(microseconds FROM pg_postmaster_start_time())::int8 % "
                "1000000");
            system_id = to_int64(r[0][0]);
            started_us_ = to_int64(r[0][1]);
        }
        tx.commit();
        if (!have_state_) {
            start_from_now(system_id);
            return;
        }
        if (state_.system_id != 0 && system_id != 0 && state_.system_id != system_id) {
            throw store_error(
                store_error::kind::bad_cursor,
                "tail: the cursor is from another server (system identifier differs)");
        }
        if (state_.started_us != started_us_) {
            state_ = detail::store::after_server_restart(state_, started_us_);
        }
        if (state_.system_id == 0)
            state_.system_id = system_id;
    }

    void check_table(pqxx::transaction_base& tx) {
        const auto r = detail::store::exec(
            tx,
            "SELECT count(*), count(*) FILTER (WHERE column_name = 'txid') FROM "
            "information_schema.columns WHERE table_schema = coalesce($1, current_schema()) "
            "AND table_name = $2",
            {store_.cfg.schema.empty() ? std::nullopt
                                       : std::optional<std::string>(store_.cfg.schema),
             store_.cfg.table_name()});
        if (to_int64(r[0][0]) == 0) {
            throw store_error(
                store_error::kind::missing_table,
                "tail: the log table " + store_.table_display +
                    " does not exist; check LOG_POSTGRES_SCHEMA and "
                    "LOG_POSTGRES_TABLE_PREFIX, or let postgres_batch_sink create it");
        }
        if (to_int64(r[0][1]) == 0) {
            throw store_error(store_error::kind::missing_table,
                              "tail: the log table " + store_.table_display +
                                  " lacks the txid column the tail needs: let postgres_batch_sink "
                                  "add it (create_table on), or see docs/log-tail.md");
        }
    }

    void start_from_now(std::int64_t system_id) {
        pqxx::nontransaction tx(*conn_);
        const snapshot s = take_snapshot(tx);
        // The newest rows' largest txid (bounded: a table whose column is new holds NULLs).
        const auto newest = tx.exec("SELECT max(txid) FROM (SELECT txid FROM " +
                                    store_.table_sql() + " ORDER BY id DESC LIMIT 1000) newest");
        state_ = tail_state{};
        state_.system_id = system_id;
        state_.started_us = started_us_;
        state_.x = s.xmax;
        state_.pending = s.xip;
        state_.delivered =
            newest[0][0].is_null() ? 0 : std::min(to_int64(newest[0][0]), s.xmax - 1);
        state_.filter = filter_id_;
        have_state_ = true;
    }

    snapshot take_snapshot(pqxx::transaction_base& tx) {
        const std::string sql =
            v13_ ? "SELECT pg_snapshot_xmax(s)::text::int8, ARRAY(SELECT x::text::int8 FROM "
                   "pg_snapshot_xip(s) x ORDER BY 1)::text FROM pg_current_snapshot() s"
                 : "SELECT txid_snapshot_xmax(s), ARRAY(SELECT x FROM txid_snapshot_xip(s) x "
                   "ORDER BY 1)::text FROM txid_current_snapshot() s";
        const auto r = tx.exec(sql);
        snapshot s;
        s.xmax = to_int64(r[0][0]);
        s.xip = parse_int_array(std::string(r[0][1].c_str(), r[0][1].size()));
        return s;
    }

    // One round; fills `rows` and the state after them. True when the page was full (read on).
    bool round(std::vector<log_row>& rows, tail_state& next) {
        pqxx::nontransaction tx(*conn_);
        const snapshot s = take_snapshot(tx);  // A: first, in its own statement
        sql_params params{std::to_string(state_.x), int_array(state_.pending),
                          std::to_string(s.xmax), int_array(s.xip)};
        const std::string filter =
            detail::store::filter_sql(options_.filter, params, store_.cfg.columns);
        const std::size_t limit = options_.max_rows_per_fetch;
        const auto result = detail::store::exec(
            tx,
            "SELECT " + detail::store::select_columns(store_.cfg.columns) + ", txid FROM " +
                store_.table_sql() +
                " WHERE (txid >= $1::int8 OR txid = ANY($2::int8[])) AND txid < $3::int8"
                " AND txid <> ALL($4::int8[]) AND (" +
                filter + ") ORDER BY txid, id LIMIT " + std::to_string(limit + 1),
            params);
        const std::vector<pqxx::row> page(result.begin(), result.end());
        const auto txid_of = [](const pqxx::row& r) { return to_int64(r[r.size() - 1]); };
        std::int64_t cut = s.xmax - 1;
        std::size_t take = page.size();
        bool full = false;
        std::int64_t last = 0;
        if (page.size() > limit) {
            // End at a transaction boundary: the last transaction's rows wait for the next round.
            full = true;
            const std::int64_t t = txid_of(page.back());
            take = 0;
            while (take < page.size() && txid_of(page[take]) != t)
                ++take;
            cut = t - 1;
            if (take == 0) {
                // One transaction fills the page: deliver it whole.
                for (const auto& r : page)
                    rows.push_back(detail::store::row_from(r));
                sql_params rest{std::to_string(t), std::to_string(rows.back().id)};
                const std::string rest_filter =
                    detail::store::filter_sql(options_.filter, rest, store_.cfg.columns);
                const auto more = detail::store::exec(
                    tx,
                    "SELECT " + detail::store::select_columns(store_.cfg.columns) + ", txid FROM " +
                        store_.table_sql() + " WHERE txid = $1::int8 AND id > $2::int8 AND (" +
                        rest_filter + ") ORDER BY id",
                    rest);
                for (const auto& r : more)
                    rows.push_back(detail::store::row_from(r));
                cut = t;
                last = t;
            }
        }
        if (rows.empty()) {
            for (std::size_t i = 0; i < take; ++i) {
                const auto& r = page[i];
                rows.push_back(detail::store::row_from(r));
                last = std::max(last, txid_of(r));
            }
        }
        next = detail::store::advance_tail(state_, cut, s.xip, last);
        return full;
    }

    // Until a notification arrives or poll_interval passes (keep_going asked in between).
    void wait_for_news() {
        const auto until = std::chrono::steady_clock::now() + options_.poll_interval;
        while (keep_going_()) {
            if (options_.use_notify && conn_) {
                woken_ = false;
                try {
                    detail::store::get_notifications(*conn_);
                } catch (...) {
                    return;  // the next round finds the broken connection
                }
                if (woken_)
                    return;
            }
            const auto now = std::chrono::steady_clock::now();
            if (now >= until)
                return;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
            const int slice = static_cast<int>(std::min<long long>(left.count() + 1, 250));
            if (options_.use_notify && conn_) {
                pollfd fd{detail::store::socket_of(*conn_), POLLIN, 0};
                (void)::poll(&fd, 1, slice);
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(slice));
            }
        }
    }

    void sleep_while_going(std::chrono::milliseconds d) {
        const auto until = std::chrono::steady_clock::now() + d;
        while (keep_going_() && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
        }
    }

    postgres_log_store::impl& store_;
    const tail_options& options_;
    const tail_callback& on_rows_;
    const std::function<bool()>& keep_going_;
    std::string filter_id_;
    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<detail::store::listener> listener_;
    bool woken_ = true;
    bool v13_ = true;
    std::int64_t started_us_ = 0;
    tail_state state_;
    bool have_state_ = false;
};

}  // namespace

void postgres_log_store::tail(const tail_options& options, const tail_callback& on_rows,
                              const std::function<bool()>& keep_going) {
    follower f(*impl_, options, on_rows, keep_going);
    f.run();
}

}  // namespace spdlog_ext
