// Internal: the HTTP sinks' shared transport settings, read from LOG_<BACKEND>_* once for
// datadog, slack and influx (their checks and the transport options: sinks/http/http_settings.h).
#pragma once

#include "spdlog_ext/env_options.h"

namespace spdlog_ext::detail {

// Reads CA_BUNDLE, ALLOW_INSECURE_HTTP, CONNECT_TIMEOUT and TIMEOUT, in that order (the first bad
// value is the one reported), into a config with those four members.
template <class Config>
void read_http_env(const env_options& env, Config& cfg) {
    cfg.ca_bundle = env.get_string("CA_BUNDLE", "");
    cfg.allow_insecure_http = env.get_bool("ALLOW_INSECURE_HTTP", cfg.allow_insecure_http);
    cfg.connect_timeout = env.get_duration("CONNECT_TIMEOUT", cfg.connect_timeout);
    cfg.timeout = env.get_duration("TIMEOUT", cfg.timeout);
}

}  // namespace spdlog_ext::detail
