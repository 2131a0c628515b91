// Internal: the HTTP sinks' shared transport settings (CA bundle, timeouts): one check and one
// http_options builder for datadog, slack and influx. The environment reader is
// config/http_env.h; each sink checks its URL itself (its own variables and error order).
#pragma once

#include <string>

#include "transport/http_transport.h"

namespace spdlog_ext::detail {

// check_ca_bundle and check_timeout on a config's settings; `prefix` names its variables
// ("LOG_DATADOG_"). Throws config_error.
template <class Config>
void validate_http_settings(const Config& cfg, const std::string& prefix) {
    check_ca_bundle(cfg.ca_bundle, prefix + "CA_BUNDLE");
    check_timeout(cfg.connect_timeout, prefix + "CONNECT_TIMEOUT");
    check_timeout(cfg.timeout, prefix + "TIMEOUT");
}

// The transport's options from a config's settings.
template <class Config>
http_options http_options_for(const Config& cfg, const char* user_agent) {
    http_options o;
    o.connect_timeout = cfg.connect_timeout;
    o.total_timeout = cfg.timeout;
    o.ca_bundle = cfg.ca_bundle;
    o.user_agent = user_agent;
    return o;
}

}  // namespace spdlog_ext::detail
