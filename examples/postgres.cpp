// Logging into PostgreSQL: batched COPY, exactly once, table created on first use.
//
//   LOG_POSTGRES_URL=postgresql://app@localhost/app ./postgres_example
//   (or DATABASE_URL, or libpq's PGHOST/PGUSER/PGDATABASE/...)
//
// Then: SELECT timestamp, level, message, extra_data FROM example_logs ORDER BY id DESC LIMIT 5;
#include <spdlog_ext/sinks/postgres_batch_sink.h>
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>

int main() {
    try {
        spdlog_ext::postgres_config cfg = spdlog_ext::postgres_config::from_env();
        if (cfg.table_prefix.empty()) {
            cfg.table_prefix = "example";  // table example_logs
        }
        auto sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        spdlog::logger log("postgres_example", sink);

        spdlog_ext::scoped_fields request{{"request_id", "r-42"}, {"user_id", 7}};
        for (int i = 0; i < 1000; ++i) {
            log.info("processed item {}", i);
        }
        log.warn("slow response");

        // Wait (bounded) until everything is committed or in the fallback, then report.
        const bool drained = sink->flush_for(std::chrono::seconds(15));
        const auto stats = sink->stats();
        std::printf("%s: delivered %llu, fallback %llu, connected %s\n%s\n",
                    drained ? "done" : "not drained in time",
                    static_cast<unsigned long long>(stats.delivered),
                    static_cast<unsigned long long>(stats.fallback),
                    stats.backend.value("connected", false) ? "yes" : "no",
                    stats.last_error.empty() ? "" : ("last error: " + stats.last_error).c_str());
        return drained ? 0 : 1;
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "configuration error: %s\n", e.what());
        return 2;
    }
}
