// Internal: the Datadog backend (encoder: JSON log items; transport: the shared HTTP transport)
// and its status table.
#pragma once

#include <memory>
#include <string>

#include "sinks/datadog/datadog_encoder.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "transport/http_transport.h"

namespace spdlog_ext::detail {

class datadog_backend final : public backend {
  public:
    explicit datadog_backend(const datadog_config& cfg);

    batch_result write(record_span batch, const write_context& context) override;
    void interrupt() noexcept override { transport_.interrupt(); }
    nlohmann::json extra_stats() const override;

    // The intake's answer for the engine: the whole status table (400 isolate, 401/403 disable,
    // then the generic rules).
    static batch_result classify(const http_response& response);

  private:
    http_transport transport_;
    std::string url_;
    datadog_encoder encoder_;
    http_request request_;
};

// Validates `cfg` once (config_error), warns of an unknown site or plain HTTP, then builds the
// backend; it does not connect.
std::unique_ptr<backend> make_datadog_backend(const datadog_config& cfg);

}  // namespace spdlog_ext::detail
