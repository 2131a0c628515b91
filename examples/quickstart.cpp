// Quickstart: loggers whose sinks come from LOG_BACKENDS (here console + a JSON-lines file by
// default), structured fields, exceptions, and a clean shutdown.
//
//   ./quickstart                                  # console + logs/quickstart.jsonl
//   LOG_BACKENDS=console ./quickstart             # console only
//   SPDLOG_LEVEL=debug LOG_FILE_PATH=/tmp/q.jsonl ./quickstart
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

int main() {
    // Defaults for this demo only; the environment wins when it sets them.
    setenv("LOG_BACKENDS", "console,file", /*overwrite=*/0);
    setenv("LOG_FILE_PATH", "logs/quickstart.jsonl", 0);

    try {
        auto log = spdlog_ext::make_logger("quickstart");
        log->info("quickstart started (spdlog_ext {})", SPDLOG_EXT_VERSION_STRING);

        {
            // Fields captured by every record logged on this thread while `request` lives.
            spdlog_ext::scoped_fields request{{"request_id", "r-1029"}, {"user_id", 123}};
            log->info("user logged in");
            // Fields for one call only.
            spdlog_ext::log(log, spdlog::level::warn, {{"retry", 2}, {"latency_ms", 812.5}},
                            "payment provider slow");
        }

        try {
            try {
                throw std::runtime_error("connection reset by peer");
            } catch (...) {
                std::throw_with_nested(std::runtime_error("could not charge card"));
            }
        } catch (const std::exception& e) {
            spdlog_ext::log_exception(log, spdlog::level::err, e, "checkout failed for {}",
                                      "order 77");
        }

        // Drain every sink before exit (network sinks deliver what is queued).
        spdlog_ext::shutdown(std::chrono::seconds(5));
    } catch (const spdlog_ext::config_error& e) {
        // Only with LOG_STRICT=true: otherwise a broken backend is skipped with a warning on
        // stderr, and the others (or the console) log.
        std::fprintf(stderr, "configuration error: %s\n", e.what());
        return 2;
    }

    const char* backends = std::getenv("LOG_BACKENDS");
    std::printf("\nOutput went to: %s\n", backends);
    if (spdlog_ext::parse_backend_list(backends).size() > 0) {
        for (const auto& name : spdlog_ext::parse_backend_list(backends)) {
            if (name == "file") {
                std::printf("  file: %s (one JSON object per line)\n",
                            std::filesystem::absolute(std::getenv("LOG_FILE_PATH")).c_str());
            } else if (name == "console") {
                std::printf("  console: the lines above\n");
            }
        }
    }
    return 0;
}
