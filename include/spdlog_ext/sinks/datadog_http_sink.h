// datadog_http_sink: logs to the Datadog Logs HTTP intake (v2), batched and gzip-compressed
// within Datadog's limits (1000 items and 5 MB uncompressed per request, 1 MB per log).
//
//   spdlog_ext::datadog_config cfg = spdlog_ext::datadog_config::from_env();  // DD_API_KEY, ...
//   auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
//   auto log = spdlog_ext::datadog_logger_mt("app", cfg);
//
// Each record becomes one log item: message, status, service, ddsource, hostname, ddtags,
// timestamp (ms), logger.name, logger.thread_name, logger.method_name / file_name / line,
// error.kind / error.message / error.stack from the exception field, and the structured fields
// as typed attributes. 400 isolates the bad items; 401/403 stop the sink with one clear error.
// Manual: docs/sinks/datadog.md.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext {

struct datadog_config {
    datadog_config() {
        engine.name = "datadog";
        engine.redaction = redactor::defaults();  // secrets never leave the process
        engine.batch_max_records = 1000;          // Datadog: at most 1000 items per request
        engine.batch_max_bytes = 4u << 20;        // keeps most requests under the 5 MB limit
    }

    std::string api_key;                 // DD_API_KEY (required); never printed
    std::string site = "datadoghq.com";  // DD_SITE: datadoghq.com, us3/us5.datadoghq.com,
                                         // datadoghq.eu, ap1/ap2.datadoghq.com, ddog-gov.com
                                         // (another site: one warning, used anyway)
    std::string url;       // LOG_DATADOG_URL: overrides the site's intake URL (proxies, tests)
    std::string service;   // DD_SERVICE
    std::string env;       // DD_ENV → tag env:
    std::string version;   // DD_VERSION → tag version:
    std::string tags;      // DD_TAGS: "team:core,region:eu" (also space-separated)
    std::string hostname;  // DD_HOSTNAME; empty: this machine's name
    std::string source = "cpp";  // ddsource (LOG_DATADOG_SOURCE)
    bool gzip = true;            // LOG_DATADOG_GZIP
    std::string ca_bundle;       // LOG_DATADOG_CA_BUNDLE: PEM file; empty: the system's
    // LOG_DATADOG_ALLOW_INSECURE_HTTP: accept an http:// url to a host that is not loopback (the
    // API key then travels in clear; one warning). Otherwise only https://, or http:// to
    // 127.0.0.0/8, ::1 or localhost.
    bool allow_insecure_http = false;
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds timeout = std::chrono::seconds(30);  // whole request
    engine_config engine;

    // The intake URL: url if set, else https://http-intake.logs.<site>/api/v2/logs.
    std::string intake_url() const;
    // DD_* and LOG_DATADOG_* (and the engine options); throws config_error (e.g. no DD_API_KEY).
    static datadog_config from_env();
};

class datadog_http_sink final : public engine_sink {
  public:
    // Throws config_error for settings that can never work (no API key, a bad URL).
    explicit datadog_http_sink(datadog_config config);
};

using datadog_http_sink_mt = datadog_http_sink;
using datadog_http_sink_st = datadog_http_sink;

std::shared_ptr<spdlog::logger> datadog_logger_mt(const std::string& logger_name,
                                                  datadog_config config);
std::shared_ptr<spdlog::logger> datadog_logger_st(const std::string& logger_name,
                                                  datadog_config config);

}  // namespace spdlog_ext
