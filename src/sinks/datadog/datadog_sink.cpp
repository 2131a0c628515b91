#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>

#include "config/http_env.h"
#include "core/text.h"
#include "core/utf8.h"
#include "core/warnings.h"
#include "sinks/datadog/datadog_backend.h"
#include "sinks/datadog/datadog_encoder.h"
#include "sinks/http/http_settings.h"
#include "sinks/logger_factory.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "transport/http_transport.h"

namespace spdlog_ext {

namespace {
// The Datadog sites known when this was written. Others may appear: an unknown site is only a
// warning.
const char* const known_sites[] = {"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com",
                                   "datadoghq.eu",  "ap1.datadoghq.com", "ap2.datadoghq.com",
                                   "ddog-gov.com"};

bool looks_like_host(const std::string& site) {
    return !site.empty() && std::all_of(site.begin(), site.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-';
    });
}
}  // namespace

std::string datadog_config::intake_url() const {
    return url.empty() ? "https://http-intake.logs." + site + "/api/v2/logs" : url;
}

datadog_config datadog_config::from_env() {
    return detail::datadog_config_from(env_options("datadog"));
}

namespace detail {

namespace {
constexpr const char* insecure_variable = "LOG_DATADOG_ALLOW_INSECURE_HTTP";

// Once per sink built (not in validate, which from_env() runs too).
void warn_unknown_site(const datadog_config& cfg) {
    if (cfg.url.empty() && std::find(std::begin(known_sites), std::end(known_sites), cfg.site) ==
                               std::end(known_sites)) {
        std::string sites;
        for (const char* site : known_sites) {
            sites += sites.empty() ? "" : ", ";
            sites += site;
        }
        warn("DD_SITE: '" + cfg.site + "' is not a known Datadog site (" + sites +
             "); sending to " + cfg.intake_url() + " anyway. Check for a typo; new sites are fine");
    }
}
}  // namespace

void validate_datadog_config(const datadog_config& cfg) {
    // A key with a line break would inject HTTP headers: refuse it (without printing it).
    if (std::any_of(cfg.api_key.begin(), cfg.api_key.end(),
                    [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
        throw config_error("DD_API_KEY",
                           "DD_API_KEY contains a line break or another control character");
    }
    if (cfg.api_key.empty()) {
        throw config_error("DD_API_KEY",
                           "DD_API_KEY is not set: the datadog backend needs a Datadog API key "
                           "(Organization Settings > API Keys)");
    }
    if (cfg.url.empty() && !looks_like_host(cfg.site)) {
        throw config_error("DD_SITE",
                           "DD_SITE must be a Datadog site such as datadoghq.com, "
                           "us5.datadoghq.com or datadoghq.eu");
    }
    check_http_url(cfg.intake_url(), cfg.url.empty() ? "DD_SITE" : "LOG_DATADOG_URL",
                   cfg.allow_insecure_http, insecure_variable);
    validate_http_settings(cfg, "LOG_DATADOG_");
}

std::unique_ptr<backend> make_datadog_backend(const datadog_config& cfg) {
    validate_datadog_config(cfg);
    warn_unknown_site(cfg);
    if (check_http_url(cfg.intake_url(), "LOG_DATADOG_URL", cfg.allow_insecure_http,
                       insecure_variable)) {
        warn(insecure_http_warning(cfg.intake_url(), insecure_variable));
    }
    return std::make_unique<datadog_backend>(cfg);
}

datadog_config datadog_config_from(const env_options& env) {
    datadog_config cfg;
    cfg.api_key =
        detail::trim(getenv_value("DD_API_KEY").value_or(""));  // `$(cat keyfile)` adds \n
    cfg.site = getenv_value("DD_SITE").value_or(cfg.site);
    cfg.service = getenv_value("DD_SERVICE").value_or("");
    cfg.env = getenv_value("DD_ENV").value_or("");
    cfg.version = getenv_value("DD_VERSION").value_or("");
    cfg.tags = getenv_value("DD_TAGS").value_or("");
    cfg.hostname = getenv_value("DD_HOSTNAME").value_or("");
    cfg.url = env.get_string("URL", "");
    cfg.source = env.get_string("SOURCE", cfg.source);
    cfg.gzip = env.get_bool("GZIP", cfg.gzip);
    read_http_env(env, cfg);
    env.apply_engine(cfg.engine);
    validate_datadog_config(cfg);
    return cfg;
}

}  // namespace detail

namespace {
engine_config prepared_engine(const datadog_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "datadog";
    }
    engine.secrets.push_back(cfg.api_key);
    return engine;
}
}  // namespace

datadog_http_sink::datadog_http_sink(datadog_config config)
    : engine_sink(detail::make_datadog_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> datadog_logger_mt(const std::string& logger_name,
                                                  datadog_config config) {
    return detail::registered_logger<datadog_http_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> datadog_logger_st(const std::string& logger_name,
                                                  datadog_config config) {
    return datadog_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
