// Logs and metrics to InfluxDB as line protocol.
//
//   export INFLUX_HOST=http://localhost:8086
//   INFLUX_TOKEN=... INFLUX_ORG=my-org INFLUX_BUCKET=logs ./influx_example  # InfluxDB 2.x (v2 API)
//   INFLUX_DATABASE=logs ./influx_example                                  # InfluxDB 1.x (v1 API)
//   ... LOG_INFLUX_LEVEL_COUNTS=10s ./influx_example    # plus a log-rate series (log_counts)
//
// Then: SELECT * FROM logs / FROM http_requests (InfluxQL), or from(bucket: "logs") (Flux).
#include <spdlog_ext/metrics.h>
#include <spdlog_ext/sinks/influx_timeseries_sink.h>
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>

int main() {
    try {
        spdlog_ext::influx_config cfg = spdlog_ext::influx_config::from_env();  // INFLUX_HOST...
        if (cfg.tag_fields.empty()) {
            cfg.tag_fields = {"route"};  // this field becomes a tag (indexed), the others fields
        }
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger log("influx_example", sink);
        std::printf("writing to %s\n", cfg.write_url().c_str());

        {
            spdlog_ext::scoped_fields request{{"route", "/pay"}, {"user_id", 7}, {"ok", true}};
            log.info("payment accepted");
            log.warn("payment slow: {} ms", 812);
        }
        // A metric: written as exactly this point (other sinks show it as a normal record).
        for (int i = 0; i < 3; ++i) {
            spdlog_ext::record_metric(log, "http_requests", {{"route", "/pay"}, {"code", "200"}},
                                      {{"count", 1}, {"latency_ms", 12.5 + i}});
        }

        const bool drained = sink->flush_for(std::chrono::seconds(10));
        const auto stats = sink->stats();
        std::printf("%s: delivered %llu, fallback %llu%s\n",
                    drained ? "done" : "not drained in time",
                    static_cast<unsigned long long>(stats.delivered),
                    static_cast<unsigned long long>(stats.fallback),
                    stats.disabled ? " (sink disabled)" : "");
        if (!stats.last_error.empty()) {
            std::printf("last error: %s\n", stats.last_error.c_str());  // token/password masked
        }
        return drained && stats.fallback == 0 ? 0 : 1;
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "configuration error: %s\n", e.what());
        return 2;
    }
}
