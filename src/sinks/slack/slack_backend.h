// Internal: the Slack backend (encoder: slack_encoder.h; transport: the shared HTTP transport) and
// its status table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sinks/slack/slack_encoder.h"
#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#include "transport/http_transport.h"

namespace spdlog_ext::detail {

class slack_backend final : public backend {
  public:
    explicit slack_backend(const slack_config& cfg);

    batch_result write(record_span batch, const write_context& context) override;
    void interrupt() noexcept override { transport_.interrupt(); }
    nlohmann::json extra_stats() const override { return nlohmann::json{{"webhook", origin_}}; }

    // The webhook's answer for the engine: the whole status table (400 isolate, 403/404/410
    // disable, then the generic rules). write() turns a 400 for blocks into a retry as plain text.
    static batch_result classify(const http_response& response);

  private:
    http_transport transport_;
    std::string origin_;
    slack_message_options message_;
    http_request request_;
    std::uint64_t plain_source_ = 0;  // the engine's source batch now sent as plain text
};

// Validates `cfg` once (config_error), warns of plain HTTP, then builds the backend; it does not
// connect.
std::unique_ptr<backend> make_slack_backend(const slack_config& cfg);

}  // namespace spdlog_ext::detail
