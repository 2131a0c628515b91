// Metrics through the ordinary logger: record_metric() logs one time-series point. The InfluxDB
// sink writes it as exactly that point; every other sink shows it as a normal record whose
// message reads like line protocol ("metric queue,name=orders depth=17") and whose `metric` field
// holds {"measurement", "tags", "fields"}.
//
//   spdlog_ext::record_metric(logger, "http_requests", {{"route", "/pay"}, {"code", "200"}},
//                             {{"count", 1}, {"latency_ms", 12.5}});
// Manual: docs/sinks/influx.md.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog_ext {

// The record field that carries a metric point.
inline constexpr const char* metric_field = "metric";

using metric_tags = std::vector<std::pair<std::string, std::string>>;
// Values: integers, floats, booleans or strings (anything else is written as JSON text).
using metric_values = std::vector<std::pair<std::string, nlohmann::json>>;

// Logs the point at `level` (default info; the logger's and sinks' levels apply as usual) with
// the event time `time` (default: now). Never throws into the caller for bad input: a metric
// without fields is logged as a warning record instead.
void record_metric(spdlog::logger& logger, std::string_view measurement, const metric_tags& tags,
                   const metric_values& fields,
                   std::optional<spdlog::log_clock::time_point> time = std::nullopt,
                   spdlog::level::level_enum level = spdlog::level::info);
void record_metric(const std::shared_ptr<spdlog::logger>& logger, std::string_view measurement,
                   const metric_tags& tags, const metric_values& fields,
                   std::optional<spdlog::log_clock::time_point> time = std::nullopt,
                   spdlog::level::level_enum level = spdlog::level::info);

}  // namespace spdlog_ext
