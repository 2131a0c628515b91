#include "sinks/datadog/datadog_backend.h"

#include "core/warnings.h"
#include "sinks/datadog/datadog_config.h"
#include "sinks/http/http_settings.h"
#include "sinks/http/http_status.h"

namespace spdlog_ext::detail {

namespace {

constexpr const char* datadog_key_refused =
    "Datadog refused the API key (HTTP {status}): check DD_API_KEY and DD_SITE; the sink has "
    "stopped sending";

constexpr status_rule datadog_rules[] = {
    // Some item is malformed for the intake: the engine bisects down to it.
    {400, 400, batch_result::outcome::isolate, "{peer} answered HTTP {status}{: body}"},
    {401, 401, batch_result::outcome::disable, datadog_key_refused},
    {403, 403, batch_result::outcome::disable, datadog_key_refused},
};

constexpr status_table datadog_status("Datadog intake", first_line_reason, datadog_rules);

}  // namespace

datadog_backend::datadog_backend(const datadog_config& cfg)
    : transport_(http_options_for(cfg, "spdlog_ext datadog_http_sink")),
      url_(cfg.intake_url()),
      encoder_(cfg) {
    request_.url = url_;
    request_.headers = {{"DD-API-KEY", cfg.api_key}, {"Content-Type", "application/json"}};
    request_.gzip = cfg.gzip;
}

batch_result datadog_backend::write(record_span batch, const write_context&) {
    if (batch.size() > datadog_max_items) {
        return batch_result::with(batch_result::outcome::split,
                                  "more than 1000 items for one request");
    }
    encoder_.encode(batch, request_.body);
    if (request_.body.size() > datadog_max_request_bytes && batch.size() > 1) {
        return batch_result::with(batch_result::outcome::split,
                                  "request over Datadog's 5 MB limit");
    }
    return classify(transport_.post(request_));
}

nlohmann::json datadog_backend::extra_stats() const {
    return nlohmann::json{{"intake", redact_url(url_)}};
}

batch_result datadog_backend::classify(const http_response& response) {
    return detail::classify(response, datadog_status);
}

std::unique_ptr<backend> make_datadog_backend(const datadog_config& cfg) {
    const bool insecure = validate_datadog_config(cfg);
    warn_unknown_datadog_site(cfg);
    if (insecure) {
        warn(insecure_http_warning(cfg.intake_url(), datadog_insecure_variable));
    }
    return std::make_unique<datadog_backend>(cfg);
}

}  // namespace spdlog_ext::detail
