#include "spdlog_ext/metrics.h"

#include "spdlog_ext/fields.h"

namespace spdlog_ext {

namespace {
// "metric queue,name=orders depth=17,ok=true": readable in any sink, close to line protocol.
std::string describe(std::string_view measurement, const metric_tags& tags,
                     const metric_values& fields) {
    std::string text = "metric ";
    text.append(measurement);
    for (const auto& [key, value] : tags) {
        text += "," + key + "=" + value;
    }
    char separator = ' ';
    for (const auto& [key, value] : fields) {
        text += separator;
        text += key + "=" +
                (value.is_string()
                     ? value.get<std::string>()
                     : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        separator = ',';
    }
    return text;
}
}  // namespace

void record_metric(spdlog::logger& logger, std::string_view measurement, const metric_tags& tags,
                   const metric_values& fields, std::optional<spdlog::log_clock::time_point> time,
                   spdlog::level::level_enum level) {
    try {
        if (measurement.empty() || fields.empty()) {
            logger.warn("record_metric: a metric needs a measurement and at least one field ({})",
                        describe(measurement, tags, fields));
            return;
        }
        if (!logger.should_log(level)) {
            return;
        }
        nlohmann::json point{{"measurement", std::string(measurement)},
                             {"tags", nlohmann::json::object()},
                             {"fields", nlohmann::json::object()}};
        for (const auto& [key, value] : tags) {
            point["tags"][key] = value;
        }
        for (const auto& [key, value] : fields) {
            point["fields"][key] = value;
        }
        const std::string text = describe(measurement, tags, fields);
        scoped_fields scope({{metric_field, std::move(point)}});
        logger.log(time.value_or(spdlog::log_clock::now()), spdlog::source_loc{}, level, text);
    } catch (const std::exception&) {
        // Metrics are best effort on the caller's side: never throw into the program.
    }
}

void record_metric(const std::shared_ptr<spdlog::logger>& logger, std::string_view measurement,
                   const metric_tags& tags, const metric_values& fields,
                   std::optional<spdlog::log_clock::time_point> time,
                   spdlog::level::level_enum level) {
    if (logger) {
        record_metric(*logger, measurement, tags, fields, time, level);
    }
}

}  // namespace spdlog_ext
