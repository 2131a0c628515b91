// Internal: the InfluxDB backend (encoder: line_encoder; transport: the shared HTTP transport),
// its status tables (v1, v2) and the level counts' transaction around each write.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sinks/influx/influx_encoder.h"
#include "sinks/influx/level_counts.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "transport/http_transport.h"

namespace spdlog_ext::detail {

class influx_backend final : public backend {
  public:
    explicit influx_backend(const influx_config& cfg);

    batch_result write(record_span batch, const write_context& context) override;
    void interrupt() noexcept override { transport_.interrupt(); }
    nlohmann::json extra_stats() const override;

    // The server's answer for the engine: the whole status table of `api` (400/422 isolate,
    // 401/403 disable, 404 rejected, then the generic rules); the hints name its variables.
    static batch_result classify(const http_response& response, influx_api api);

  private:
    // Records that gave no point (a metric with only NaN values) go to the fallback.
    batch_result with_skipped(batch_result result);
    void publish_stats();  // the encoder's counters, readable from other threads

    http_transport transport_;
    line_encoder encoder_;
    level_counts counts_;
    std::string url_;
    influx_api api_;
    http_request request_;
    std::vector<std::size_t> skipped_;
    std::atomic<std::uint64_t> nan_dropped_{0};
    std::atomic<std::uint64_t> renamed_{0};
    std::atomic<std::uint64_t> shifted_{0};
};

// Validates `cfg` once (config_error), warns of plain HTTP, then builds the backend; it does not
// connect.
std::unique_ptr<backend> make_influx_backend(const influx_config& cfg);

}  // namespace spdlog_ext::detail
