// Internal: the HTTP transport shared by the HTTP sinks (Datadog, Slack, InfluxDB): libcurl for
// HTTP/TLS/proxies, zlib for gzip. It knows nothing of the engine: the sinks classify responses
// (sinks/http/http_status.h). Kept out of public headers so curl never leaks into users' builds.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog_ext::detail {

struct http_options {
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds total_timeout = std::chrono::seconds(30);
    // A CA bundle file (PEM) to verify servers with; empty: the system's. Verification is always
    // on: there is deliberately no switch to turn it off.
    std::string ca_bundle;
    // Empty: the proxy variables (http_proxy, https_proxy, all_proxy, no_proxy, with libcurl's
    // precedence) are read once, when the transport is made; libcurl never reads them itself,
    // so an application's later setenv() neither races with a request nor changes the proxy.
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
    // Throws config_error when a proxy variable is not a URL libcurl accepts (without echoing
    // it: it may hold credentials).
    explicit http_transport(http_options options);
    ~http_transport();
    http_transport(const http_transport&) = delete;
    http_transport& operator=(const http_transport&) = delete;

    // POSTs the request on the kept-alive connection. Never throws for network failures.
    http_response post(const http_request& request);
    // Makes a post() running on another thread return soon, and every later one at once (both
    // report an error): it is the end of the transport's use (a shutdown deadline), so an
    // interrupt that lands just before a transfer starts is not lost.
    void interrupt() noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Retry-After as seconds ("120") or an HTTP-date ("Wed, 21 Oct 2026 07:28:00 GMT"); nullopt when
// absent or unparsable, and when more than max_retry_after ahead (absurd: a server cannot mean
// it, so the engine's own backoff applies). A date in the past gives 0. Saturating: no value
// overflows. The engine caps whatever it gets at RETRY_MAX_DELAY anyway.
constexpr std::chrono::hours max_retry_after{24};
std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now);

// gzip (RFC 1952) with zlib.
std::string gzip_compress(std::string_view data);
std::string gzip_decompress(std::string_view data);  // for tests and fake servers

// Percent-encoding of a query parameter value (libcurl's).
std::string url_encode(std::string_view value);

// The URL without credentials, query or fragment (for messages and stats). Userinfo ends at the
// last '@' before the host.
std::string redact_url(const std::string& url);

// Construction-time checks of the HTTP sinks' settings; each throws config_error naming the
// variable and the fix, never echoing the value of a URL (it may hold a credential).
//
// `url` must be an http:// or https:// URL libcurl can parse (curl_url). Plain http:// only to a
// loopback host (127.0.0.0/8, ::1, localhost), or when `allow_insecure_http` (the variable
// `allow_variable`): then the result is true and the caller prints one warning (see
// insecure_http_warning), since headers and the URL itself then travel in clear.
bool check_http_url(const std::string& url, const std::string& variable, bool allow_insecure_http,
                    const std::string& allow_variable);
// The one loud warning for an allowed plain-HTTP URL to a non-loopback host.
std::string insecure_http_warning(const std::string& url, const std::string& allow_variable);
// 127.0.0.0/8, ::1 (bracketed or not) and localhost.
bool is_loopback_host(const std::string& host);
// A CA bundle that is set must be a readable file.
void check_ca_bundle(const std::string& path, const std::string& variable);
// Timeouts must be positive (0 would turn libcurl's limit off).
void check_timeout(std::chrono::milliseconds timeout, const std::string& variable);

}  // namespace spdlog_ext::detail
