#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "core/text.h"
#include "core/utf8.h"
#include "core/warnings.h"
#include "sinks/influx/influx_backend.h"
#include "sinks/influx/influx_encoder.h"
#include "sinks/influx/level_counts.h"
#include "sinks/logger_factory.h"
#include "transport/http_transport.h"

namespace spdlog_ext {

namespace {

constexpr const char* insecure_variable = "LOG_INFLUX_ALLOW_INSECURE_HTTP";

bool use_unsigned(const influx_config& cfg) {
    return cfg.unsigned_integers.value_or(cfg.api == influx_api::v2);
}

// The server's reason: v1 answers {"error": "..."}, v2 {"code": "...", "message": "..."}.
std::string server_message(const std::string& body) {
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

class influx_backend final : public backend {
  public:
    explicit influx_backend(const influx_config& cfg)
        : transport_(options(cfg)),
          encoder_(encoder_options(cfg)),
          counts_(level_counts_for(cfg)),
          url_(cfg.write_url()) {
        request_.url = url_;
        request_.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
        if (cfg.api == influx_api::v2) {
            request_.headers.emplace_back("Authorization", "Token " + cfg.token);
        } else if (!cfg.username.empty()) {
            request_.username = cfg.username;
            request_.password = cfg.password;
        }
        request_.gzip = cfg.gzip;
        credentials_hint_ = cfg.api == influx_api::v2
                                ? "check INFLUX_TOKEN (and that it may write to INFLUX_BUCKET)"
                                : "check INFLUX_USERNAME and INFLUX_PASSWORD";
        target_hint_ = cfg.api == influx_api::v2 ? "check INFLUX_ORG and INFLUX_BUCKET"
                                                 : "check INFLUX_DATABASE (create it first)";
    }

    batch_result write(record_span batch, const write_context& context) override {
        // The level counts are a transaction: this write's tally is kept only once delivered,
        // so a retry or a bisection half counts its records once.
        counts_.begin();
        encoder_.encode(batch, request_.body, context.source_id, context.source_offset, &skipped_);
        counts_.tally(batch);
        counts_.append_lines(request_.body);
        publish_stats();
        if (request_.body.empty()) {
            counts_.commit();
            return with_skipped(batch_result::delivered());
        }
        const detail::http_response response = transport_.post(request_);
        const long status = response.status;
        if (status >= 200 && status < 300) {
            counts_.commit();
            return with_skipped(batch_result::delivered());
        }
        counts_.rollback();
        const std::string why =
            "InfluxDB (HTTP " + std::to_string(status) + "): " + server_message(response.body);
        if (status == 400 || status == 422) {
            // Malformed or refused points (type conflict, outside retention): bisect to them.
            // The server may have written the others already: writing them again is idempotent.
            return batch_result::with(batch_result::outcome::isolate, why);
        }
        if (status == 401 || status == 403) {
            return batch_result::with(
                batch_result::outcome::disable,
                why + "; " + credentials_hint_ + ". The sink has stopped writing");
        }
        if (status == 404) {
            return batch_result::with(batch_result::outcome::rejected, why + "; " + target_hint_);
        }
        return detail::classify_response(response, "InfluxDB");  // 413 split, 429/5xx retry
    }

    void interrupt() noexcept override { transport_.interrupt(); }

    nlohmann::json extra_stats() const override {
        return nlohmann::json{{"write_url", detail::redact_url(url_)},
                              {"nan_fields_dropped", nan_dropped_.load()},
                              {"renamed_keys", renamed_.load()},
                              {"timestamps_shifted", shifted_.load()}};
    }

  private:
    static detail::http_options options(const influx_config& cfg) {
        detail::http_options o;
        o.connect_timeout = cfg.connect_timeout;
        o.total_timeout = cfg.timeout;
        o.ca_bundle = cfg.ca_bundle;
        o.user_agent = "spdlog_ext influx_timeseries_sink";
        return o;
    }

    static detail::line_protocol_options encoder_options(const influx_config& cfg) {
        detail::line_protocol_options o;
        o.measurement = cfg.measurement;
        o.tag_fields = cfg.tag_fields;
        o.service = cfg.service;
        o.hostname = host_tag_value(cfg);
        o.unsigned_integers = use_unsigned(cfg);
        return o;
    }

    static detail::level_counts level_counts_for(const influx_config& cfg) {
        return detail::level_counts(
            std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.level_counts_interval).count(),
            cfg.level_counts_measurement, host_tag_value(cfg), cfg.service);
    }

    static std::string host_tag_value(const influx_config& cfg) {
        return cfg.hostname.empty() ? host_name() : cfg.hostname;
    }

    // Records that gave no point (a metric with only NaN values) go to the fallback.
    batch_result with_skipped(batch_result result) {
        if (skipped_.empty()) {
            return result;
        }
        std::vector<batch_result::rejected_record> refused;
        for (std::size_t i : skipped_) {
            refused.push_back({i, "metric has no finite field value (NaN/Inf dropped)"});
        }
        return batch_result::partial(std::move(refused));
    }

    void publish_stats() {  // the encoder's counters, readable from other threads
        const auto& s = encoder_.stats();
        nan_dropped_ = s.nan_fields_dropped;
        renamed_ = s.renamed_keys;
        shifted_ = s.timestamps_shifted;
    }

    detail::http_transport transport_;
    detail::line_encoder encoder_;
    detail::level_counts counts_;
    std::string url_;
    std::string credentials_hint_;
    std::string target_hint_;
    detail::http_request request_;
    std::vector<std::size_t> skipped_;
    std::atomic<std::uint64_t> nan_dropped_{0};
    std::atomic<std::uint64_t> renamed_{0};
    std::atomic<std::uint64_t> shifted_{0};
};

engine_config prepared_engine(const influx_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "influx";
    }
    engine.secrets.push_back(cfg.token);
    engine.secrets.push_back(cfg.password);
    return engine;
}

std::vector<std::string> split_list(const std::string& list) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto comma = list.find(',', start);
        const std::string item =
            detail::trim(list.substr(start, comma == std::string::npos ? comma : comma - start));
        if (!item.empty()) {
            out.push_back(item);
        }
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return out;
}
}  // namespace

std::string influx_config::write_url() const {
    std::string base = url;
    while (!base.empty() && base.back() == '/') {
        base.pop_back();
    }
    using detail::url_encode;
    if (api == influx_api::v2) {
        return base + "/api/v2/write?org=" + url_encode(org) + "&bucket=" + url_encode(bucket) +
               "&precision=ns";
    }
    return base + "/write?db=" + url_encode(database) +
           (retention_policy.empty() ? "" : "&rp=" + url_encode(retention_policy)) +
           "&precision=ns";
}

influx_config influx_config::from_env() {
    return detail::influx_config_from(env_options("influx"));
}

namespace detail {

void validate_influx_config(const influx_config& cfg) {
    if (cfg.url.empty()) {
        throw config_error("INFLUX_HOST",
                           "INFLUX_HOST is not set: the influx backend needs the server's URL, "
                           "e.g. http://localhost:8086");
    }
    check_http_url(cfg.url, "INFLUX_HOST", cfg.allow_insecure_http, insecure_variable);
    if (cfg.url.find('?') != std::string::npos) {
        throw config_error("INFLUX_HOST",
                           "INFLUX_HOST is the base URL (http://host:8086): no query; set "
                           "INFLUX_ORG/INFLUX_BUCKET or INFLUX_DATABASE instead");
    }
    const auto control = [](const std::string& s) {
        return std::any_of(s.begin(), s.end(),
                           [](unsigned char c) { return c < 0x20 || c == 0x7f; });
    };
    if (cfg.api == influx_api::v2) {
        if (cfg.token.empty() || control(cfg.token)) {
            throw config_error("INFLUX_TOKEN",
                               cfg.token.empty()
                                   ? "INFLUX_TOKEN is not set: the v2 API needs an API token"
                                   : "INFLUX_TOKEN contains a line break or control character");
        }
        if (cfg.org.empty()) {
            throw config_error("INFLUX_ORG",
                               "INFLUX_ORG is not set: the v2 API needs the "
                               "organization (name or ID)");
        }
        if (cfg.bucket.empty()) {
            throw config_error("INFLUX_BUCKET",
                               "INFLUX_BUCKET is not set: the v2 API needs the "
                               "bucket to write to");
        }
    } else {
        if (cfg.database.empty()) {
            throw config_error("INFLUX_DATABASE",
                               "INFLUX_DATABASE is not set: the v1 API needs the database");
        }
        if (!cfg.password.empty() && cfg.username.empty()) {
            throw config_error("INFLUX_USERNAME",
                               "INFLUX_PASSWORD is set but INFLUX_USERNAME is not");
        }
        if (control(cfg.username) || control(cfg.password)) {
            throw config_error("INFLUX_PASSWORD",
                               "INFLUX_USERNAME/INFLUX_PASSWORD contain a control character");
        }
    }
    if (cfg.measurement.empty()) {
        throw config_error("LOG_INFLUX_MEASUREMENT", "LOG_INFLUX_MEASUREMENT must not be empty");
    }
    if (cfg.level_counts_interval.count() < 0 ||
        (cfg.level_counts_interval.count() > 0 && cfg.level_counts_measurement.empty())) {
        throw config_error("LOG_INFLUX_LEVEL_COUNTS",
                           "LOG_INFLUX_LEVEL_COUNTS must be a positive interval (e.g. 10s) with "
                           "a non-empty LOG_INFLUX_LEVEL_COUNTS_MEASUREMENT");
    }
    check_ca_bundle(cfg.ca_bundle, "LOG_INFLUX_CA_BUNDLE");
    check_timeout(cfg.connect_timeout, "LOG_INFLUX_CONNECT_TIMEOUT");
    check_timeout(cfg.timeout, "LOG_INFLUX_TIMEOUT");
}

std::unique_ptr<backend> make_influx_backend(const influx_config& cfg) {
    validate_influx_config(cfg);
    if (check_http_url(cfg.url, "INFLUX_HOST", cfg.allow_insecure_http, insecure_variable)) {
        warn(insecure_http_warning(cfg.url, insecure_variable));
    }
    return std::make_unique<influx_backend>(cfg);
}

influx_config influx_config_from(const env_options& env) {
    influx_config cfg;
    const auto var = [](const char* name) { return trim(getenv_value(name).value_or("")); };
    cfg.url = var("INFLUX_HOST");
    cfg.token = var("INFLUX_TOKEN");
    cfg.org = var("INFLUX_ORG");
    cfg.bucket = var("INFLUX_BUCKET");
    cfg.database = var("INFLUX_DATABASE");
    cfg.username = var("INFLUX_USERNAME");
    cfg.password = getenv_value("INFLUX_PASSWORD").value_or("");
    const bool v2_set = !cfg.token.empty() || !cfg.org.empty() || !cfg.bucket.empty();
    if (env.raw("API")) {
        cfg.api = env.get_enum<influx_api>("API", cfg.api,
                                           {{"v1", influx_api::v1}, {"v2", influx_api::v2}});
    } else if (v2_set) {
        cfg.api = influx_api::v2;
    } else if (!cfg.database.empty()) {
        cfg.api = influx_api::v1;
    } else if (!cfg.url.empty()) {
        throw config_error("INFLUX_BUCKET",
                           "the influx backend needs INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET "
                           "(v2 API) or INFLUX_DATABASE (v1 API)");
    }
    cfg.retention_policy = env.get_string("RETENTION_POLICY", "");
    cfg.measurement = env.get_string("MEASUREMENT", cfg.measurement);
    cfg.tag_fields = split_list(env.get_string("TAG_FIELDS", ""));
    cfg.service = env.get_string("SERVICE", "");
    cfg.hostname = env.get_string("HOSTNAME", "");
    if (env.raw("UNSIGNED")) {
        cfg.unsigned_integers = env.get_bool("UNSIGNED", cfg.api == influx_api::v2);
    }
    cfg.gzip = env.get_bool("GZIP", cfg.gzip);
    cfg.level_counts_interval = env.get_duration("LEVEL_COUNTS", cfg.level_counts_interval);
    cfg.level_counts_measurement =
        env.get_string("LEVEL_COUNTS_MEASUREMENT", cfg.level_counts_measurement);
    cfg.ca_bundle = env.get_string("CA_BUNDLE", "");
    cfg.allow_insecure_http = env.get_bool("ALLOW_INSECURE_HTTP", cfg.allow_insecure_http);
    cfg.connect_timeout = env.get_duration("CONNECT_TIMEOUT", cfg.connect_timeout);
    cfg.timeout = env.get_duration("TIMEOUT", cfg.timeout);
    env.apply_engine(cfg.engine);
    validate_influx_config(cfg);
    return cfg;
}

}  // namespace detail

influx_timeseries_sink::influx_timeseries_sink(influx_config config)
    : engine_sink(detail::make_influx_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> influx_logger_mt(const std::string& logger_name,
                                                 influx_config config) {
    return detail::registered_logger<influx_timeseries_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> influx_logger_st(const std::string& logger_name,
                                                 influx_config config) {
    return influx_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
