// spdlog-ext-logs: query, tail, stats, cleanup and runtime levels of the PostgreSQL log table
// (postgres_log_store) from a shell. Manual and exit codes: docs/cli.md.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli_output.h"
#include "cli_parse.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/postgres_log_store.h"

namespace {

using namespace spdlog_ext_cli;

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) {
    stop_requested = 1;
}

struct global_args {
    std::string url, schema, table_prefix;
    std::string color = "auto";
    bool utc = false;
};

bool env_set(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0';
}

// The store from the sink's settings (LOG_POSTGRES_*, DATABASE_URL, PG*) and the flags.
spdlog_ext::postgres_log_store make_store(const global_args& g) {
    spdlog_ext::postgres_config cfg = spdlog_ext::postgres_config::from_env();
    if (!g.url.empty()) {
        cfg.conninfo = g.url;
    } else if (!env_set("LOG_POSTGRES_URL") && !env_set("DATABASE_URL") && !env_set("PGHOST") &&
               !env_set("PGHOSTADDR") && !env_set("PGDATABASE") && !env_set("PGSERVICE")) {
        throw spdlog_ext::config_error(
            "LOG_POSTGRES_URL",
            "no database given: set LOG_POSTGRES_URL (or DATABASE_URL, or libpq's PGHOST / "
            "PGDATABASE / PGSERVICE), or pass --url");
    }
    if (!g.schema.empty()) {
        cfg.schema = g.schema;
    }
    if (!g.table_prefix.empty()) {
        cfg.table_prefix = g.table_prefix;
    }
    cfg.create_table = false;  // the CLI only reads what the sink wrote
    try {
        return spdlog_ext::postgres_log_store(std::move(cfg));
    } catch (const spdlog_ext::store_error& e) {
        // The library names the variable; a URL given on the command line came from --url.
        std::string message = e.what();
        const std::string label = "LOG_POSTGRES_URL (postgres_config::conninfo)";
        if (!g.url.empty() && message.rfind(label, 0) == 0) {
            message.replace(0, label.size(), "--url");
        }
        throw spdlog_ext::store_error(e.what_kind(), message);
    }
}

void add_filter_options(CLI::App* cmd, filter_args& f) {
    cmd->add_option("--since", f.since,
                    "Rows at or after: a duration back from now (1h, 30m, 7d) or an ISO-8601 "
                    "time (2026-11-28T14:03:07, +01:00 or Z; local time without an offset)");
    cmd->add_option("--until", f.until, "Rows before: a duration back from now or an ISO time");
    cmd->add_option("--level", f.level, "Minimum level: trace, debug, info, warn, error, critical");
    cmd->add_option("--levels", f.levels,
                    "Exactly these levels (comma-separated); wins over --level")
        ->delimiter(',');
    cmd->add_option("--logger", f.loggers, "Logger name, or a prefix written db.* (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--host", f.hosts, "Hostname, exact (repeatable)")->allow_extra_args(false);
    cmd->add_option("--search", f.search,
                    "Case-insensitive text in the message or the exception (no wildcards)");
    cmd->add_option("--field", f.fields,
                    "key=value the structured fields must contain; the value is JSON when it "
                    "parses (7, true, \"7\"), else a string; a.b=1 nests (repeatable)")
        ->allow_extra_args(false);
    cmd->add_flag("--has-exception", f.has_exception, "Only rows with an exception");
}

int run_query(spdlog_ext::postgres_log_store& store, const filter_args& f, std::size_t limit,
              const std::string& cursor, const std::string& order, const output_style& style) {
    spdlog_ext::page_request request;
    request.filter = make_filter(f, style.utc);
    request.limit = limit;
    request.cursor = cursor;
    request.order = order == "time" ? spdlog_ext::log_order::time : spdlog_ext::log_order::id;
    const spdlog_ext::log_page page = store.query(request);
    for (const auto& row : page.rows) {
        print_row(row, style, stdout);
    }
    std::fflush(stdout);
    if (!page.next_cursor.empty()) {
        std::fprintf(stderr, "next: %s\n", page.next_cursor.c_str());
    }
    return exit_ok;
}

int run_tail(spdlog_ext::postgres_log_store& store, const filter_args& f, bool poll,
             const std::string& resume, bool print_cursor, const output_style& style) {
    spdlog_ext::tail_options options;
    options.filter = make_filter(f, style.utc);
    options.resume = resume;
    options.use_notify = !poll;
    // How often keep_going is asked too: bounds how long SIGINT/SIGTERM takes to end the tail.
    options.poll_interval = std::chrono::milliseconds(500);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    store.tail(
        options,
        [&](const std::vector<spdlog_ext::log_row>& rows, const std::string& resume_cursor) {
            for (const auto& row : rows) {
                print_row(row, style, stdout);
            }
            std::fflush(stdout);
            if (print_cursor) {
                std::fprintf(stderr, "cursor: %s\n", resume_cursor.c_str());
            }
        },
        [] { return stop_requested == 0; });
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "spdlog-ext-logs: query, follow, count, clean up and set the levels of the PostgreSQL "
        "log table that postgres_batch_sink writes.\n"
        "Connection and table come from LOG_POSTGRES_URL, DATABASE_URL or PG*, "
        "LOG_POSTGRES_SCHEMA and LOG_POSTGRES_TABLE_PREFIX, or the flags below. "
        "Exit codes: 0 ok, 1 server/runtime error, 2 usage, 3 configuration, 4 connection, "
        "5 missing table (docs/cli.md)."};
    app.name("spdlog-ext-logs");
    app.require_subcommand(1);
    app.fallthrough();  // global flags also after the command
    global_args g;
    app.add_option("--url", g.url,
                   "libpq connection string or postgresql:// URL (default: LOG_POSTGRES_URL, "
                   "DATABASE_URL, PG*)");
    app.add_option("--schema", g.schema, "Schema of the log table (default: LOG_POSTGRES_SCHEMA)");
    app.add_option("--table-prefix", g.table_prefix,
                   "Table prefix: <prefix>_logs (default: LOG_POSTGRES_TABLE_PREFIX)");
    app.add_option("--color", g.color,
                   "Coloured levels: auto (a terminal without NO_COLOR), always, never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    app.add_flag("--utc", g.utc, "Show and read times without an offset in UTC, not local time");

    filter_args query_filter;
    std::size_t limit = 100;
    std::string cursor, order = "id";
    bool query_json = false;
    CLI::App* query = app.add_subcommand(
        "query",
        "Print one page of rows, newest first; the next page's cursor goes to stderr as "
        "\"next: C\"");
    add_filter_options(query, query_filter);
    query->add_option("--limit", limit, "Rows per page (1-1000)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, spdlog_ext::max_page_rows));
    query->add_option("--cursor", cursor, "Continue after a previous page (its \"next:\" cursor)");
    query->add_option("--order", order, "id (newest stored first) or time (newest timestamp first)")
        ->capture_default_str()
        ->check(CLI::IsMember({"id", "time"}));
    query->add_flag("--json", query_json, "One JSON object per line (json_formatter keys and id)");

    filter_args tail_filter;
    bool tail_json = false, poll = false, print_cursor = false;
    std::string resume;
    CLI::App* tail = app.add_subcommand(
        "tail", "Print new rows as they are committed, until SIGINT or SIGTERM (then exit 0)");
    add_filter_options(tail, tail_filter);
    tail->add_flag("--json", tail_json, "One JSON object per line (json_formatter keys and id)");
    tail->add_flag("--poll", poll, "Poll instead of listening for the sink's NOTIFY");
    tail->add_option("--resume", resume, "Start right after this cursor (from --print-cursor)");
    tail->add_flag("--print-cursor", print_cursor,
                   "After each batch, print \"cursor: C\" on stderr (for --resume)");

    int hours = 24, top = 10;
    std::string bucket = "1h";
    bool stats_json = false;
    CLI::App* stats = app.add_subcommand("stats", "Counts by level, logger, host and time bucket");
    stats->add_option("--hours", hours, "The window: the last N hours")
        ->capture_default_str()
        ->check(CLI::Range(1, 24 * 366));
    stats->add_option("--bucket", bucket, "Bucket width: 5m, 1h, 1d")->capture_default_str();
    stats->add_option("--top", top, "How many loggers and hosts to list")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    stats->add_flag("--json", stats_json, "The stats as one JSON object");

    int keep_days = -1;
    bool dry_run = false, yes = false;
    CLI::App* cleanup = app.add_subcommand(
        "cleanup", "Delete rows older than N days (in bounded chunks); prints the count");
    cleanup
        ->add_option("--keep-days", keep_days,
                     "Keep the last N days; 0 deletes every row (needs --yes)")
        ->required()
        ->check(CLI::NonNegativeNumber);
    cleanup->add_flag("--dry-run", dry_run, "Only count what would be deleted");
    cleanup->add_flag("--yes", yes, "Confirm --keep-days 0");

    std::string service, host, spec;
    CLI::App* level = app.add_subcommand("level", "Runtime levels stored in <table>_levels");
    level->require_subcommand(1);
    CLI::App* level_get =
        level->add_subcommand("get", "Print the spec that applies (the most specific row)");
    CLI::App* level_set = level->add_subcommand(
        "set", "Store a spec such as 'info,db=debug'; running processes apply it within ~1 s");
    for (CLI::App* cmd : {level_get, level_set}) {
        cmd->add_option("--service", service, "For this service only (default: every service)");
        cmd->add_option("--host", host, "For this host only (default: every host)");
    }
    level_set->add_option("spec", spec, "spdlog level spec: info, or info,db=debug")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }

    std::string table_display;  // schema.table, for the missing-table message
    try {
        output_style style;
        style.utc = g.utc;
        style.color = want_color(g.color, stdout);
        if (*cleanup && keep_days == 0 && !dry_run && !yes) {
            throw usage_error(
                "cleanup --keep-days 0 deletes every row: add --yes to confirm "
                "(or --dry-run to count them)");
        }
        std::chrono::seconds bucket_width{};
        if (*stats) {
            bucket_width = parse_duration(bucket, "--bucket");
        }
        // Arguments first (exit 2 without touching the database), then the settings.
        if (*query) {
            (void)make_filter(query_filter, g.utc);
        } else if (*tail) {
            (void)make_filter(tail_filter, g.utc);
        }
        spdlog_ext::postgres_log_store store = make_store(g);
        table_display = (store.config().schema.empty() ? "" : store.config().schema + ".") +
                        store.config().table_name();
        if (*query) {
            style.json = query_json;
            return run_query(store, query_filter, limit, cursor, order, style);
        }
        if (*tail) {
            style.json = tail_json;
            return run_tail(store, tail_filter, poll, resume, print_cursor, style);
        }
        if (*stats) {
            style.json = stats_json;
            print_stats(
                store.stats(std::chrono::hours(hours), bucket_width, static_cast<std::size_t>(top)),
                style, stdout);
            return exit_ok;
        }
        if (*cleanup) {
            const spdlog_ext::cleanup_result r = store.cleanup(keep_days, dry_run);
            std::printf("%s %llu rows\n", r.dry_run ? "would delete" : "deleted",
                        static_cast<unsigned long long>(r.rows));
            return exit_ok;
        }
        if (*level_get) {
            const std::string current = store.get_levels(service, host);
            if (current.empty()) {
                std::fputs("no levels stored for this service and host\n", stderr);
            } else {
                std::printf("%s\n", current.c_str());
            }
            return exit_ok;
        }
        if (*level_set) {
            store.set_levels(spec, service, host);
            std::printf("levels set: %s\n", spec.c_str());
            return exit_ok;
        }
        return exit_usage;  // unreachable: CLI11 requires a command
    } catch (const usage_error& e) {
        std::fprintf(stderr, "spdlog-ext-logs: %s\n", e.what());
        return exit_usage;
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "spdlog-ext-logs: configuration: %s\n", e.what());
        return exit_config;
    } catch (const spdlog_ext::store_error& e) {
        if (e.what_kind() == spdlog_ext::store_error::kind::missing_table) {
            // One line instead of the server's multi-line SQL error.
            std::fprintf(stderr,
                         "spdlog-ext-logs: the log table %s does not exist or lacks a column this "
                         "command needs: check LOG_POSTGRES_SCHEMA (--schema) and "
                         "LOG_POSTGRES_TABLE_PREFIX (--table-prefix)\n",
                         table_display.c_str());
        } else {
            std::fprintf(stderr, "spdlog-ext-logs: %s\n", e.what());
        }
        return exit_code_of(e);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "spdlog-ext-logs: %s\n", e.what());
        return exit_runtime;
    }
}
