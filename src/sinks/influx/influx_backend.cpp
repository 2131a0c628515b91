#include "sinks/influx/influx_backend.h"

#include <chrono>

#include "core/utf8.h"
#include "core/warnings.h"
#include "sinks/http/http_settings.h"
#include "sinks/http/http_status.h"
#include "sinks/influx/influx_config.h"

namespace spdlog_ext::detail {

namespace {

std::string host_tag_value(const influx_config& cfg) {
    return cfg.hostname.empty() ? host_name() : cfg.hostname;
}

line_protocol_options encoder_options(const influx_config& cfg) {
    line_protocol_options o;
    o.measurement = cfg.measurement;
    o.tag_fields = cfg.tag_fields;
    o.service = cfg.service;
    o.hostname = host_tag_value(cfg);
    o.unsigned_integers = cfg.unsigned_integers.value_or(cfg.api == influx_api::v2);
    return o;
}

level_counts level_counts_for(const influx_config& cfg) {
    return level_counts(
        std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.level_counts_interval).count(),
        cfg.level_counts_measurement, host_tag_value(cfg), cfg.service);
}

// The server's reason: v1 answers {"error": "..."}, v2 {"code": "...", "message": "..."}.
std::string server_message(const http_response& response) {
    const std::string& body = response.body;
    try {
        const auto j = nlohmann::json::parse(body);
        if (j.is_object()) {
            for (const char* key : {"error", "message"}) {
                if (j.contains(key) && j[key].is_string()) {
                    return utf8::sanitize(j[key].get<std::string>().substr(0, 1000));
                }
            }
        }
    } catch (const nlohmann::json::exception&) {
    }
    std::string text = utf8::sanitize(body.substr(0, 500));
    return text.substr(0, text.find('\n'));
}

// Malformed or refused points (type conflict, outside retention) are isolated: the engine
// bisects to them. The server may have written the others already: writing them again is
// idempotent.
constexpr const char* influx_bad_points = "InfluxDB (HTTP {status}): {body}";
constexpr const char* influx_v2_refused =
    "InfluxDB (HTTP {status}): {body}; check INFLUX_TOKEN (and that it may write to "
    "INFLUX_BUCKET). The sink has stopped writing";
constexpr const char* influx_v1_refused =
    "InfluxDB (HTTP {status}): {body}; check INFLUX_USERNAME and INFLUX_PASSWORD. The sink has "
    "stopped writing";

constexpr status_rule influx_v2_rules[] = {
    {400, 400, batch_result::outcome::isolate, influx_bad_points},
    {422, 422, batch_result::outcome::isolate, influx_bad_points},
    {401, 401, batch_result::outcome::disable, influx_v2_refused},
    {403, 403, batch_result::outcome::disable, influx_v2_refused},
    {404, 404, batch_result::outcome::rejected,
     "InfluxDB (HTTP {status}): {body}; check INFLUX_ORG and INFLUX_BUCKET"},
};

constexpr status_rule influx_v1_rules[] = {
    {400, 400, batch_result::outcome::isolate, influx_bad_points},
    {422, 422, batch_result::outcome::isolate, influx_bad_points},
    {401, 401, batch_result::outcome::disable, influx_v1_refused},
    {403, 403, batch_result::outcome::disable, influx_v1_refused},
    {404, 404, batch_result::outcome::rejected,
     "InfluxDB (HTTP {status}): {body}; check INFLUX_DATABASE (create it first)"},
};

constexpr status_table influx_v2_status("InfluxDB", server_message, influx_v2_rules);
constexpr status_table influx_v1_status("InfluxDB", server_message, influx_v1_rules);

}  // namespace

influx_backend::influx_backend(const influx_config& cfg)
    : transport_(http_options_for(cfg, "spdlog_ext influx_timeseries_sink")),
      encoder_(encoder_options(cfg)),
      counts_(level_counts_for(cfg)),
      url_(cfg.write_url()),
      api_(cfg.api) {
    request_.url = url_;
    request_.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    if (cfg.api == influx_api::v2) {
        request_.headers.emplace_back("Authorization", "Token " + cfg.token);
    } else if (!cfg.username.empty()) {
        request_.username = cfg.username;
        request_.password = cfg.password;
    }
    request_.gzip = cfg.gzip;
}

batch_result influx_backend::write(record_span batch, const write_context& context) {
    // The level counts are a transaction: this write's tally is kept only once delivered, so a
    // retry or a bisection half counts its records once.
    counts_.begin();
    encoder_.encode(batch, request_.body, context.source_id, context.source_offset, &skipped_);
    counts_.tally(batch);
    counts_.append_lines(request_.body);
    publish_stats();
    if (request_.body.empty()) {
        counts_.commit();
        return with_skipped(batch_result::delivered());
    }
    batch_result result = classify(transport_.post(request_), api_);
    if (result.kind == batch_result::outcome::delivered) {
        counts_.commit();
        return with_skipped(std::move(result));
    }
    counts_.rollback();
    return result;
}

nlohmann::json influx_backend::extra_stats() const {
    return nlohmann::json{{"write_url", redact_url(url_)},
                          {"nan_fields_dropped", nan_dropped_.load()},
                          {"renamed_keys", renamed_.load()},
                          {"timestamps_shifted", shifted_.load()}};
}

batch_result influx_backend::classify(const http_response& response, influx_api api) {
    return detail::classify(response, api == influx_api::v2 ? influx_v2_status : influx_v1_status);
}

batch_result influx_backend::with_skipped(batch_result result) {
    if (skipped_.empty()) {
        return result;
    }
    std::vector<batch_result::rejected_record> refused;
    for (std::size_t i : skipped_) {
        refused.push_back({i, "metric has no finite field value (NaN/Inf dropped)"});
    }
    return batch_result::partial(std::move(refused));
}

void influx_backend::publish_stats() {
    const auto& s = encoder_.stats();
    nan_dropped_ = s.nan_fields_dropped;
    renamed_ = s.renamed_keys;
    shifted_ = s.timestamps_shifted;
}

std::unique_ptr<backend> make_influx_backend(const influx_config& cfg) {
    if (validate_influx_config(cfg)) {
        warn(insecure_http_warning(cfg.url, influx_insecure_variable));
    }
    return std::make_unique<influx_backend>(cfg);
}

}  // namespace spdlog_ext::detail
