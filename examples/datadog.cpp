// Logging to Datadog: batched, gzip-compressed POSTs to the Logs HTTP intake (v2).
//
//   DD_API_KEY=<your key> ./datadog_example                        # US1: datadoghq.com
//   DD_API_KEY=<your key> DD_SITE=datadoghq.eu ./datadog_example   # or us3/us5.datadoghq.com...
//   DD_API_KEY=<your key> DD_SERVICE=checkout DD_ENV=dev DD_TAGS=team:core ./datadog_example
//   DD_API_KEY=x LOG_DATADOG_URL=http://localhost:8080/api/v2/logs ./datadog_example  # a proxy
//
// Then, in Datadog's Log Explorer: service:datadog_example (or your DD_SERVICE).
#include <spdlog_ext/sinks/datadog_http_sink.h>
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>
#include <exception>
#include <stdexcept>

int main() {
    try {
        spdlog_ext::datadog_config cfg = spdlog_ext::datadog_config::from_env();  // DD_API_KEY...
        if (cfg.service.empty()) {
            cfg.service = "datadog_example";
        }
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger log("datadog_example", sink);
        std::printf("sending to %s\n", cfg.intake_url().c_str());

        {
            // Fields become typed attributes of every item logged on this thread in this scope.
            spdlog_ext::scoped_fields request{{"request_id", "r-42"}, {"user_id", 7}};
            log.info("user logged in");
            for (int i = 0; i < 3; ++i) {
                log.info("processed item {}", i);
            }
            // Fields for one call only.
            spdlog_ext::log(log, spdlog::level::warn, {{"latency_ms", 812.5}, {"retry", 2}},
                            "payment provider slow");
        }

        // An exception (with the one nested in it) becomes error.kind/message/stack.
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

        // Wait (bounded) until everything is accepted by the intake or in the fallback.
        const bool drained = sink->flush_for(std::chrono::seconds(10));
        const auto stats = sink->stats();
        std::printf("%s: delivered %llu, fallback %llu%s\n",
                    drained ? "done" : "not drained in time",
                    static_cast<unsigned long long>(stats.delivered),
                    static_cast<unsigned long long>(stats.fallback),
                    stats.disabled ? " (sink disabled)" : "");
        if (!stats.last_error.empty()) {
            std::printf("last error: %s\n", stats.last_error.c_str());  // the key is masked
        }
        return drained && stats.fallback == 0 ? 0 : 1;
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "configuration error: %s\n", e.what());
        return 2;
    }
}
