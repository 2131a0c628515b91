// spdlog-ext-logs against the real PostgreSQL: every command and --help, --json lines, human
// output, the exit codes of docs/cli.md (usage, configuration, connection, missing table),
// cleanup --dry-run against a real one, levels, and tail until SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/pg_helpers.h"
#include "integration/process_runner.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace {

using namespace std::chrono_literals;

const std::string cli = SPDLOG_EXT_LOGS_CLI;

std::string unique_prefix(const char* what) {
    static int n = 0;
    return std::string("cli_") + what + "_" + std::to_string(::getpid()) + "_" +
           std::to_string(n++);
}

// The environment of a CLI run: the test server and the table prefix, nothing inherited that
// could change the outcome (DATABASE_URL, PG*, NO_COLOR).
proc_test::env_changes cli_env(const std::string& prefix) {
    return {{"LOG_POSTGRES_URL", pg_test::url()},
            {"LOG_POSTGRES_TABLE_PREFIX", prefix},
            {"LOG_POSTGRES_SCHEMA", std::nullopt},
            {"DATABASE_URL", std::nullopt},
            {"PGHOST", std::nullopt},
            {"PGDATABASE", std::nullopt},
            {"PGSERVICE", std::nullopt},
            {"NO_COLOR", std::nullopt}};
}

proc_test::result run_cli(const std::vector<std::string>& args, const proc_test::env_changes& env) {
    return proc_test::run(cli, args, env, "cli_test");
}

// Writes records through the real sink: "record <i>" with fields {seq: i, run: tag}; every
// tenth a warning, the last an error with an exception. Returns when all are committed.
struct writer {
    std::shared_ptr<spdlog_ext::postgres_batch_sink> sink;
    std::shared_ptr<spdlog::logger> logger;

    explicit writer(const std::string& prefix) {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = pg_test::url();
        cfg.table_prefix = prefix;
        cfg.engine.batch_max_delay = 50ms;
        sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        logger = std::make_shared<spdlog::logger>("cli.test", sink);
        logger->set_level(spdlog::level::trace);
    }
    void write(int n, const std::string& tag) {
        for (int i = 0; i < n; ++i) {
            const auto level = i + 1 == n    ? spdlog::level::err
                               : i % 10 == 0 ? spdlog::level::warn
                                             : spdlog::level::info;
            spdlog_ext::field_list fields{{"seq", i}, {"run", tag}};
            if (i + 1 == n) {
                fields.emplace_back(spdlog_ext::exception_field, "boom\n  at line 2");
            }
            spdlog_ext::log(logger, level, std::move(fields), "record {}", i);
        }
        REQUIRE(sink->flush_for(30s));
    }
};

}  // namespace

TEST_SUITE("cli") {
    TEST_CASE("spdlog-ext-logs --help on every command exits 0") {
        for (const std::vector<std::string>& args :
             std::vector<std::vector<std::string>>{{"--help"},
                                                   {"query", "--help"},
                                                   {"tail", "--help"},
                                                   {"stats", "--help"},
                                                   {"cleanup", "--help"},
                                                   {"level", "--help"},
                                                   {"level", "get", "--help"},
                                                   {"level", "set", "--help"}}) {
            const auto r = run_cli(args, {{"LOG_POSTGRES_URL", std::nullopt}});
            INFO(args.front() << " " << args.back() << ": " << r.err);
            CHECK(r.exit_code == 0);
            CHECK(r.out.find("Usage") != std::string::npos);
        }
        const auto r = run_cli({"query", "--help"}, {});
        CHECK(r.out.find("--since") != std::string::npos);
        CHECK(r.out.find("--field") != std::string::npos);
    }

    TEST_CASE("spdlog-ext-logs usage and configuration errors exit 2 and 3 before connecting") {
        const auto env = cli_env(unique_prefix("usage"));
        const auto expect = [&](const std::vector<std::string>& args, int code,
                                const std::string& text, const proc_test::env_changes& e) {
            const auto r = run_cli(args, e);
            std::string command;
            for (const auto& arg : args)
                command += " " + arg;
            INFO("spdlog-ext-logs" << command << ": exit " << r.exit_code << " stderr: " << r.err);
            CHECK(r.exit_code == code);
            CHECK(r.err.find(text) != std::string::npos);
            CHECK(r.out.empty());
        };
        expect({"query", "--bogus"}, 2, "--bogus", env);
        expect({}, 2, "subcommand", env);
        expect({"query", "--since", "5 parsecs"}, 2, "--since", env);
        expect({"query", "--level", "loud"}, 2, "--level", env);
        expect({"query", "--field", "=7"}, 2, "--field", env);
        expect({"query", "--limit", "0"}, 2, "--limit", env);
        expect({"stats", "--bucket", "soon"}, 2, "--bucket", env);
        expect({"cleanup"}, 2, "--keep-days", env);
        expect({"cleanup", "--keep-days", "0"}, 2, "--yes", env);
        expect({"--color", "sometimes", "query"}, 2, "--color", env);
        expect({"level", "set"}, 2, "spec", env);

        // No database configured at all: exit 3, naming the variable to set.
        auto no_db = env;
        no_db["LOG_POSTGRES_URL"] = std::nullopt;
        expect({"query"}, 3, "LOG_POSTGRES_URL", no_db);
        // A URL that cannot work: exit 3, the password never shown; --url is named when it came
        // from the command line.
        const std::string bad_url = "postgresql://someone:hunter2secret@127.0.0.1:99999/db";
        auto bad_env = env;
        bad_env["LOG_POSTGRES_URL"] = bad_url;
        const auto from_env = run_cli({"query"}, bad_env);
        CHECK(from_env.exit_code == 3);
        CHECK(from_env.err.find("LOG_POSTGRES_URL") != std::string::npos);
        CHECK(from_env.err.find("hunter2secret") == std::string::npos);
        const auto from_flag = run_cli({"query", "--url", bad_url}, no_db);
        CHECK(from_flag.exit_code == 3);
        CHECK(from_flag.err.find("--url") != std::string::npos);
        CHECK(from_flag.err.find("hunter2secret") == std::string::npos);
        // A bad variable of the sink's configuration is named too.
        auto bad_engine = env;
        bad_engine["LOG_POSTGRES_BATCH_MAX_RECORDS"] = "many";
        expect({"query"}, 3, "LOG_POSTGRES_BATCH_MAX_RECORDS", bad_engine);
    }
}

TEST_SUITE("cli") {
    TEST_CASE("spdlog-ext-logs query prints json lines with ids and journalctl-like lines") {
        const std::string prefix = unique_prefix("query");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(30, prefix);
        const auto env = cli_env(prefix);

        const auto json_run = run_cli({"query", "--json", "--limit", "1000"}, env);
        INFO("stderr: " << json_run.err);
        REQUIRE(json_run.exit_code == 0);
        const auto lines = proc_test::lines_of(json_run.out);
        CHECK(lines.size() == 30);
        std::set<long long> ids, seqs;
        for (const auto& line : lines) {
            const auto row = nlohmann::json::parse(line);  // throws (fails) on a bad line
            REQUIRE(row.contains("id"));
            ids.insert(row["id"].get<long long>());
            CHECK(row["logger"] == "cli.test");
            CHECK(row["fields"]["run"] == prefix);
            seqs.insert(row["fields"]["seq"].get<long long>());
        }
        CHECK(ids.size() == 30);
        CHECK(seqs.size() == 30);
        CHECK(json_run.err.find("next:") == std::string::npos);  // one page holds them all

        // Filters reach the store: the warnings and the error (min level warn), a field.
        const auto warn = run_cli({"query", "--json", "--level", "warn"}, env);
        CHECK(warn.exit_code == 0);
        CHECK(proc_test::lines_of(warn.out).size() == 4);  // seq 0, 10, 20 and the error
        const auto field = run_cli({"query", "--json", "--field", "seq=7"}, env);
        CHECK(field.exit_code == 0);
        REQUIRE(proc_test::lines_of(field.out).size() == 1);
        CHECK(nlohmann::json::parse(proc_test::lines_of(field.out)[0])["message"] == "record 7");

        // Human output, not coloured with --color never (nor when not a terminal).
        for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
                 {"--color", "never", "query", "--has-exception"}, {"query", "--has-exception"}}) {
            const auto human = run_cli(args, env);
            CHECK(human.exit_code == 0);
            CHECK(human.out.find("ERROR cli.test") != std::string::npos);
            CHECK(human.out.find("record 29") != std::string::npos);
            CHECK(human.out.find("seq=29") != std::string::npos);
            CHECK(human.out.find("\n    boom\n      at line 2") != std::string::npos);
            CHECK(human.out.find('\033') == std::string::npos);
        }
        const auto coloured = run_cli({"--color", "always", "query", "--has-exception"}, env);
        CHECK(coloured.out.find("\033[31mERROR\033[0m") != std::string::npos);
    }

    TEST_CASE("spdlog-ext-logs query pages with the next cursor and rejects a bad cursor") {
        const std::string prefix = unique_prefix("pages");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(25, prefix);
        const auto env = cli_env(prefix);
        std::set<long long> ids;
        std::string cursor;
        int pages = 0;
        for (;; ++pages) {
            REQUIRE(pages < 10);
            std::vector<std::string> args{"query", "--json", "--limit", "10"};
            if (!cursor.empty()) {
                args.insert(args.end(), {"--cursor", cursor});
            }
            const auto r = run_cli(args, env);
            INFO("stderr: " << r.err);
            REQUIRE(r.exit_code == 0);
            for (const auto& line : proc_test::lines_of(r.out)) {
                CHECK(ids.insert(nlohmann::json::parse(line)["id"].get<long long>()).second);
            }
            const auto next = r.err.find("next: ");
            if (next == std::string::npos) {
                break;
            }
            cursor = r.err.substr(next + 6, r.err.find('\n', next) - next - 6);
        }
        CHECK(ids.size() == 25);
        CHECK(pages == 2);

        const auto bad = run_cli({"query", "--cursor", "not-a-cursor"}, env);
        CHECK(bad.exit_code == 2);
        CHECK(bad.err.find("cursor") != std::string::npos);
        CHECK(bad.out.empty());
    }

    TEST_CASE("spdlog-ext-logs exits 4 on a closed port and 5 on a missing table") {
        const std::string prefix = unique_prefix("faults");
        auto env = cli_env(prefix);  // no table with this prefix exists
        const auto missing = run_cli({"query"}, env);
        INFO("stderr: " << missing.err);
        CHECK(missing.exit_code == 5);
        CHECK(missing.err.find(prefix + "_logs") != std::string::npos);
        CHECK(proc_test::lines_of(missing.err).size() == 1);  // one clear line

        // A port where nothing listens (a listening socket we close again), with a password.
        int port = 0;
        {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
            socklen_t len = sizeof addr;
            REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
            port = ntohs(addr.sin_port);
            ::close(fd);
        }
        env["LOG_POSTGRES_URL"] =
            "postgresql://someone:hunter2secret@127.0.0.1:" + std::to_string(port) +
            "/db?connect_timeout=3";
        for (const std::vector<std::string>& args :
             std::vector<std::vector<std::string>>{{"query"}, {"stats"}, {"level", "get"}}) {
            const auto closed = run_cli(args, env);
            INFO(args.front() << ": " << closed.err);
            CHECK(closed.exit_code == 4);
            CHECK(closed.err.find("hunter2secret") == std::string::npos);
        }
    }

    TEST_CASE("spdlog-ext-logs stats and cleanup with --dry-run then for real") {
        const std::string prefix = unique_prefix("cleanup");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(20, prefix);
        const auto env = cli_env(prefix);
        const std::string table = pg_test::quote_ident(prefix + "_logs");

        const auto stats = run_cli({"stats", "--json", "--hours", "2", "--bucket", "30m"}, env);
        INFO("stderr: " << stats.err);
        REQUIRE(stats.exit_code == 0);
        const auto s = nlohmann::json::parse(stats.out);
        CHECK(s["total"] == 20);
        CHECK(s["errors"] == 1);
        const auto human_stats = run_cli({"stats"}, env);
        CHECK(human_stats.exit_code == 0);
        CHECK(human_stats.out.find("total   20 rows, 1 errors") != std::string::npos);
        CHECK(human_stats.out.find("cli.test") != std::string::npos);

        // Five rows ten days old: keep-days 7 would delete exactly them.
        pg_test::exec(
            "UPDATE " + table +
            " SET timestamp = timestamp - interval '10 days' WHERE id IN (SELECT id FROM " + table +
            " ORDER BY id LIMIT 5)");
        const auto dry = run_cli({"cleanup", "--keep-days", "7", "--dry-run"}, env);
        CHECK(dry.exit_code == 0);
        CHECK(dry.out == "would delete 5 rows\n");
        CHECK(pg_test::count(table) == 20);
        const auto real = run_cli({"cleanup", "--keep-days", "7"}, env);
        CHECK(real.exit_code == 0);
        CHECK(real.out == "deleted 5 rows\n");
        CHECK(pg_test::count(table) == 15);
        const auto all = run_cli({"cleanup", "--keep-days", "0", "--yes"}, env);
        CHECK(all.exit_code == 0);
        CHECK(all.out == "deleted 15 rows\n");
        CHECK(pg_test::count(table) == 0);
    }

    TEST_CASE("spdlog-ext-logs level set and get per service and a bad spec exits 2") {
        const std::string prefix = unique_prefix("levels");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(1, prefix);  // the sink creates the log table
        const auto env = cli_env(prefix);
        const auto set = run_cli({"level", "set", "info,db=debug", "--service", "api"}, env);
        INFO("stderr: " << set.err);
        REQUIRE(set.exit_code == 0);
        const auto get = run_cli({"level", "get", "--service", "api"}, env);
        CHECK(get.exit_code == 0);
        CHECK(get.out == "info,db=debug\n");
        const auto bad = run_cli({"level", "set", "info,db=loudest", "--service", "api"}, env);
        CHECK(bad.exit_code == 2);
        const auto unchanged = run_cli({"level", "get", "--service", "api"}, env);
        CHECK(unchanged.out == "info,db=debug\n");
    }

    TEST_CASE("spdlog-ext-logs tail prints each new row once and exits 0 on SIGINT and SIGTERM") {
        const std::string prefix = unique_prefix("tail");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(1, prefix + "-before");  // the table exists before the tail starts
        const auto env = cli_env(prefix);
        for (const int sig : {SIGINT, SIGTERM}) {
            const std::string tag = prefix + "-" + std::to_string(sig);
            proc_test::child tail(cli, {"tail", "--json", "--field", "run=" + tag}, env,
                                  "cli_tail");
            // The tail follows from the moment it starts: write until it has seen a record.
            const auto started = std::chrono::steady_clock::now();
            while (tail.out().empty()) {
                REQUIRE(std::chrono::steady_clock::now() - started < 30s);
                REQUIRE_FALSE(tail.wait(0ms).has_value());
                spdlog_ext::log(w.logger, spdlog::level::info, {{"run", tag}, {"warmup", true}},
                                "warm-up");
                REQUIRE(w.sink->flush_for(30s));
                std::this_thread::sleep_for(200ms);
            }
            w.write(40, tag);
            std::set<long long> seqs, ids;
            std::size_t records = 0;
            const auto wrote = std::chrono::steady_clock::now();
            while (seqs.size() < 40 && std::chrono::steady_clock::now() - wrote < 30s) {
                std::this_thread::sleep_for(100ms);
                seqs.clear();
                ids.clear();
                records = 0;
                for (const auto& line : proc_test::lines_of(tail.out())) {
                    const auto row = nlohmann::json::parse(line);
                    CHECK(ids.insert(row["id"].get<long long>()).second);  // nothing twice
                    if (row["fields"].contains("seq")) {
                        seqs.insert(row["fields"]["seq"].get<long long>());
                        ++records;
                    }
                }
            }
            CHECK(seqs.size() == 40);
            CHECK(records == 40);
            tail.signal(sig);
            const auto code = tail.wait(10s);
            INFO("stderr: " << tail.err());
            REQUIRE(code.has_value());
            CHECK(*code == 0);
        }
    }
}
