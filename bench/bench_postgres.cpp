// What the postgres_batch_sink costs against the usual ways of getting logs into PostgreSQL:
// the same rows, the same table shape and indexes (postgres_config{}.indexes, the sink's
// default), measured in the same run, each on a fresh table:
//
//   psql \copy       psql's \copy of a COPY text file holding the rows (only psql is timed)
//
// The baselines write the very rows the sink writes, timestamps included (taken from an untimed
// sink run of the same records first: logging calls come faster than one per microsecond, and
// the repeated timestamps cost the server's index ~8 % more than evenly spaced ones would).
//   sink batch N     logger->info("...", i) with scoped fields into a postgres_batch_sink with
//                    batch_max_records N, timed from the first call until flush_for() returns
//                    (everything committed); then checked with SELECT count(*)
//   INSERT 50/tx     the usual hand-written handler: one 50-row INSERT per transaction (libpqxx)
//   INSERT 1/tx      one single-row INSERT per transaction, on min(rows, 20000) rows
//
//   bench_postgres [rows=200000] [batch sizes=1000,5000,20000]
//
// Server: SPDLOG_EXT_BENCH_PG_URL, else SPDLOG_EXT_TEST_PG_URL. It must be durable (fsync,
// full_page_writes and synchronous_commit on, as in production): bench/run_bench_postgres.sh
// starts such a server and runs this against it. A server without them (scripts/services.sh's
// test server: fsync off) flatters a writer that commits often and is refused unless
// SPDLOG_EXT_BENCH_NONDURABLE=1. psql: PATH, else $SPDLOG_EXT_TEST_PG_BINDIR.
// SPDLOG_EXT_BENCH_RUNS: repetitions (default 3, median reported; the methods take turns within
// each repetition, and sink / psql \copy is also given as the median of each run's own ratio, the
// figure that holds on a loaded machine). SPDLOG_EXT_BENCH_QUICK=1: psql \copy and the sink only
// (no INSERT baselines, no logging-call part). Tables are dropped at the end.
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <spdlog_ext/sinks/postgres_batch_sink.h>
#include <spdlog_ext/spdlog_ext.h>
#include "bench_common.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr std::size_t insert_batch_rows = 50;
constexpr std::size_t insert_single_max_rows = 20000;
constexpr const char* logger_name = "bench";
// The message of record i, for the sink's logging calls and the baselines' rows alike.
constexpr char message_format[] = "request handled: GET /api/v1/orders/{} status 200 in 12.5 ms";
// The columns every baseline writes; the others stay NULL (as for a logger->info() call
// without source location or exception).
constexpr const char* columns =
    "timestamp, level, logger_name, process_id, thread_id, thread_name, hostname, message, "
    "extra_data";

// CPU seconds (user + system) of this process (RUSAGE_SELF) or its finished children.
double cpu_seconds(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    const auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// Wall-clock time of a measurement and the client's CPU time in it (psql's, for \copy).
struct timing {
    double wall = 0;
    double cpu = 0;
};

// ---------------------------------------------------------------- rows

// One log record as the baselines write it: what the sink writes for logger->info(message) with
// the fields {"service": "checkout", "user_id": i % 50000}.
struct log_row {
    std::string timestamp;  // "YYYY-MM-DD HH:MM:SS.ffffff+00"
    std::string message;
    std::string extra_data;  // JSON object
};

struct row_constants {
    long process_id = 0;
    std::uint64_t thread_id = 0;
    std::string thread_name;
    std::string hostname;
};

std::string message_of(std::size_t i) {
    return fmt::format(message_format, i);
}

int user_id_of(std::size_t i) {
    return static_cast<int>(i % 50000);
}

// The rows, with the timestamps the sink gave the same records (`timestamps`, one per row):
// logging calls come faster than one per microsecond, so many rows share a timestamp, which
// costs the server's (level, timestamp) index more than distinct ones would (~8 % of a COPY).
std::vector<log_row> make_rows(std::size_t n, const std::vector<std::string>& timestamps) {
    std::vector<log_row> rows;
    rows.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        log_row r;
        r.timestamp = timestamps.at(i);
        r.message = message_of(i);
        r.extra_data = R"({"service":"checkout","user_id":)" + std::to_string(user_id_of(i)) + "}";
        rows.push_back(std::move(r));
    }
    return rows;
}

// COPY text format: backslash, tab, newline and carriage return escaped.
std::string copy_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
    return out;
}

void write_copy_file(const fs::path& path, const std::vector<log_row>& rows,
                     const row_constants& k) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string host = copy_escape(k.hostname);
    for (const auto& r : rows) {
        out << r.timestamp << "\tINFO\t" << logger_name << '\t' << k.process_id << '\t'
            << k.thread_id << '\t' << copy_escape(k.thread_name) << '\t' << host << '\t'
            << copy_escape(r.message) << '\t' << copy_escape(r.extra_data) << '\n';
    }
    if (!out.flush()) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

// ---------------------------------------------------------------- tables

const char* preset_name(spdlog_ext::postgres_indexes p) {
    switch (p) {
        case spdlog_ext::postgres_indexes::none:
            return "none";
        case spdlog_ext::postgres_indexes::minimal:
            return "minimal";
        case spdlog_ext::postgres_indexes::standard:
            return "standard";
        case spdlog_ext::postgres_indexes::full:
            return "full";
    }
    return "?";
}

// The presets of postgres_indexes, as documented in postgres_batch_sink.h, with the txid BRIN
// the sink adds to a table it creates (for postgres_log_store::tail).
std::vector<std::string> index_statements(spdlog_ext::postgres_indexes p, const std::string& t) {
    using spdlog_ext::postgres_indexes;
    std::vector<std::string> out;
    if (p == postgres_indexes::none) {
        return out;
    }
    out.push_back("CREATE INDEX ON " + t + " USING brin (timestamp)");
    out.push_back("CREATE INDEX ON " + t + " (level, timestamp)");
    out.push_back("CREATE INDEX ON " + t +
                  " USING brin (txid) WITH (pages_per_range = 32, autosummarize = on)");
    if (p == postgres_indexes::minimal) {
        return out;
    }
    out.push_back("CREATE INDEX ON " + t + " (logger_name, timestamp)");
    out.push_back("CREATE INDEX ON " + t + " (hostname, timestamp)");
    if (p == postgres_indexes::full) {
        out.push_back("CREATE INDEX ON " + t + " USING gin (extra_data jsonb_path_ops)");
    }
    return out;
}

void exec_all(pqxx::connection& c, const std::vector<std::string>& statements) {
    pqxx::work w(c);
    for (const auto& s : statements) {
        w.exec(s);
    }
    w.commit();
}

void create_table(pqxx::connection& c, const std::string& t, spdlog_ext::postgres_indexes p) {
    std::vector<std::string> sql{
        "DROP TABLE IF EXISTS " + t,
        "CREATE TABLE " + t +
            " (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ NOT NULL, level TEXT NOT NULL CHECK "
            "(level IN ('TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL')), logger_name TEXT "
            "NOT NULL, process_id INTEGER, thread_id BIGINT, thread_name TEXT, hostname TEXT, "
            "message TEXT NOT NULL, exception TEXT, function_name TEXT, module TEXT, filename "
            "TEXT, lineno INTEGER, pathname TEXT, extra_data JSONB, created_at TIMESTAMPTZ NOT "
            "NULL DEFAULT now(), txid BIGINT DEFAULT (pg_current_xact_id()::text::bigint))"};
    for (auto& s : index_statements(p, t)) {
        sql.push_back(std::move(s));
    }
    exec_all(c, sql);
}

void drop_tables(pqxx::connection& c, const std::vector<std::string>& tables) {
    std::vector<std::string> sql;
    for (const auto& t : tables) {
        sql.push_back("DROP TABLE IF EXISTS " + t);
    }
    exec_all(c, sql);
}

// Drops what a run left behind after an error: tables named <base>_...
void drop_leftovers(const std::string& url, const std::string& base) {
    try {
        pqxx::connection c(url);
        pqxx::work w(c);
        const pqxx::result r = w.exec(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = "
            "current_schema() AND starts_with(tablename, " +
            w.quote(base + "_") + ")");
        for (const auto& row : r) {
            w.exec("DROP TABLE IF EXISTS " + row[0].as<std::string>());
        }
        w.commit();
    } catch (const std::exception&) {
    }
}

// Each measurement starts without dirty buffers of the previous one (needs superuser; a no-op
// otherwise).
void checkpoint(pqxx::connection& c) {
    try {
        exec_all(c, {"CHECKPOINT"});
    } catch (const std::exception&) {
    }
}

long long scalar(pqxx::connection& c, const std::string& sql) {
    pqxx::work w(c);
    const pqxx::result r = w.exec(sql);
    w.commit();
    return r.empty() || r[0][0].is_null() ? -1 : r[0][0].as<long long>();
}

std::string text_scalar(pqxx::connection& c, const std::string& sql) {
    pqxx::work w(c);
    const pqxx::result r = w.exec(sql);
    w.commit();
    return r.empty() || r[0][0].is_null() ? std::string() : r[0][0].c_str();
}

// ---------------------------------------------------------------- a. psql \copy

std::string find_psql() {
    const std::string path = env_or_empty("PATH");
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const fs::path p = fs::path(dir.empty() ? "." : dir) / "psql";
        if (::access(p.c_str(), X_OK) == 0) {
            return p.string();
        }
    }
    const std::string bindir = env_or_empty("SPDLOG_EXT_TEST_PG_BINDIR");
    if (!bindir.empty() && ::access((fs::path(bindir) / "psql").c_str(), X_OK) == 0) {
        return (fs::path(bindir) / "psql").string();
    }
    return {};
}

timing bench_psql_copy(const std::string& psql, const std::string& url, const std::string& table,
                       const fs::path& file) {
    const std::string cmd = "\\copy " + table + " (" + columns + ") from '" + file.string() + "'";
    const double cpu0 = cpu_seconds(RUSAGE_CHILDREN);
    const auto t0 = clock_type::now();
    const int rc = run_process({psql, "-qX", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", cmd});
    const timing t{seconds_since(t0), cpu_seconds(RUSAGE_CHILDREN) - cpu0};
    if (rc != 0) {
        throw std::runtime_error("psql \\copy failed with status " + std::to_string(rc));
    }
    return t;
}

// ---------------------------------------------------------------- c. INSERT baselines

std::string values_tuple(pqxx::work& w, const log_row& r, const row_constants& k) {
    return "(" + w.quote(r.timestamp) + ", 'INFO', " + w.quote(std::string(logger_name)) + ", " +
           std::to_string(k.process_id) + ", " + std::to_string(k.thread_id) + ", " +
           w.quote(k.thread_name) + ", " + w.quote(k.hostname) + ", " + w.quote(r.message) + ", " +
           w.quote(r.extra_data) + ")";
}

// One INSERT of rows_per_tx rows per transaction, over the first n rows, on one connection
// (connecting is timed, as for psql).
timing bench_insert(const std::string& url, const std::string& table,
                    const std::vector<log_row>& rows, std::size_t n, std::size_t rows_per_tx,
                    const row_constants& k) {
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    const auto t0 = clock_type::now();
    pqxx::connection c(url);
    const std::string head = "INSERT INTO " + table + " (" + columns + ") VALUES ";
    for (std::size_t i = 0; i < n; i += rows_per_tx) {
        pqxx::work w(c);
        std::string sql = head;
        const std::size_t end = std::min(n, i + rows_per_tx);
        for (std::size_t j = i; j < end; ++j) {
            if (j != i) {
                sql += ", ";
            }
            sql += values_tuple(w, rows[j], k);
        }
        w.exec(sql);
        w.commit();
    }
    return {seconds_since(t0), cpu_seconds(RUSAGE_SELF) - cpu0};
}

// ---------------------------------------------------------------- b. the sink

// What the engine's error handler reported: the first few errors and how many in all.
struct error_log {
    std::mutex mu;
    std::vector<std::string> first;
    std::size_t count = 0;
};

struct sink_result {
    timing time;              // first logging call until flush_for() returned
    double call_seconds = 0;  // the logging calls alone
    bool flushed = false;     // flush_for() drained everything in time
    spdlog_ext::sink_stats stats;
    std::vector<std::string> errors;
    std::size_t error_count = 0;
};

// Logs rows records (after one warm-up record that makes the worker connect and create the
// table outside the timing) into a fresh table <prefix>_logs.
sink_result bench_sink(const std::string& url, const std::string& prefix, std::size_t rows,
                       std::size_t batch_records) {
    auto errors = std::make_shared<error_log>();
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = url;
    cfg.table_prefix = prefix;
    // SPDLOG_EXT_BENCH_PG_PARTITION=day|week|month: the sink's table partitioned (psql's is not).
    const std::string partition = env_or_empty("SPDLOG_EXT_BENCH_PG_PARTITION");
    cfg.partition = partition == "day"     ? spdlog_ext::postgres_partition::day
                    : partition == "week"  ? spdlog_ext::postgres_partition::week
                    : partition == "month" ? spdlog_ext::postgres_partition::month
                                           : spdlog_ext::postgres_partition::none;
    cfg.engine.batch_max_records = batch_records;
    cfg.engine.batch_max_bytes = std::size_t(256) << 20;  // let the record count decide
    cfg.engine.queue_max_records = rows + 1000;           // nothing overflows
    cfg.engine.queue_max_bytes = std::size_t(1) << 30;
    cfg.engine.flush_timeout = std::chrono::minutes(5);
    cfg.engine.fallback = std::make_shared<spdlog::sinks::null_sink_mt>();  // counted in stats
    cfg.engine.error_handler = [errors](const std::string& e) {
        std::lock_guard<std::mutex> lock(errors->mu);
        if (errors->first.size() < 5) {
            errors->first.push_back(e);
        }
        ++errors->count;
    };

    // SPDLOG_EXT_BENCH_PG_COLUMNS set (even empty): each record also carries latency_ms and ok;
    // a non-empty value is the LOG_POSTGRES_COLUMNS spec the sink promotes (without ":index":
    // the run checks the baselines' index count).
    const char* promoted = std::getenv("SPDLOG_EXT_BENCH_PG_COLUMNS");
    if (promoted != nullptr && *promoted != '\0') {
        ::setenv("LOG_POSTGRES_COLUMNS", promoted, 1);
        cfg.columns = spdlog_ext::postgres_config::from_env().columns;
    }

    sink_result res;
    {
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        auto logger = std::make_shared<spdlog::logger>(logger_name, sink);
        logger->set_level(spdlog::level::info);

        logger->info("warm-up");
        res.flushed = sink->flush_for(std::chrono::minutes(1));
        if (res.flushed) {
            spdlog_ext::scoped_fields service{{"service", "checkout"}};
            const double cpu0 = cpu_seconds(RUSAGE_SELF);
            const auto t0 = clock_type::now();
            for (std::size_t i = 0; i < rows; ++i) {
                spdlog_ext::scoped_fields user{{"user_id", user_id_of(i)}};
                if (promoted != nullptr) {
                    spdlog_ext::log(*logger, spdlog::level::info,
                                    {{"latency_ms", 12.5 + double(i % 100)}, {"ok", i % 10 != 0}},
                                    message_format, i);
                } else {
                    logger->info(message_format, i);
                }
            }
            res.call_seconds = seconds_since(t0);
            res.flushed = sink->flush_for(std::chrono::minutes(5));
            res.time = {seconds_since(t0), cpu_seconds(RUSAGE_SELF) - cpu0};
        }
        res.stats = sink->stats();
    }  // the sink shuts down here
    std::lock_guard<std::mutex> lock(errors->mu);
    res.errors = errors->first;
    res.error_count = errors->count;
    return res;
}

// ---------------------------------------------------------------- main

struct method {
    std::string label;
    std::size_t rows = 0;
    std::vector<double> seconds;
    std::vector<double> cpu;

    void add(const timing& t) {
        seconds.push_back(t.wall);
        cpu.push_back(t.cpu);
    }
    double rate() const {
        const double m = median(seconds);
        return m > 0 ? double(rows) / m : 0.0;
    }
    void print() const {
        std::string all;
        for (double s : seconds) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.3f", all.empty() ? "" : " ", s);
            all += buf;
        }
        std::printf("%-30s %8.3f %9.0f %8.3f  %s\n", label.c_str(), median(seconds), rate(),
                    median(cpu), all.c_str());
    }
};

std::vector<std::size_t> parse_sizes(const std::string& s) {
    std::vector<std::size_t> out;
    std::istringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) {
        const long v = std::atol(item.c_str());
        if (v > 0) {
            out.push_back(static_cast<std::size_t>(v));
        }
    }
    return out;
}

std::string hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "localhost";
    }
    return buf;
}

// Checks a sink run against its table (all rows there, once each, same indexes as the
// baselines) and prints the details on stderr; false on any problem.
bool check_sink_run(pqxx::connection& admin, const std::string& table, const sink_result& r,
                    std::size_t expected_rows, long long expected_indexes, bool show_row) {
    const long long count = scalar(admin, "SELECT count(*) FROM " + table);
    const long long distinct = scalar(admin, "SELECT count(DISTINCT message) FROM " + table);
    const long long batched = scalar(admin, "SELECT sum(row_count) FROM " + table + "_batches");
    const long long nindexes =
        scalar(admin, "SELECT count(*) FROM pg_indexes WHERE tablename = '" + table + "'");
    const auto& st = r.stats;
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(stderr,
                 "  %.3f s (logging calls %.3f s, CPU %.3f s), flushed %s; table: %lld rows "
                 "(%lld distinct, %lld in _batches; expected %zu incl. warm-up), %lld indexes "
                 "(baselines %lld)\n  stats: enqueued %llu delivered %llu batches %llu fallback "
                 "%llu dropped %llu retries %llu possible_duplicates %llu failed_batches %llu\n",
                 r.time.wall, r.call_seconds, r.time.cpu, r.flushed ? "yes" : "NO", count, distinct,
                 batched, expected_rows, nindexes, expected_indexes, u(st.enqueued),
                 u(st.delivered), u(st.batches), u(st.fallback), u(st.dropped), u(st.retries),
                 u(st.possible_duplicates), u(st.failed_batches));
    for (const auto& e : r.errors) {
        std::fprintf(stderr, "  sink error: %s\n", e.c_str());
    }
    if (r.error_count > r.errors.size()) {
        std::fprintf(stderr, "  ... %zu errors in all\n", r.error_count);
    }
    if (show_row) {
        std::fprintf(stderr, "  a row written by the sink: %s\n",
                     text_scalar(admin, "SELECT row_to_json(l)::text FROM " + table +
                                            " l WHERE message <> 'warm-up' LIMIT 1")
                         .c_str());
    }
    const auto expected = static_cast<long long>(expected_rows);
    const bool ok = r.flushed && count == expected && distinct == expected && batched == expected &&
                    st.delivered == expected_rows && st.fallback == 0 && st.dropped == 0 &&
                    nindexes == expected_indexes;
    if (!ok) {
        std::fprintf(stderr, "  SINK PROBLEM (see the line above)\n");
    }
    return ok;
}

// Per-call cost of logger->info() (median and p99 of single calls, ns) with `sink` attached.
struct call_cost {
    double median_ns;
    double p99_ns;
};

call_cost measure_calls(const spdlog::sink_ptr& sink, std::size_t calls) {
    spdlog::logger logger("calls", sink);
    for (std::size_t i = 0; i < 2000; ++i) {
        logger.info("warm-up request {} handled", i);
    }
    std::vector<double> ns(calls);
    for (std::size_t i = 0; i < calls; ++i) {
        const auto t0 = clock_type::now();
        logger.info("user request handled in handler number {}", i);
        ns[i] = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
    }
    std::sort(ns.begin(), ns.end());
    return {ns[calls / 2], ns[calls * 99 / 100]};
}

// The logging call while the database is up, and while it is down (connection refused), against
// spdlog's null sink: the engine must not slow the call until its queue is full.
void bench_calls_up_and_down(const std::string& url, const std::string& prefix) {
    constexpr std::size_t calls = 100000;
    const auto pg_sink = [&](const std::string& conninfo) {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = conninfo;
        cfg.table_prefix = prefix;
        cfg.connect_timeout = std::chrono::seconds(1);
        cfg.engine.queue_max_records = calls * 2 + 10000;
        cfg.engine.queue_max_bytes = std::size_t(1) << 30;
        cfg.engine.fallback = std::make_shared<spdlog::sinks::null_sink_mt>();
        cfg.engine.error_handler = [](const std::string&) {};
        return std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
    };
    const call_cost null_cost =
        measure_calls(std::make_shared<spdlog::sinks::null_sink_mt>(), calls);
    auto up = pg_sink(url);
    const call_cost up_cost = measure_calls(up, calls);
    up->flush_for(std::chrono::seconds(60));
    auto down = pg_sink("postgresql://127.0.0.1:1/nowhere");
    const call_cost down_cost = measure_calls(down, calls);
    const auto down_stats = down->stats();
    down->shutdown(std::chrono::milliseconds(0));  // the rest goes to the (null) fallback
    std::printf(
        "\nlogging call, %zu calls (ns per call, timer included)    median    p99"
        "   median/null\n",
        calls);
    std::printf("  spdlog null_sink_mt                                %6.0f %6.0f   1.00x\n",
                null_cost.median_ns, null_cost.p99_ns);
    std::printf("  postgres sink, database up                         %6.0f %6.0f   %.2fx\n",
                up_cost.median_ns, up_cost.p99_ns, up_cost.median_ns / null_cost.median_ns);
    std::printf(
        "  postgres sink, database down (refused)             %6.0f %6.0f   %.2fx"
        "  (queued %llu, connected %s)\n",
        down_cost.median_ns, down_cost.p99_ns, down_cost.median_ns / null_cost.median_ns,
        static_cast<unsigned long long>(down_stats.queue_depth),
        down_stats.backend.value("connected", false) ? "yes" : "no");
}

int run(int argc, char** argv) {
    const long rows_arg = argc > 1 ? std::atol(argv[1]) : 200000;
    const std::vector<std::size_t> batch_sizes =
        parse_sizes(argc > 2 ? argv[2] : "1000,5000,20000");
    const long runs_env = std::atol(env_or_empty("SPDLOG_EXT_BENCH_RUNS").c_str());
    const int runs = runs_env > 0 ? static_cast<int>(runs_env) : 3;
    if (rows_arg <= 0 || batch_sizes.empty()) {
        std::fprintf(stderr, "usage: bench_postgres [rows=200000] [batch sizes=1000,5000,20000]\n");
        return 2;
    }
    const auto rows = static_cast<std::size_t>(rows_arg);
    std::string url = env_or_empty("SPDLOG_EXT_BENCH_PG_URL");
    if (url.empty()) {
        url = env_or_empty("SPDLOG_EXT_TEST_PG_URL");
    }
    if (url.empty()) {
        std::fprintf(stderr,
                     "bench_postgres: set SPDLOG_EXT_BENCH_PG_URL or SPDLOG_EXT_TEST_PG_URL "
                     "(e.g. . \"$(scripts/services.sh start)/env\")\n");
        return 2;
    }
    const std::string psql = find_psql();
    if (psql.empty()) {
        std::fprintf(stderr,
                     "bench_postgres: psql not found in PATH or $SPDLOG_EXT_TEST_PG_BINDIR\n");
        return 2;
    }

    const auto indexes = spdlog_ext::postgres_config{}.indexes;
    // The baselines' indexes plus the primary key.
    const auto expected_indexes = static_cast<long long>(index_statements(indexes, "t").size() + 1);
    const std::size_t single_rows = std::min(rows, insert_single_max_rows);
    const std::string base = "bench_pg_" + std::to_string(::getpid());
    const fs::path dir = fs::temp_directory_path() / (base + "_data");
    fs::create_directories(dir);
    const fs::path copy_file = dir / "rows.copy";
    struct cleanup {
        const std::string& url;
        const std::string& base;
        const fs::path& dir;
        ~cleanup() {
            std::error_code ec;
            fs::remove_all(dir, ec);
            drop_leftovers(url, base);
        }
    } at_exit{url, base, dir};

    row_constants k;
    k.process_id = static_cast<long>(::getpid());
    k.thread_id = static_cast<std::uint64_t>(spdlog::details::os::thread_id());
    char thread_name[64] = {};
    ::pthread_getname_np(::pthread_self(), thread_name, sizeof thread_name);
    k.thread_name = thread_name;
    k.hostname = hostname();
    pqxx::connection admin(url);
    // The baselines write the very rows the sink writes, timestamps included: one untimed sink
    // run of the same records gives them.
    std::vector<std::string> timestamps;
    {
        const std::string prefix = base + "_stamps";
        const std::string table = prefix + "_logs";
        const sink_result r = bench_sink(url, prefix, rows, 20000);
        if (!r.flushed) {
            std::fprintf(stderr, "bench_postgres: the sink run for the timestamps failed\n");
            return 1;
        }
        pqxx::work w(admin);
        for (const auto& row :
             w.exec("SELECT to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') "
                    "FROM " +
                    table + " WHERE message <> 'warm-up' ORDER BY id")) {
            timestamps.push_back(row[0].c_str() + std::string("+00"));
        }
        w.commit();
        drop_tables(admin, {table, table + "_batches"});
        if (timestamps.size() != rows) {
            std::fprintf(stderr, "bench_postgres: the sink run stored %zu rows of %zu\n",
                         timestamps.size(), rows);
            return 1;
        }
    }
    const std::vector<log_row> data = make_rows(rows, timestamps);
    write_copy_file(copy_file, data, k);

    std::printf(
        "bench_postgres: %zu rows, median of %d runs, indexes \"%s\" (postgres_config "
        "default), %.1f MB of COPY text\n",
        rows, runs, preset_name(indexes), double(fs::file_size(copy_file)) / (1024.0 * 1024.0));
    const std::string fsync = text_scalar(admin, "SHOW fsync");
    const std::string full_page_writes = text_scalar(admin, "SHOW full_page_writes");
    const std::string synchronous_commit = text_scalar(admin, "SHOW synchronous_commit");
    const bool durable = fsync == "on" && full_page_writes == "on" && synchronous_commit == "on";
    std::printf("server: PostgreSQL %s, fsync %s, full_page_writes %s, synchronous_commit %s%s\n\n",
                text_scalar(admin, "SHOW server_version").c_str(), fsync.c_str(),
                full_page_writes.c_str(), synchronous_commit.c_str(),
                durable ? "" : " (NOT DURABLE: not comparable to production)");
    std::fflush(stdout);
    if (!durable && env_or_empty("SPDLOG_EXT_BENCH_NONDURABLE") != "1") {
        std::fprintf(stderr,
                     "bench_postgres: the server is not durable; run bench/run_bench_postgres.sh "
                     "(a durable throwaway server), or set SPDLOG_EXT_BENCH_NONDURABLE=1\n");
        return 2;
    }

    // Only psql \copy and the sink (for quick comparisons while working on the sink).
    const bool quick = env_or_empty("SPDLOG_EXT_BENCH_QUICK") == "1";
    method copy{"psql \\copy", rows, {}, {}};
    std::vector<method> sinks;
    for (std::size_t b : batch_sizes) {
        const bool is_default = b == spdlog_ext::postgres_config{}.engine.batch_max_records;
        sinks.push_back(
            {"sink, batch " + std::to_string(b) + (is_default ? " (default)" : ""), rows, {}, {}});
    }
    method insert50{"INSERT 50 rows/tx", rows, {}, {}};
    method insert1{
        "INSERT 1 row/tx (" + std::to_string(single_rows) + " rows)", single_rows, {}, {}};
    std::vector<std::vector<double>> sink_copy_ratios(batch_sizes.size());  // per run
    bool sink_ok = true;

    // A baseline on a fresh table, dropped afterwards.
    const auto baseline = [&](method& m, const std::string& table, auto&& body) {
        create_table(admin, table, indexes);
        checkpoint(admin);
        m.add(body(table));
        std::fprintf(stderr, "%s: %.3f s\n", m.label.c_str(), m.seconds.back());
        drop_tables(admin, {table});
    };

    for (int run = 1; run <= runs; ++run) {
        std::fprintf(stderr, "---- run %d of %d\n", run, runs);
        const std::string t = base + "_r" + std::to_string(run);
        baseline(copy, t + "_copy", [&](const std::string& table) {
            return bench_psql_copy(psql, url, table, copy_file);
        });
        for (std::size_t s = 0; s < batch_sizes.size(); ++s) {
            const std::string prefix = t + "_sink" + std::to_string(batch_sizes[s]);
            const std::string table = prefix + "_logs";
            drop_tables(admin, {table, table + "_batches"});
            checkpoint(admin);
            const sink_result r = bench_sink(url, prefix, rows, batch_sizes[s]);
            std::fprintf(stderr, "%s:\n", sinks[s].label.c_str());
            sink_ok &=
                check_sink_run(admin, table, r, rows + 1, expected_indexes, run == 1 && s == 0);
            sinks[s].add(r.time);
            sink_copy_ratios[s].push_back(copy.seconds.back() / r.time.wall);
            drop_tables(admin, {table, table + "_batches"});
        }
        if (quick) {
            continue;
        }
        baseline(insert50, t + "_insert50", [&](const std::string& table) {
            return bench_insert(url, table, data, rows, insert_batch_rows, k);
        });
        baseline(insert1, t + "_insert1", [&](const std::string& table) {
            return bench_insert(url, table, data, single_rows, 1, k);
        });
    }

    std::printf("%-30s %8s %9s %8s  %s\n", "method", "seconds", "rows/s", "CPU s", "runs (s)");
    copy.print();
    for (const auto& m : sinks) {
        m.print();
    }
    if (!quick) {
        insert50.print();
        insert1.print();
    }
    std::printf(
        "(seconds, CPU: medians; CPU is the client's: psql's for \\copy, this process's "
        "otherwise)\n\n");
    for (std::size_t s = 0; s < sinks.size(); ++s) {
        const method& m = sinks[s];
        std::printf(
            "%-18s sink / psql \\copy %.2f (of the medians; median of the runs' own ratios "
            "%.2f; goal >= 1.0)",
            m.label.c_str(), m.rate() / copy.rate(), median(sink_copy_ratios[s]));
        if (!quick) {
            std::printf(", sink / INSERT 50/tx %.2f (goal >= 3)", m.rate() / insert50.rate());
        }
        std::printf("\n");
    }
    if (!quick) {
        std::printf("INSERT 1 row/tx is %.1fx slower than INSERT 50 rows/tx\n",
                    insert50.rate() / insert1.rate());
        bench_calls_up_and_down(url, base + "_calls");
        drop_tables(admin, {base + "_calls_logs", base + "_calls_logs_batches"});
    }
    if (!sink_ok) {
        std::printf(
            "\nSINK PROBLEMS: missing, duplicate or undelivered rows, or other indexes "
            "(details on stderr)\n");
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_postgres: %s\n", e.what());
        return 1;
    }
}
