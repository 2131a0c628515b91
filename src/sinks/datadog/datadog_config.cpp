#include "sinks/datadog/datadog_config.h"

#include <algorithm>
#include <cctype>

#include "config/http_env.h"
#include "core/text.h"
#include "core/warnings.h"
#include "sinks/http/http_settings.h"

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
    datadog_config cfg = detail::datadog_config_from(env_options("datadog"));
    detail::validate_datadog_config(cfg);
    return cfg;
}

namespace detail {

datadog_config datadog_config_from(const env_options& env) {
    datadog_config cfg;
    cfg.api_key = trim(getenv_value("DD_API_KEY").value_or(""));  // `$(cat keyfile)` adds \n
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
    return cfg;
}

bool validate_datadog_config(const datadog_config& cfg) {
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
    const bool insecure =
        check_http_url(cfg.intake_url(), cfg.url.empty() ? "DD_SITE" : "LOG_DATADOG_URL",
                       cfg.allow_insecure_http, datadog_insecure_variable);
    validate_http_settings(cfg, "LOG_DATADOG_");
    return insecure;
}

void warn_unknown_datadog_site(const datadog_config& cfg) {
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

std::vector<std::string> datadog_secrets(const datadog_config& cfg) {
    return {cfg.api_key};
}

}  // namespace detail

}  // namespace spdlog_ext
