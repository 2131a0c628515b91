// Internal: the Datadog encoder. A batch becomes the JSON array of log items that the Logs v2
// intake takes, each item within Datadog's 1 MB limit. Separate from the HTTP backend so that
// tests and fuzzers can call it without an intake.
#pragma once

#include <cstddef>
#include <string>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"

namespace spdlog_ext::detail {

inline constexpr std::size_t datadog_max_items = 1000;             // per request
inline constexpr std::size_t datadog_max_request_bytes = 5000000;  // uncompressed, per request
inline constexpr std::size_t datadog_max_item_bytes = 1000000;     // per log

class datadog_encoder {
  public:
    // Takes service, source, hostname (empty: this machine's name), env, version and tags.
    explicit datadog_encoder(const datadog_config& cfg);

    // Replaces `body` with the batch as a JSON array; the caller splits batches over the
    // request limits (datadog_max_items, datadog_max_request_bytes).
    void encode(record_span batch, std::string& body) const;
    // One log item as JSON, at most datadog_max_item_bytes.
    std::string encode_item(const record& r) const;

  private:
    std::string service_;
    std::string source_;
    std::string ddtags_;
    std::string hostname_;
};

}  // namespace spdlog_ext::detail
