// slack_error_sink: error alerts to a Slack incoming webhook, rate-limited and coalesced.
//
//   spdlog_ext::slack_config cfg = spdlog_ext::slack_config::from_env();  // SLACK_WEBHOOK_URL
//   logger->sinks().push_back(std::make_shared<spdlog_ext::slack_error_sink>(cfg));
//   auto log = spdlog_ext::slack_logger_mt("alerts", cfg);
//
// Only records at or above `level` (default err) reach the sink (it is the sink's spdlog level).
// At most one message per `engine.min_write_interval` (default 1 s, Slack's limit per webhook):
// records arriving meanwhile are coalesced into the next message, which shows the first few
// distinct ones in full (identical ones counted as "×N") and then "and N more: k errors,
// m critical". Each message is Block Kit within Slack's limits, with `&`, `<`, `>` escaped so a
// logged text can neither mention (@channel) nor link. 429 waits for Retry-After; 5xx and
// network errors retry; a 400 sends the message again as plain text, then isolates the refused
// record to the fallback; 403/404/410 (webhook revoked, channel archived) stop the sink with one
// error, and every record goes to the fallback.
// Manual: docs/sinks/slack.md.
#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext {

struct slack_config {
    slack_config() {
        engine.name = "slack";
        engine.redaction = redactor::defaults();                  // secrets never leave the process
        engine.min_write_interval = std::chrono::seconds(1);      // Slack: ~1 message/s per webhook
        engine.batch_max_delay = std::chrono::milliseconds(250);  // gather the start of a burst
        // A message summarises a whole batch, so a batch may hold everything queued.
        engine.queue_max_records = 50000;
        engine.queue_max_bytes = 16u << 20;
        engine.batch_max_records = engine.queue_max_records;
        engine.batch_max_bytes = engine.queue_max_bytes;
    }

    std::string webhook_url;  // SLACK_WEBHOOK_URL (required); a secret: never printed
    spdlog::level::level_enum level = spdlog::level::err;  // LOG_SLACK_LEVEL
    // LOG_SLACK_MENTION: added to messages holding a critical record: "<!here>", "<!channel>",
    // "<@U0123ABC>" (a user) or "<!subteam^S0123ABC>" (a user group). Empty: no mention.
    std::string mention;
    std::string service;           // LOG_SLACK_SERVICE: shown in the context line
    std::string hostname;          // LOG_SLACK_HOSTNAME; empty: this machine's name
    std::size_t max_detailed = 5;  // LOG_SLACK_MAX_DETAILED: distinct records shown in full (1-8)
    std::string ca_bundle;         // LOG_SLACK_CA_BUNDLE: PEM file; empty: the system's
    // LOG_SLACK_ALLOW_INSECURE_HTTP: accept an http:// webhook to a host that is not loopback
    // (its secret path then travels in clear; one warning). Otherwise only https://, or
    // http:// to 127.0.0.0/8, ::1 or localhost.
    bool allow_insecure_http = false;
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);  // ..._CONNECT_TIMEOUT
    std::chrono::milliseconds timeout = std::chrono::seconds(15);          // LOG_SLACK_TIMEOUT
    engine_config engine;  // LOG_SLACK_<ENGINE OPTION>, e.g. LOG_SLACK_MIN_WRITE_INTERVAL=2s

    // SLACK_WEBHOOK_URL and LOG_SLACK_* (and the engine options); throws config_error.
    static slack_config from_env();
};

class slack_error_sink final : public engine_sink {
  public:
    // Throws config_error for settings that can never work (no webhook URL, a bad mention).
    explicit slack_error_sink(slack_config config);
};

using slack_error_sink_mt = slack_error_sink;
using slack_error_sink_st = slack_error_sink;

std::shared_ptr<spdlog::logger> slack_logger_mt(const std::string& logger_name,
                                                slack_config config);
std::shared_ptr<spdlog::logger> slack_logger_st(const std::string& logger_name,
                                                slack_config config);

}  // namespace spdlog_ext
