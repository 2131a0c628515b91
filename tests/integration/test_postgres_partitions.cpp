// LOG_POSTGRES_PARTITION against the real PostgreSQL: records logged at past, boundary and far
// future times land in their partitions (tableoid), partitions are made ahead and the DEFAULT
// partition's rows moved into a partition made later, retention drops exactly the expired
// partitions, a table of the other kind is refused with how to migrate, the log store works on
// a partitioned table, and writer processes survive a server crash exactly once.
//
// Every sink test accounts for every record: delivered + fallback + dropped == logged.
#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/civil_time.h"
#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/postgres_log_store.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/child_process.h"
#include "support/env_guard.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

#ifndef SPDLOG_EXT_LOG_WRITER_CHILD
#error \
    "SPDLOG_EXT_LOG_WRITER_CHILD (the path of tests/integration/log_writer_child) must be defined"
#endif

using namespace std::chrono_literals;

namespace {

using sys_clock = std::chrono::system_clock;
constexpr std::int64_t day_s = 86400;

std::string prefix_for(const std::string& name) {
    return "part_" + name + "_" + std::to_string(static_cast<long long>(::getpid()));
}

std::int64_t today_start() {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(sys_clock::now().time_since_epoch())
            .count();
    return now / day_s * day_s;
}

sys_clock::time_point at_epoch(std::int64_t seconds, std::int64_t extra_us = 0) {
    return sys_clock::time_point(std::chrono::duration_cast<sys_clock::duration>(
        std::chrono::seconds(seconds) + std::chrono::microseconds(extra_us)));
}

// "_p20261128" for the UTC day starting at `day_start`.
std::string day_suffix(std::int64_t day_start) {
    const auto d = spdlog_ext::detail::civil_from_days(day_start / day_s);
    char buf[48];
    std::snprintf(buf, sizeof buf, "p%04lld%02u%02u", static_cast<long long>(d.year), d.month,
                  d.day);
    return buf;
}

// The UTC midnight `day_start` as a timestamptz literal.
std::string ts_literal(std::int64_t seconds) {
    return "to_timestamp(" + std::to_string(seconds) + ")";
}

spdlog_ext::postgres_config config_for(const std::string& prefix,
                                       std::shared_ptr<test::capture_sink_mt> fallback) {
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = pg_test::url();
    cfg.table_prefix = prefix;
    cfg.partition = spdlog_ext::postgres_partition::day;
    cfg.engine.batch_max_delay = 20ms;
    cfg.engine.retry_initial = 50ms;
    cfg.engine.retry_max_delay = 500ms;
    cfg.engine.fallback = std::move(fallback);
    return cfg;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

// The table's partitions, by name.
std::vector<std::string> partitions_of(const std::string& table) {
    std::vector<std::string> out;
    for (const auto& r : pg_test::query(
             "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE "
             "i.inhparent = " +
             pg_test::quote_literal(pg_test::quote_ident(table)) + "::regclass ORDER BY 1")) {
        out.push_back(*r.at(0));
    }
    return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The partition (relname) holding the rows with this message; "" when none, "many" when spread.
std::string partition_of(const std::string& table, const std::string& message) {
    const auto r = pg_test::query("SELECT DISTINCT tableoid::regclass::text FROM " +
                                  pg_test::quote_ident(table) +
                                  " WHERE message = " + pg_test::quote_literal(message));
    if (r.empty()) {
        return "";
    }
    if (r.size() > 1) {
        return "many";
    }
    std::string name = *r[0].at(0);
    if (name.size() >= 2 && name.front() == '"') {
        name = name.substr(1, name.size() - 2);
    }
    return name;
}

void insert_row(const std::string& table, std::int64_t epoch_s, const std::string& message) {
    pg_test::exec("INSERT INTO " + pg_test::quote_ident(table) +
                  " (timestamp, level, logger_name, message) VALUES (" + ts_literal(epoch_s) +
                  ", 'INFO', 'sql', " + pg_test::quote_literal(message) + ")");
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("postgres partitioned table: records at boundaries and far times land right") {
        const std::string prefix = prefix_for("bounds");
        const std::string table = prefix + "_logs";
        pg_test::table_cleanup cleanup({prefix});
        auto fallback = std::make_shared<test::capture_sink_mt>();
        auto cfg = config_for(prefix, fallback);
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("bounds", sink);

        const std::int64_t today = today_start();
        struct when {
            const char* message;
            sys_clock::time_point time;
            std::string partition;  // expected relname
        };
        const std::string def = table + "_default";
        const std::vector<when> records = {
            {"now", sys_clock::now(), table + "_" + day_suffix(today)},
            {"today first us", at_epoch(today), table + "_" + day_suffix(today)},
            {"yesterday last us", at_epoch(today, -1), table + "_" + day_suffix(today - day_s)},
            {"tomorrow first us", at_epoch(today + day_s), table + "_" + day_suffix(today + day_s)},
            {"7 days ahead", at_epoch(today + 7 * day_s + 3600),
             table + "_" + day_suffix(today + 7 * day_s)},
            {"8 days ahead", at_epoch(today + 8 * day_s + 3600), def},  // not made yet
            {"3 days ago", at_epoch(today - 3 * day_s + 60), def},
            {"1970", at_epoch(0), def},
            {"far future 2200", at_epoch(7258118400), def},  // 2200-01-01
        };
        constexpr int per_time = 5;
        for (const auto& r : records) {
            for (int i = 0; i < per_time; ++i) {
                logger.log(r.time, spdlog::source_loc{}, spdlog::level::warn, r.message);
            }
        }
        REQUIRE(sink->flush_for(30s));
        const auto s = sink->stats();
        INFO("stats: " << s.to_json().dump());
        const int logged = static_cast<int>(records.size()) * per_time;
        test::check_accounting(s, logged);
        CHECK(s.delivered == static_cast<std::uint64_t>(logged));
        CHECK(fallback->size() == 0);

        for (const auto& r : records) {
            INFO(r.message);
            CHECK(partition_of(table, r.message) == r.partition);
            CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = " +
                                 pg_test::quote_literal(r.message)) == per_time);
        }
        // The table is partitioned; created with it: DEFAULT, yesterday, today and 7 days ahead.
        CHECK(pg_test::scalar("SELECT relkind::text FROM pg_class WHERE oid = " +
                              pg_test::quote_literal(pg_test::quote_ident(table)) + "::regclass") ==
              "p");
        const auto parts = partitions_of(table);
        CHECK(parts.size() == 10);
        CHECK(has(parts, def));
        for (int d = -1; d <= 7; ++d) {
            CHECK(has(parts, table + "_" + day_suffix(today + d * day_s)));
        }
        // The primary key holds the partition key; the level CHECK, the txid default and the
        // sink's indexes apply on every partition (PostgreSQL propagates them).
        CHECK(pg_test::scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                              "contype = 'p' AND conrelid = " +
                              pg_test::quote_literal(pg_test::quote_ident(table)) + "::regclass") ==
              "PRIMARY KEY (id, \"timestamp\")");
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE txid IS NULL") == 0);
        CHECK_THROWS(pg_test::exec("INSERT INTO " + pg_test::quote_ident(table) +
                                   " (timestamp, level, logger_name, message) VALUES (now(), "
                                   "'LOUD', 'sql', 'bad level')"));  // the level CHECK
        const long long parent_indexes =
            pg_test::count("pg_indexes WHERE tablename = " + pg_test::quote_literal(table));
        CHECK(parent_indexes == 4);  // pkey, BRIN timestamp, (level, timestamp), BRIN txid
        CHECK(pg_test::count("pg_indexes WHERE tablename = " +
                             pg_test::quote_literal(table + "_" + day_suffix(today))) ==
              parent_indexes);
        CHECK(pg_test::count("pg_indexes WHERE tablename = " + pg_test::quote_literal(def)) ==
              parent_indexes);
    }

    TEST_CASE(
        "postgres partitions: made ahead by housekeeping - the DEFAULT partition's rows moved") {
        const std::string prefix = prefix_for("ahead");
        const std::string table = prefix + "_logs";
        pg_test::table_cleanup cleanup({prefix});
        const std::int64_t today = today_start();
        const std::string in3 = table + "_" + day_suffix(today + 3 * day_s);
        const std::string in5 = table + "_" + day_suffix(today + 5 * day_s);
        auto fallback = std::make_shared<test::capture_sink_mt>();
        auto cfg = config_for(prefix, fallback);
        {
            spdlog_ext::postgres_batch_sink first(cfg);  // creates the table and its partitions
            first.log(spdlog::details::log_msg("ahead", spdlog::level::info, "first"));
            REQUIRE(first.flush_for(30s));
        }
        // A partition missing while rows of its day arrive: they go to the DEFAULT partition.
        pg_test::exec("DROP TABLE " + pg_test::quote_ident(in3));
        for (int i = 0; i < 3; ++i) {
            insert_row(table, today + 3 * day_s + 60 + i, "early");
        }
        REQUIRE(partition_of(table, "early") == table + "_default");

        cfg.retention_interval = 200ms;  // housekeeping's period
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        sink->log(spdlog::details::log_msg("ahead", spdlog::level::info, "second"));
        REQUIRE(sink->flush_for(30s));
        // Set-up made the partition again, moving the rows (PostgreSQL refuses a partition
        // whose range the DEFAULT partition holds rows of).
        CHECK(wait_until([&] { return partition_of(table, "early") == in3; }, 10s));
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'early'") == 3);
        CHECK(pg_test::count(pg_test::quote_ident(table + "_default")) == 0);

        // Housekeeping makes a dropped partition of the coming days again.
        pg_test::exec("DROP TABLE " + pg_test::quote_ident(in5));
        CHECK_FALSE(has(partitions_of(table), in5));
        CHECK(wait_until([&] { return has(partitions_of(table), in5); }, 10s));
        CHECK(partitions_of(table).size() == 10);

        // Without the DEFAULT partition a row of 1970 has no partition: the batch is retried
        // after the set-up made the DEFAULT partition again, not taken for bad data.
        pg_test::exec("DROP TABLE " + pg_test::quote_ident(table + "_default"));
        sink->log(spdlog::details::log_msg(at_epoch(0), spdlog::source_loc{}, "ahead",
                                           spdlog::level::info, "orphan"));
        REQUIRE(sink->flush_for(30s));
        CHECK(partition_of(table, "orphan") == table + "_default");
        const auto s = sink->stats();
        INFO("stats: " << s.to_json().dump());
        test::check_accounting(s, 2);
        CHECK(s.delivered == 2);
        CHECK(fallback->size() == 0);
    }

    TEST_CASE("postgres partition retention drops exactly the expired partitions") {
        const std::string prefix = prefix_for("retention");
        const std::string table = prefix + "_logs";
        pg_test::table_cleanup cleanup({prefix});
        const std::int64_t today = today_start();
        auto fallback = std::make_shared<test::capture_sink_mt>();
        auto cfg = config_for(prefix, fallback);
        {
            spdlog_ext::postgres_batch_sink first(cfg);
            first.log(spdlog::details::log_msg("retention", spdlog::level::info, "fresh"));
            REQUIRE(first.flush_for(30s));
        }
        // Old partitions (as an earlier run made them), 10 rows each at their day's start.
        const auto day_name = [&](int d) { return table + "_" + day_suffix(today + d * day_s); };
        for (int d : {-10, -8, -7}) {
            pg_test::exec("CREATE TABLE " + pg_test::quote_ident(day_name(d)) + " PARTITION OF " +
                          pg_test::quote_ident(table) + " FOR VALUES FROM (" +
                          ts_literal(today + d * day_s) + ") TO (" +
                          ts_literal(today + (d + 1) * day_s) + ")");
            for (int i = 0; i < 10; ++i) {
                insert_row(table, today + d * day_s + i, "day " + std::to_string(d));
            }
        }
        // The DEFAULT partition: 4 rows older than 7 days, 6 younger.
        for (int i = 0; i < 4; ++i) {
            insert_row(table, today - 20 * day_s + i, "default old");
        }
        for (int i = 0; i < 6; ++i) {
            insert_row(table, today - 3 * day_s + i, "default young");
        }
        REQUIRE(partition_of(table, "default old") == table + "_default");
        REQUIRE(partition_of(table, "day -8") == day_name(-8));

        cfg.retention_days = 7;
        cfg.retention_interval = 200ms;
        cfg.retention_chunk_rows = 3;  // the DEFAULT partition's rows in several chunks
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        CHECK(wait_until(
            [&] {
                return !has(partitions_of(table), day_name(-8)) &&
                       pg_test::count(pg_test::quote_ident(table) +
                                      " WHERE message = 'default old'") == 0;
            },
            10s));
        const auto parts = partitions_of(table);
        CHECK_FALSE(has(parts, day_name(-10)));
        CHECK_FALSE(has(parts, day_name(-8)));
        // Its upper bound (6 days ago, 00:00) is newer than the cutoff: it may hold newer rows.
        CHECK(has(parts, day_name(-7)));
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'day -7'") == 10);
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'default young'") ==
              6);
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'fresh'") == 1);
        CHECK(!pg_test::relation_exists(day_name(-10)));  // dropped, not only detached
        CHECK(parts.size() == 11);                        // DEFAULT, -7, -1 .. +7
        const auto s = sink->stats();
        INFO("stats: " << s.to_json().dump());
        CHECK(s.backend.value("retention_partitions_dropped", 0) == 2);
        CHECK(s.backend.value("retention_deleted", 0) == 4);
        test::check_accounting(s, 0);
    }

    TEST_CASE("postgres partition setting against a table of the other kind gives a clear error") {
        for (const bool table_partitioned : {false, true}) {
            CAPTURE(table_partitioned);
            const std::string prefix =
                prefix_for(std::string("kind") + (table_partitioned ? "1" : "0"));
            const std::string table = prefix + "_logs";
            pg_test::table_cleanup cleanup({prefix});
            auto fallback = std::make_shared<test::capture_sink_mt>();
            auto cfg = config_for(prefix, fallback);
            cfg.partition = table_partitioned ? spdlog_ext::postgres_partition::day
                                              : spdlog_ext::postgres_partition::none;
            {
                spdlog_ext::postgres_batch_sink maker(cfg);  // the table, of one kind
                maker.log(spdlog::details::log_msg("kind", spdlog::level::info, "made"));
                REQUIRE(maker.flush_for(30s));
            }
            cfg.partition = table_partitioned ? spdlog_ext::postgres_partition::none
                                              : spdlog_ext::postgres_partition::week;
            cfg.engine.retry_max_attempts = 3;
            cfg.engine.retry_max_elapsed = 10s;
            auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
            spdlog::logger logger("kind", sink);
            constexpr int n = 20;
            for (int i = 0; i < n; ++i) {
                logger.info("mismatch {}", i);
            }
            REQUIRE(sink->flush_for(30s));
            const auto s = sink->stats();
            INFO("stats: " << s.to_json().dump());
            test::check_accounting(s, n);
            CHECK(s.delivered == 0);
            CHECK(s.fallback == n);
            CHECK(s.disabled);
            CHECK(s.last_error.find(table) != std::string::npos);
            CHECK(s.last_error.find("LOG_POSTGRES_PARTITION") != std::string::npos);
            CHECK(s.last_error.find(table_partitioned ? "is partitioned" : "not partitioned") !=
                  std::string::npos);
            if (!table_partitioned) {
                CHECK(s.last_error.find("never converts") != std::string::npos);
            }
            MESSAGE(s.last_error);
            // Left as it was.
            CHECK(pg_test::scalar("SELECT relkind::text FROM pg_class WHERE oid = " +
                                  pg_test::quote_literal(pg_test::quote_ident(table)) +
                                  "::regclass") == (table_partitioned ? "p" : "r"));
            CHECK(pg_test::count(pg_test::quote_ident(table)) == 1);
        }
    }

    TEST_CASE("postgres log store on a partitioned table: query - count - stats - cleanup") {
        const std::string prefix = prefix_for("store");
        const std::string table = prefix + "_logs";
        pg_test::table_cleanup cleanup({prefix});
        const std::int64_t today = today_start();
        auto fallback = std::make_shared<test::capture_sink_mt>();
        auto cfg = config_for(prefix, fallback);
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger logger("store", sink);
        // 4 rows in each of today's, yesterday's and the DEFAULT partition (10 days ago): the
        // first row of each has the same ctid (0,1).
        for (int i = 0; i < 4; ++i) {
            logger.log(at_epoch(today + 60 + i), spdlog::source_loc{}, spdlog::level::info,
                       "today");
            logger.log(at_epoch(today - day_s + 60 + i), spdlog::source_loc{}, spdlog::level::err,
                       "yesterday");
            logger.log(at_epoch(today - 10 * day_s + i), spdlog::source_loc{}, spdlog::level::info,
                       "old");
        }
        REQUIRE(sink->flush_for(30s));
        test::check_accounting(sink->stats(), 12);
        CHECK(sink->stats().delivered == 12);

        spdlog_ext::postgres_log_store store(cfg);
        spdlog_ext::page_request page;
        page.limit = 100;
        CHECK(store.query(page).rows.size() == 12);
        CHECK(store.count({}) == 12);
        spdlog_ext::log_filter errors;
        errors.min_level = spdlog::level::err;
        CHECK(store.count(errors) == 4);
        const auto st = store.stats(std::chrono::hours(24 * 3), std::chrono::hours(24));
        CHECK(st.errors == 4);
        // cleanup keeps its chunked DELETE; a ctid alone is unique only within a partition.
        CHECK(store.cleanup(7, true).rows == 4);
        CHECK(store.cleanup(7).rows == 4);
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'old'") == 0);
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'today'") == 4);
        CHECK(pg_test::count(pg_test::quote_ident(table) + " WHERE message = 'yesterday'") == 4);
    }

    TEST_CASE("postgres partitioned table: writer processes and a server crash - exactly once") {
        (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_SCRIPT");
        const std::string prefix = prefix_for("crash");
        const std::string table = prefix + "_logs";
        pg_test::table_cleanup cleanup({prefix});
        pg_test::server_restart_guard restart_guard;
        {
            auto cfg = config_for(prefix, std::make_shared<test::capture_sink_mt>());
            spdlog_ext::postgres_batch_sink maker(cfg);
            maker.log(spdlog::details::log_msg("crash", spdlog::level::info, "made"));
            REQUIRE(maker.flush_for(30s));
        }
        const std::string run = prefix + "-run";
        const int writers = 3;
        const int per_writer = 1500;
        test::env_guard env{{"LOG_POSTGRES_URL", pg_test::url().c_str()},
                            {"LOG_POSTGRES_TABLE_PREFIX", prefix.c_str()},
                            {"LOG_POSTGRES_PARTITION", "day"},
                            {"LOG_POSTGRES_BATCH_MAX_DELAY", "50ms"},
                            {"LOG_POSTGRES_RETRY_INITIAL", "50ms"},
                            {"LOG_POSTGRES_RETRY_MAX_DELAY", "500ms"},
                            {"LOG_POSTGRES_FALLBACK", nullptr},
                            {"DATABASE_URL", nullptr},
                            {"SPDLOG_LEVEL", nullptr}};
        std::vector<pid_t> pids;
        std::vector<std::string> err_files;
        for (int w = 0; w < writers; ++w) {
            err_files.push_back((std::filesystem::temp_directory_path() /
                                 (prefix + "_w" + std::to_string(w) + ".err"))
                                    .string());
            // About 1.5 ms per record: the writers run for ~2.5 s, the crash comes at ~0.8 s.
            pids.push_back(test::spawn_child(test::shell_quote(SPDLOG_EXT_LOG_WRITER_CHILD) + " " +
                                                 std::to_string(per_writer) + " " + run + " " +
                                                 std::to_string(w) + " 1500",
                                             err_files.back()));
            REQUIRE(pids.back() > 0);
        }
        std::this_thread::sleep_for(800ms);
        REQUIRE(pg_test::services("pg-stop-immediate") == 0);
        std::this_thread::sleep_for(800ms);
        REQUIRE(pg_test::services("pg-start") == 0);
        REQUIRE(pg_test::wait_ready(30s));

        // Every writer's records: in the table or its fallback (stderr), each exactly once.
        const auto seq_of = [](const std::string& line) -> std::optional<int> {
            const auto found = line.find("\"seq\":");
            if (found == std::string::npos) {
                return std::nullopt;
            }
            int value = 0;
            const char* begin = line.data() + found + 6;
            const auto parsed = std::from_chars(begin, line.data() + line.size(), value);
            if (parsed.ec != std::errc() || parsed.ptr == begin) {
                return std::nullopt;
            }
            return value;
        };
        std::size_t stored_total = 0;
        for (int w = 0; w < writers; ++w) {
            const auto r = test::wait_child(pids[static_cast<std::size_t>(w)],
                                            err_files[static_cast<std::size_t>(w)]);
            INFO("writer " << w << " stderr:\n" << r.err.substr(0, 2000));
            CHECK(r.exit_code == 0);
            std::vector<int> seqs;
            for (const auto& row : pg_test::query(
                     "SELECT (extra_data->>'seq')::int FROM " + pg_test::quote_ident(table) +
                     " WHERE extra_data->>'run' = " + pg_test::quote_literal(run) +
                     " AND extra_data->>'writer' = '" + std::to_string(w) + "'")) {
                seqs.push_back(std::stoi(*row.at(0)));
            }
            const std::size_t stored = seqs.size();
            stored_total += stored;
            std::istringstream lines(r.err);
            for (std::string line; std::getline(lines, line);) {
                if (line.find("fallback_reason") == std::string::npos) {
                    continue;
                }
                if (const auto seq = seq_of(line)) {
                    seqs.push_back(*seq);
                }
            }
            std::sort(seqs.begin(), seqs.end());
            CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());  // none twice
            CHECK(seqs.size() == static_cast<std::size_t>(per_writer));
            CHECK((seqs.empty() || (seqs.front() == 0 && seqs.back() == per_writer - 1)));
            MESSAGE("writer " << w << ": " << stored << " stored, " << seqs.size() - stored
                              << " in its fallback");
            std::filesystem::remove(err_files[static_cast<std::size_t>(w)]);
        }
        CHECK(stored_total > 0);
        // The rows are in today's partition (or yesterday's, right after midnight).
        CHECK(pg_test::count(pg_test::quote_ident(table + "_default")) == 0);
    }
}
