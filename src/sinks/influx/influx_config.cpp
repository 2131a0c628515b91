#include "sinks/influx/influx_config.h"

#include <algorithm>

#include "config/http_env.h"
#include "core/text.h"
#include "sinks/http/http_settings.h"
#include "transport/http_transport.h"

namespace spdlog_ext {

namespace {

// "a, b,,c" → {"a", "b", "c"}
std::vector<std::string> tag_field_list(const std::string& list) {
    std::vector<std::string> out;
    for (const std::string_view piece : detail::split_any(list, ",")) {
        std::string item = detail::trim(piece);
        if (!item.empty()) {
            out.push_back(std::move(item));
        }
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
    influx_config cfg = detail::influx_config_from(env_options("influx"));
    detail::validate_influx_config(cfg);
    return cfg;
}

namespace detail {

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
    cfg.tag_fields = tag_field_list(env.get_string("TAG_FIELDS", ""));
    cfg.service = env.get_string("SERVICE", "");
    cfg.hostname = env.get_string("HOSTNAME", "");
    if (env.raw("UNSIGNED")) {
        cfg.unsigned_integers = env.get_bool("UNSIGNED", cfg.api == influx_api::v2);
    }
    cfg.gzip = env.get_bool("GZIP", cfg.gzip);
    cfg.level_counts_interval = env.get_duration("LEVEL_COUNTS", cfg.level_counts_interval);
    cfg.level_counts_measurement =
        env.get_string("LEVEL_COUNTS_MEASUREMENT", cfg.level_counts_measurement);
    read_http_env(env, cfg);
    env.apply_engine(cfg.engine);
    return cfg;
}

bool validate_influx_config(const influx_config& cfg) {
    if (cfg.url.empty()) {
        throw config_error("INFLUX_HOST",
                           "INFLUX_HOST is not set: the influx backend needs the server's URL, "
                           "e.g. http://localhost:8086");
    }
    const bool insecure =
        check_http_url(cfg.url, "INFLUX_HOST", cfg.allow_insecure_http, influx_insecure_variable);
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
    validate_http_settings(cfg, "LOG_INFLUX_");
    return insecure;
}

std::vector<std::string> influx_secrets(const influx_config& cfg) {
    return {cfg.token, cfg.password};
}

}  // namespace detail

}  // namespace spdlog_ext
