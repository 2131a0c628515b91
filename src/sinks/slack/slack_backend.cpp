#include "sinks/slack/slack_backend.h"

#include <chrono>

#include "core/url_parts.h"
#include "core/utf8.h"
#include "core/warnings.h"
#include "sinks/http/http_settings.h"
#include "sinks/http/http_status.h"
#include "sinks/slack/slack_config.h"

namespace spdlog_ext::detail {

namespace {

// "https://hooks.slack.com" of a webhook URL: its path is the secret, so stats show only this.
std::string origin_of(const std::string& url) {
    if (url.find("://") == std::string::npos) {
        return "(invalid URL)";
    }
    std::string origin = url.substr(0, authority_end(url, userinfo_scope::before_path));
    // No credentials either.
    if (const auto at = userinfo_end(origin, userinfo_scope::before_path);
        at != std::string::npos) {
        const auto start = authority_start(origin);
        origin.erase(start, at + 1 - start);
    }
    return origin;
}

// The first line of Slack's answer ("invalid_blocks", "no_service"), or empty.
std::string slack_answer(const http_response& response) {
    std::string why = utf8::sanitize(utf8::truncate(response.body, 200));
    return why.substr(0, why.find('\n'));
}

constexpr const char* webhook_refused =
    "Slack refused the webhook (HTTP {status}{: body}): the webhook is invalid or revoked, or its "
    "channel is archived; check SLACK_WEBHOOK_URL. The sink has stopped posting";

constexpr status_rule slack_rules[] = {
    // The payload, not the webhook: invalid_blocks, invalid_payload, no_text. Only these
    // records are at fault; the sink goes on with the next ones.
    {400, 400, batch_result::outcome::isolate, "Slack refused the message (HTTP 400{: body})"},
    {403, 404, batch_result::outcome::disable, webhook_refused},
    {410, 410, batch_result::outcome::disable, webhook_refused},
};

constexpr status_table slack_status("Slack webhook", slack_answer, slack_rules);

}  // namespace

slack_backend::slack_backend(const slack_config& cfg)
    : transport_(http_options_for(cfg, "spdlog_ext slack_error_sink")),
      origin_(origin_of(cfg.webhook_url)) {
    message_.mention = cfg.mention;
    message_.service = cfg.service;
    message_.hostname = cfg.hostname.empty() ? host_name() : cfg.hostname;
    message_.max_detailed = cfg.max_detailed;
    request_.url = cfg.webhook_url;
    request_.headers = {{"Content-Type", "application/json; charset=utf-8"}};
}

batch_result slack_backend::write(record_span batch, const write_context& context) {
    // One message for the whole batch: the engine's min_write_interval keeps the rate. The
    // records of a batch Slack refused as blocks go as plain text from then on (the retry
    // and, should that be refused too, the halves the engine bisects it into).
    const bool plain = context.source_id != 0 && context.source_id == plain_source_;
    request_.body = plain ? slack_plain_message(batch, message_) : slack_message(batch, message_);
    batch_result result = classify(transport_.post(request_));
    if (result.kind == batch_result::outcome::isolate) {  // HTTP 400: the blocks, or the text
        if (!plain) {
            plain_source_ = context.source_id;
            return batch_result::retry(result.reason + "; sending it again as plain text",
                                       std::chrono::milliseconds(0));
        }
        result.reason += " even as plain text";
    }
    return result;
}

batch_result slack_backend::classify(const http_response& response) {
    return detail::classify(response, slack_status);
}

std::unique_ptr<backend> make_slack_backend(const slack_config& cfg) {
    if (validate_slack_config(cfg)) {
        warn(insecure_http_warning(cfg.webhook_url, slack_insecure_variable));
    }
    return std::make_unique<slack_backend>(cfg);
}

}  // namespace spdlog_ext::detail
