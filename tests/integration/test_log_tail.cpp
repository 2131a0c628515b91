// postgres_log_store::tail against the real PostgreSQL: a transaction that commits late is
// delivered once, after its commit; 4 writer processes and a server crash (pg_ctl stop -m
// immediate) in the middle, with NOTIFY and polling: the tail's ids are exactly the run's rows,
// none twice, and every writer's records are in the table or its fallback; a tail stopped and
// resumed from its last cursor; the latency from the log call to the callback.
//
// Row counts stay small (SPDLOG_EXT_TAIL_ROWS per writer, default 2000) to keep the file fast.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/child_process.h"
#include "support/env_guard.h"
#include "support/test_backends.h"

#ifndef SPDLOG_EXT_LOG_WRITER_CHILD
#error \
    "SPDLOG_EXT_LOG_WRITER_CHILD (the path of tests/integration/log_writer_child) must be defined"
#endif

using namespace std::chrono_literals;

namespace {

std::string unique_prefix(const std::string& name) {
    return "tail_" + name + "_" + std::to_string(static_cast<long long>(::getpid()));
}

spdlog_ext::postgres_config config_for(const std::string& prefix) {
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = pg_test::url();
    cfg.table_prefix = prefix;
    cfg.engine.batch_max_delay = 50ms;
    cfg.engine.retry_initial = 50ms;
    cfg.engine.retry_max_delay = 500ms;
    cfg.engine.fallback = std::make_shared<test::capture_sink_mt>();
    return cfg;
}

int rows_per_writer() {
    const char* v = std::getenv("SPDLOG_EXT_TAIL_ROWS");
    const int n = v != nullptr ? std::atoi(v) : 0;
    return n > 0 ? n : 2000;
}

// A tail on a thread of its own, collecting what it delivers.
class tail_thread {
  public:
    tail_thread(const spdlog_ext::postgres_config& cfg, spdlog_ext::tail_options options)
        : store_(cfg), options_(std::move(options)) {
        thread_ = std::thread([this] {
            try {
                store_.tail(
                    options_,
                    [this](const std::vector<spdlog_ext::log_row>& rows,
                           const std::string& cursor) {
                        const auto now = std::chrono::steady_clock::now();
                        std::lock_guard<std::mutex> lock(mu_);
                        for (const auto& r : rows) {
                            rows_.push_back(r);
                            arrival_.push_back(now);
                        }
                        cursor_ = cursor;
                        ++pages_;
                    },
                    [this] { return go_.load(); });
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu_);
                error_ = std::current_exception();
            }
            done_ = true;
        });
    }
    ~tail_thread() { stop(); }

    void stop() {
        go_ = false;
        if (thread_.joinable())
            thread_.join();
    }
    std::vector<spdlog_ext::log_row> rows() const {
        std::lock_guard<std::mutex> lock(mu_);
        return rows_;
    }
    std::vector<std::chrono::steady_clock::time_point> arrivals() const {
        std::lock_guard<std::mutex> lock(mu_);
        return arrival_;
    }
    std::string cursor() const {
        std::lock_guard<std::mutex> lock(mu_);
        return cursor_;
    }
    std::size_t count_run(const std::string& run) const {
        std::lock_guard<std::mutex> lock(mu_);
        return static_cast<std::size_t>(std::count_if(
            rows_.begin(), rows_.end(),
            [&](const auto& r) { return r.extra.value("run", std::string()) == run; }));
    }
    bool failed() const { return done_.load() && error_ != nullptr; }
    void rethrow_error() const {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_)
            std::rethrow_exception(error_);
    }

  private:
    spdlog_ext::postgres_log_store store_;
    spdlog_ext::tail_options options_;
    mutable std::mutex mu_;
    std::vector<spdlog_ext::log_row> rows_;
    std::vector<std::chrono::steady_clock::time_point> arrival_;
    std::string cursor_;
    std::size_t pages_ = 0;
    std::exception_ptr error_;
    std::atomic<bool> go_{true};
    std::atomic<bool> done_{false};
    std::thread thread_;
};

template <typename Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// The table exists (the sink made it) and the tail has started: a marker row logged after the
// tail's start shows up in it.
void make_ready(spdlog_ext::postgres_config cfg, tail_thread& tail, const std::string& run) {
    auto log = spdlog_ext::postgres_logger_mt("ready_" + run, cfg);
    for (int attempt = 0; attempt < 50; ++attempt) {
        spdlog_ext::log(log, spdlog::level::info, {{"run", run + "-ready"}}, "ready {}", attempt);
        log->flush();
        if (wait_for([&] { return tail.count_run(run + "-ready") > 0 || tail.failed(); }, 300ms))
            break;
    }
    tail.rethrow_error();
    REQUIRE(tail.count_run(run + "-ready") > 0);
}

// Before the tail can start, the table must exist.
void create_table(const spdlog_ext::postgres_config& cfg) {
    auto log = spdlog_ext::postgres_logger_mt("create_" + cfg.table_prefix, cfg);
    spdlog_ext::log(log, spdlog::level::info, {{"run", "create"}}, "create");
    log->flush();
}

std::vector<std::int64_t> table_ids(const std::string& table, const std::string& run) {
    std::vector<std::int64_t> ids;
    for (const auto& r : pg_test::query(
             "SELECT id FROM " + pg_test::quote_ident(table) +
             " WHERE extra_data->>'run' = " + pg_test::quote_literal(run) + " ORDER BY id")) {
        ids.push_back(std::stoll(*r.at(0)));
    }
    return ids;
}

std::vector<std::int64_t> tail_ids(const std::vector<spdlog_ext::log_row>& rows,
                                   const std::string& run) {
    std::vector<std::int64_t> ids;
    for (const auto& r : rows) {
        if (r.extra.value("run", std::string()) == run)
            ids.push_back(r.id);
    }
    return ids;
}

// ids sorted; false when one appears twice.
bool sort_unique(std::vector<std::int64_t>& ids) {
    std::sort(ids.begin(), ids.end());
    return std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

// 4 writer processes, a crash of the server after about a third of their records, then every
// record accounted for and the tail's ids exactly the run's rows.
void writers_with_restart(bool use_notify) {
    const std::string prefix = unique_prefix(use_notify ? "notify" : "poll");
    pg_test::table_cleanup cleanup({prefix});
    pg_test::server_restart_guard restart_guard;
    const auto cfg = config_for(prefix);
    create_table(cfg);
    spdlog_ext::tail_options options;
    options.use_notify = use_notify;
    options.poll_interval = use_notify ? 1000ms : 300ms;
    options.max_rows_per_fetch = 500;
    tail_thread tail(cfg, options);
    const std::string run = prefix + "-run";
    make_ready(cfg, tail, run);

    const int writers = 4;
    const int per_writer = rows_per_writer();
    test::env_guard env{{"LOG_POSTGRES_URL", pg_test::url().c_str()},
                        {"LOG_POSTGRES_TABLE_PREFIX", prefix.c_str()},
                        {"LOG_POSTGRES_BATCH_MAX_DELAY", "50ms"},
                        {"LOG_POSTGRES_RETRY_INITIAL", "50ms"},
                        {"LOG_POSTGRES_RETRY_MAX_DELAY", "500ms"},
                        {"LOG_POSTGRES_FALLBACK", nullptr},
                        {"DATABASE_URL", nullptr},
                        {"SPDLOG_LEVEL", nullptr}};
    std::vector<pid_t> pids;
    std::vector<std::string> err_files;
    for (int w = 0; w < writers; ++w) {
        err_files.push_back(
            (std::filesystem::temp_directory_path() / (prefix + "_w" + std::to_string(w) + ".err"))
                .string());
        // About 1.5 ms per record: the writers run for ~3 s, the crash comes at ~1 s.
        pids.push_back(test::spawn_child(test::shell_quote(SPDLOG_EXT_LOG_WRITER_CHILD) + " " +
                                             std::to_string(per_writer) + " " + run + " " +
                                             std::to_string(w) + " 1500",
                                         err_files.back()));
        REQUIRE(pids.back() > 0);
    }
    std::this_thread::sleep_for(1000ms);
    REQUIRE(pg_test::services("pg-stop-immediate") == 0);
    std::this_thread::sleep_for(1000ms);
    REQUIRE(pg_test::services("pg-start") == 0);
    REQUIRE(pg_test::wait_ready(30s));

    // Every writer's records: in the table or in its fallback (stderr), each exactly once.
    // The seq of a fallback line ("seq":N; found by hand: std::regex trips GCC 12's
    // -Wmaybe-uninitialized under the sanitizers).
    const auto seq_of = [](const std::string& line) -> std::optional<int> {
        const auto at = line.find("\"seq\":");
        if (at == std::string::npos)
            return std::nullopt;
        int value = 0;
        const char* begin = line.data() + at + 6;
        const auto [end, ec] = std::from_chars(begin, line.data() + line.size(), value);
        if (ec != std::errc() || end == begin)
            return std::nullopt;
        return value;
    };
    for (int w = 0; w < writers; ++w) {
        const auto r = test::wait_child(pids[static_cast<std::size_t>(w)],
                                        err_files[static_cast<std::size_t>(w)]);
        INFO("writer " << w << " stderr:\n" << r.err.substr(0, 2000));
        CHECK(r.exit_code == 0);
        std::vector<int> seqs;
        for (const auto& row : pg_test::query(
                 "SELECT (extra_data->>'seq')::int FROM " + pg_test::quote_ident(prefix + "_logs") +
                 " WHERE extra_data->>'run' = " + pg_test::quote_literal(run) +
                 " AND extra_data->>'writer' = '" + std::to_string(w) + "'")) {
            seqs.push_back(std::stoi(*row.at(0)));
        }
        std::size_t fallback = 0;
        std::istringstream lines(r.err);
        for (std::string line; std::getline(lines, line);) {
            if (line.find("fallback_reason") == std::string::npos)
                continue;
            if (const auto seq = seq_of(line)) {
                seqs.push_back(*seq);
                ++fallback;
            }
        }
        std::sort(seqs.begin(), seqs.end());
        CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());  // none twice
        CHECK(seqs.size() == static_cast<std::size_t>(per_writer));
        CHECK((seqs.empty() || (seqs.front() == 0 && seqs.back() == per_writer - 1)));
        MESSAGE("writer " << w << ": " << seqs.size() - fallback << " stored, " << fallback
                          << " in its fallback");
        std::filesystem::remove(err_files[static_cast<std::size_t>(w)]);
    }

    // The tail catches up: its count reaches the table's, and nothing more comes after.
    const std::size_t stored = table_ids(prefix + "_logs", run).size();
    const bool caught_up =
        wait_for([&] { return tail.count_run(run) >= stored || tail.failed(); }, 20s);
    std::this_thread::sleep_for(use_notify ? 1500ms : 800ms);  // a late duplicate would show now
    tail.stop();
    tail.rethrow_error();
    CHECK(caught_up);
    std::vector<std::int64_t> got = tail_ids(tail.rows(), run);
    std::vector<std::int64_t> want = table_ids(prefix + "_logs", run);
    const std::size_t delivered = got.size();
    CHECK(sort_unique(got));  // no id twice
    CHECK(got.size() == want.size());
    CHECK(got == want);  // exactly the run's rows
    MESSAGE(std::string(use_notify ? "notify" : "polling")
            << ": " << writers << " writers, " << want.size() << " rows stored, " << delivered
            << " delivered by the tail");
}

}  // namespace

TEST_SUITE("tail") {
    TEST_CASE("a transaction that commits late is delivered once after its commit") {
        const std::string prefix = unique_prefix("late");
        pg_test::table_cleanup cleanup({prefix});
        const auto cfg = config_for(prefix);
        create_table(cfg);
        spdlog_ext::tail_options options;
        options.poll_interval = 500ms;
        tail_thread tail(cfg, options);
        const std::string run = prefix + "-run";
        make_ready(cfg, tail, run);

        // The sink connects (and runs its set-up DDL, which would wait for T1's lock) first.
        auto log = spdlog_ext::postgres_logger_mt("late_" + prefix, cfg);
        spdlog_ext::log(log, spdlog::level::info, {{"run", run + "-warm"}}, "warm");
        log->flush();
        // T1 inserts its row first (its id and txid are the smaller ones) and stays open.
        pqxx::connection late_conn(pg_test::url());
        pqxx::work late(late_conn);
        late.exec("INSERT INTO " + pg_test::quote_ident(prefix + "_logs") +
                  " (timestamp, level, logger_name, message, extra_data) VALUES (now(), 'INFO', "
                  "'late', 'the late row', jsonb_build_object('run', " +
                  late.quote(run) + ", 'seq', 0))");
        for (int i = 1; i < 10; ++i) {
            spdlog_ext::log(log, spdlog::level::info, {{"run", run}, {"seq", i}}, "row {}", i);
        }
        log->flush();
        CHECK(wait_for([&] { return tail.count_run(run) >= 9 || tail.failed(); }, 5s));
        std::this_thread::sleep_for(700ms);  // more than a poll: the tail must not have it yet
        CHECK(tail.count_run(run) == 9);
        late.commit();
        CHECK(wait_for([&] { return tail.count_run(run) >= 10 || tail.failed(); }, 5s));
        std::this_thread::sleep_for(1200ms);  // two more polls: no repeat
        tail.stop();
        tail.rethrow_error();
        const auto rows = tail.rows();
        std::vector<int> seqs;
        for (const auto& r : rows) {
            if (r.extra.value("run", std::string()) == run)
                seqs.push_back(r.extra.value("seq", -1));
        }
        REQUIRE(seqs.size() == 10);
        CHECK(seqs.back() == 0);  // the late row last, in commit order
        std::sort(seqs.begin(), seqs.end());
        for (int i = 0; i < 10; ++i)
            CHECK(seqs[static_cast<std::size_t>(i)] == i);
    }

    TEST_CASE("4 writer processes and a server crash - the tail sees exactly their rows") {
        writers_with_restart(true);
    }

    TEST_CASE("4 writer processes and a server crash - polling without NOTIFY") {
        writers_with_restart(false);
    }

    TEST_CASE("a tail stopped and resumed from its last cursor misses and repeats nothing") {
        const std::string prefix = unique_prefix("resume");
        pg_test::table_cleanup cleanup({prefix});
        auto cfg = config_for(prefix);
        create_table(cfg);
        spdlog_ext::tail_options options;
        options.poll_interval = 300ms;
        options.max_rows_per_fetch = 64;  // pages end inside batches: transaction boundaries
        const std::string run = prefix + "-run";
        auto first = std::make_unique<tail_thread>(cfg, options);
        make_ready(cfg, *first, run);
        auto log = spdlog_ext::postgres_logger_mt("resume_" + prefix, cfg);
        const int total = 3000;
        std::thread writer([&] {
            for (int i = 0; i < total; ++i) {
                spdlog_ext::log(log, spdlog::level::info, {{"run", run}, {"seq", i}}, "row {}", i);
                if (i % 50 == 0)
                    std::this_thread::sleep_for(5ms);
            }
            log->flush();
        });
        CHECK(wait_for([&] { return first->count_run(run) >= 500 || first->failed(); }, 10s));
        first->stop();
        first->rethrow_error();
        const auto before = first->rows();
        const std::string cursor = first->cursor();
        REQUIRE(!cursor.empty());
        std::this_thread::sleep_for(300ms);  // rows committed while no tail runs
        options.resume = cursor;
        tail_thread second(cfg, options);
        writer.join();
        const std::size_t stored = table_ids(prefix + "_logs", run).size();
        CHECK(wait_for(
            [&] {
                return first->count_run(run) + second.count_run(run) >= stored || second.failed();
            },
            10s));
        std::this_thread::sleep_for(700ms);
        second.stop();
        second.rethrow_error();
        std::vector<std::int64_t> got = tail_ids(before, run);
        const auto more = tail_ids(second.rows(), run);
        got.insert(got.end(), more.begin(), more.end());
        CHECK(sort_unique(got));
        CHECK(got == table_ids(prefix + "_logs", run));
        CHECK(got.size() == static_cast<std::size_t>(total));
        MESSAGE("resume: " << tail_ids(before, run).size() << " rows before the stop, "
                           << more.size() << " after it");

        // The cursor names its filter: another filter is refused.
        spdlog_ext::postgres_log_store store(cfg);
        spdlog_ext::tail_options other = options;
        other.filter.search = "x";
        try {
            store.tail(
                other, [](const auto&, const auto&) {}, [] { return false; });
            CHECK(false);
        } catch (const spdlog_ext::store_error& e) {
            CHECK(e.what_kind() == spdlog_ext::store_error::kind::bad_cursor);
        }
    }

    TEST_CASE("tail errors - a missing table or txid column and a cursor from another server") {
        const std::string prefix = unique_prefix("errors");
        pg_test::table_cleanup cleanup({prefix});
        auto cfg = config_for(prefix);
        spdlog_ext::postgres_log_store store(cfg);
        const auto kind_of = [&](const spdlog_ext::tail_options& o) {
            try {
                store.tail(
                    o, [](const auto&, const auto&) {}, [] { return true; });
            } catch (const spdlog_ext::store_error& e) {
                MESSAGE(std::string(e.what()));
                return e.what_kind();
            }
            return spdlog_ext::store_error::kind::config;  // returned: wrong
        };
        spdlog_ext::tail_options options;
        CHECK(kind_of(options) == spdlog_ext::store_error::kind::missing_table);
        pg_test::exec(
            "CREATE TABLE " + pg_test::quote_ident(prefix + "_logs") +
            " (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ NOT NULL, level TEXT NOT NULL,"
            " logger_name TEXT NOT NULL, process_id INTEGER, thread_id BIGINT, thread_name TEXT,"
            " hostname TEXT, message TEXT NOT NULL, exception TEXT, function_name TEXT,"
            " module TEXT, filename TEXT, lineno INTEGER, pathname TEXT, extra_data JSONB,"
            " created_at TIMESTAMPTZ NOT NULL DEFAULT now())");
        CHECK(kind_of(options) == spdlog_ext::store_error::kind::missing_table);  // no txid column
        // The sink adds the column to the existing table (and keeps writing).
        create_table(cfg);
        CHECK(pg_test::scalar(
                  "SELECT count(*) FROM information_schema.columns WHERE table_name = " +
                  pg_test::quote_literal(prefix + "_logs") + " AND column_name = 'txid'") == "1");
        // A cursor from another server (another system identifier) is refused.
        std::string cursor;
        {
            spdlog_ext::tail_options o;
            o.poll_interval = 100ms;
            tail_thread t(cfg, o);
            make_ready(cfg, t, prefix + "-run");
            cursor = t.cursor();
        }
        REQUIRE(cursor.size() > 3);
        const std::string json = [&] {
            std::string text;
            // decode by hand: replace "sys" with another value and encode again
            const std::string b64 = cursor.substr(3);
            static const std::string alphabet =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            unsigned acc = 0;
            int bits = 0;
            for (char c : b64) {
                acc = (acc << 6) | static_cast<unsigned>(alphabet.find(c));
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    text += static_cast<char>((acc >> bits) & 0xff);
                }
            }
            return text;
        }();
        auto j = nlohmann::json::parse(json);
        j["sys"] = j["sys"].get<std::int64_t>() + 1;
        const std::string changed = j.dump();
        std::string b64;
        {
            static const std::string alphabet =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            unsigned acc = 0;
            int bits = 0;
            for (unsigned char c : changed) {
                acc = (acc << 8) | c;
                bits += 8;
                while (bits >= 6) {
                    bits -= 6;
                    b64 += alphabet[(acc >> bits) & 63];
                }
            }
            if (bits > 0)
                b64 += alphabet[(acc << (6 - bits)) & 63];
        }
        options.resume = "t1." + b64;
        CHECK(kind_of(options) == spdlog_ext::store_error::kind::bad_cursor);
        options.resume = "t1.garbage!";
        CHECK(kind_of(options) == spdlog_ext::store_error::kind::bad_cursor);
    }

    TEST_CASE("latency from the log call to the tail callback") {
        const std::string prefix = unique_prefix("latency");
        pg_test::table_cleanup cleanup({prefix});
        auto cfg = config_for(prefix);
        cfg.engine.batch_max_delay = 200ms;  // the engine's default
        create_table(cfg);
        spdlog_ext::tail_options options;
        options.poll_interval = 30s;  // longer than the test: only NOTIFY can wake the tail
        tail_thread tail(cfg, options);
        const std::string run = prefix + "-run";
        make_ready(cfg, tail, run);

        // A sink with NOTIFY off: its row waits for the (30 s) poll.
        auto quiet_cfg = cfg;
        quiet_cfg.notify = false;
        auto quiet = spdlog_ext::postgres_logger_mt("quiet_" + prefix, quiet_cfg);
        spdlog_ext::log(quiet, spdlog::level::info, {{"run", run + "-quiet"}}, "quiet");
        quiet->flush();
        std::this_thread::sleep_for(1500ms);
        CHECK(tail.count_run(run + "-quiet") == 0);

        auto log = spdlog_ext::postgres_logger_mt("latency_" + prefix, cfg);
        const int n = 40;
        std::vector<std::chrono::steady_clock::time_point> sent;
        for (int i = 0; i < n; ++i) {
            sent.push_back(std::chrono::steady_clock::now());
            spdlog_ext::log(log, spdlog::level::info, {{"run", run}, {"seq", i}}, "row {}", i);
            std::this_thread::sleep_for(37ms);  // not in step with the batch delay
        }
        CHECK(wait_for(
            [&] { return tail.count_run(run) >= static_cast<std::size_t>(n) || tail.failed(); },
            10s));
        CHECK(tail.count_run(run + "-quiet") == 1);  // woken by the others' NOTIFY
        tail.stop();
        tail.rethrow_error();
        const auto rows = tail.rows();
        const auto arrivals = tail.arrivals();
        std::vector<double> ms;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (rows[i].extra.value("run", std::string()) != run)
                continue;
            const int seq = rows[i].extra.value("seq", -1);
            REQUIRE(seq >= 0);
            ms.push_back(std::chrono::duration<double, std::milli>(
                             arrivals[i] - sent[static_cast<std::size_t>(seq)])
                             .count());
        }
        REQUIRE(ms.size() == static_cast<std::size_t>(n));
        std::sort(ms.begin(), ms.end());
        const double p50 = ms[ms.size() / 2];
        const double p90 = ms[ms.size() * 9 / 10];
        MESSAGE("log call → tail callback, batch delay 200 ms, NOTIFY: p50 "
                << p50 << " ms, p90 " << p90 << " ms, max " << ms.back() << " ms");
        CHECK(p50 < 200 + 400);  // loose: the batch delay plus a commit and a round
    }
}
