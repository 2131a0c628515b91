// Error alerts to Slack: an incoming webhook gets at most one message a second, coalescing bursts.
//
//   SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T.../B.../... ./slack_example
//   SLACK_WEBHOOK_URL=... LOG_SLACK_MENTION='<!here>' ./slack_example   # ping on critical
//   SLACK_WEBHOOK_URL=... LOG_SLACK_LEVEL=warn ./slack_example          # warnings too
//
// Create the webhook in your Slack app's settings (Incoming Webhooks > Add New Webhook).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog_ext/sinks/slack_error_sink.h>
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>
#include <exception>
#include <stdexcept>

int main() {
    try {
        spdlog_ext::slack_config cfg = spdlog_ext::slack_config::from_env();  // SLACK_WEBHOOK_URL
        if (cfg.service.empty()) {
            cfg.service = "slack_example";
        }
        // The usual console sink sees everything; the Slack sink only err and critical.
        auto console = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
        auto slack = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger log("slack_example", {console, slack});

        log.info("starting: info records stay out of Slack");
        {
            spdlog_ext::scoped_fields request{{"order_id", 77}, {"customer", "ann"}};
            log.error("payment provider refused the card");
        }
        // A burst: Slack gets one message saying "×20" instead of 20 messages.
        for (int i = 0; i < 20; ++i) {
            log.error("cache node unreachable");
        }
        try {
            throw std::runtime_error("disk full: /var/lib/app");
        } catch (const std::exception& e) {
            spdlog_ext::log_exception(log, spdlog::level::critical, e, "cannot write orders");
        }

        // Wait (bounded) until Slack accepted the messages (the rate limit applies here too).
        const bool drained = slack->flush_for(std::chrono::seconds(10));
        const auto stats = slack->stats();
        std::printf("%s: %llu records in %llu messages, fallback %llu%s\n",
                    drained ? "done" : "not drained in time",
                    static_cast<unsigned long long>(stats.delivered),
                    static_cast<unsigned long long>(stats.batches),
                    static_cast<unsigned long long>(stats.fallback),
                    stats.disabled ? " (sink disabled)" : "");
        if (!stats.last_error.empty()) {
            std::printf("last error: %s\n", stats.last_error.c_str());  // the URL is masked
        }
        return drained && stats.fallback == 0 ? 0 : 1;
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "configuration error: %s\n", e.what());
        return 2;
    }
}
