// Internal: the HTTP transport shared by the HTTP sinks (Datadog, Slack, InfluxDB): libcurl for
// HTTP/TLS/proxies, zlib for gzip, and one classification of responses for the engine. Kept out
// of public headers so curl never leaks into users' builds.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

// curl_global_init, once (it is not thread-safe before libcurl 7.84). Every transport calls it;
// the engine's exit guard calls it before registering its exit hook (engine/exit_guard.h).
void http_global_init();

struct http_options {
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds total_timeout = std::chrono::seconds(30);
    // A CA bundle file (PEM) to verify servers with; empty: the system's. Verification is always
    // on: there is deliberately no switch to turn it off.
    std::string ca_bundle;
    // Empty: libcurl's standard variables (http_proxy, https_proxy, no_proxy) apply.
    std::string proxy;
    std::string user_agent = "spdlog_ext";
};

struct http_request {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;  // "Name", "value"
    std::string body;
    bool gzip = false;  // compress the body and send Content-Encoding: gzip
    // HTTP basic authentication when `username` is not empty (libcurl encodes it).
    std::string username;
    std::string password;
};

struct http_response {
    long status = 0;            // 0: no HTTP response (network error, timeout)
    std::string body;           // at most 64 KiB kept
    std::string retry_after;    // the Retry-After header, raw
    std::string error;          // libcurl's error text when status == 0
    bool request_sent = false;  // the request may have reached the server (outcome unknown)
};

class http_transport {
  public:
    explicit http_transport(http_options options);
    ~http_transport();
    http_transport(const http_transport&) = delete;
    http_transport& operator=(const http_transport&) = delete;

    // POSTs the request on the kept-alive connection. Never throws for network failures.
    http_response post(const http_request& request);
    // Makes a post() running on another thread return soon (it reports an error).
    void interrupt() noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Retry-After as seconds ("120") or an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"); nullopt when
// absent or unparsable. A date in the past gives 0.
std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now);

// The engine's view of a response: 2xx delivered; network errors, 408, 429 and 5xx retry (with
// Retry-After); 413 split; other 4xx rejected with the body's reason. `what` names the peer in
// reasons ("Datadog intake"); reasons never contain the URL's query or credentials.
batch_result classify_response(const http_response& response, std::string_view what);

// gzip (RFC 1952) with zlib.
std::string gzip_compress(std::string_view data);
std::string gzip_decompress(std::string_view data);  // for tests and fake servers

// Percent-encoding of a query parameter value (libcurl's).
std::string url_encode(std::string_view value);

// The URL without credentials, query or fragment (for messages and stats).
std::string redact_url(const std::string& url);

}  // namespace spdlog_ext::detail
