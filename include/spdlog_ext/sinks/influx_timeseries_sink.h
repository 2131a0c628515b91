// influx_timeseries_sink: logs (and metrics) as InfluxDB points in line protocol, through the v2
// write API (/api/v2/write, token) or the v1 one (/write, database, basic auth).
//
//   spdlog_ext::influx_config cfg = spdlog_ext::influx_config::from_env();  // INFLUX_HOST, ...
//   auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
//   auto log = spdlog_ext::influx_logger_mt("app", cfg);
//   spdlog_ext::record_metric(*log, "queue", {{"name", "orders"}}, {{"depth", 17}});  // metrics.h
//
// Each record is a point of `measurement` (default "logs"): tags level, logger, host (+ service,
// + the structured fields named in tag_fields), fields message (string) and the other structured
// fields with their types (integers as 123i, floats, booleans, strings; nested values as JSON
// text). Records of one series that share a timestamp get distinct nanoseconds, the same on
// every retry. A metric record (record_metric) becomes exactly its point.
// Manual: docs/sinks/influx.md.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext {

enum class influx_api { v1, v2 };

struct influx_config {
    influx_config() {
        engine.name = "influx";
        engine.redaction = redactor::defaults();  // secrets never leave the process
        engine.batch_max_records = 5000;          // InfluxDB's advice: batches of ~5000 lines
        engine.batch_max_bytes = 8u << 20;        // well under the servers' 25 MB request limit
    }

    std::string url;                  // INFLUX_HOST: http://localhost:8086 (base URL, no path)
    influx_api api = influx_api::v2;  // LOG_INFLUX_API; from_env: v2 when INFLUX_TOKEN/ORG/BUCKET
                                      // are set, v1 when INFLUX_DATABASE is
    // v2: INFLUX_TOKEN (secret), INFLUX_ORG, INFLUX_BUCKET.
    std::string token;
    std::string org;
    std::string bucket;
    // v1: INFLUX_DATABASE, INFLUX_USERNAME, INFLUX_PASSWORD (secret), LOG_INFLUX_RETENTION_POLICY.
    std::string database;
    std::string username;
    std::string password;
    std::string retention_policy;

    std::string measurement = "logs";     // LOG_INFLUX_MEASUREMENT
    std::vector<std::string> tag_fields;  // LOG_INFLUX_TAG_FIELDS="region,tenant": fields as tags
    std::string service;                  // LOG_INFLUX_SERVICE → tag service
    std::string hostname;  // LOG_INFLUX_HOSTNAME → tag host; empty: this machine's name
    // LOG_INFLUX_UNSIGNED: write integers above INT64_MAX as 123u (v2 servers) instead of as
    // floats. Unset: true for v2, false for v1 (InfluxDB 1.x rejects `u`).
    std::optional<bool> unsigned_integers;
    bool gzip = false;  // LOG_INFLUX_GZIP
    // LOG_INFLUX_LEVEL_COUNTS=10s: also write, per interval, the count of records per level and
    // logger as points of level_counts_measurement (a log-rate series). 0: off.
    std::chrono::milliseconds level_counts_interval{0};
    std::string level_counts_measurement = "log_counts";  // LOG_INFLUX_LEVEL_COUNTS_MEASUREMENT
    std::string ca_bundle;  // LOG_INFLUX_CA_BUNDLE: PEM file; empty: the system's
    // LOG_INFLUX_ALLOW_INSECURE_HTTP: accept an http:// url to a host that is not loopback (the
    // token or password then travels in clear; one warning). Otherwise only https://, or
    // http:// to 127.0.0.0/8, ::1 or localhost.
    bool allow_insecure_http = false;
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds timeout = std::chrono::seconds(30);
    engine_config engine;

    // The write URL with its query (org/bucket or db/rp, precision=ns); no credentials in it.
    std::string write_url() const;
    // INFLUX_* and LOG_INFLUX_* (and the engine options); throws config_error.
    static influx_config from_env();
};

class influx_timeseries_sink final : public engine_sink {
  public:
    // Throws config_error for settings that can never work (no URL, no bucket/database, ...).
    explicit influx_timeseries_sink(influx_config config);
};

using influx_timeseries_sink_mt = influx_timeseries_sink;
using influx_timeseries_sink_st = influx_timeseries_sink;

std::shared_ptr<spdlog::logger> influx_logger_mt(const std::string& logger_name,
                                                 influx_config config);
std::shared_ptr<spdlog::logger> influx_logger_st(const std::string& logger_name,
                                                 influx_config config);

}  // namespace spdlog_ext
