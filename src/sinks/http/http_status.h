// Internal: an HTTP response → the engine's batch_result, from a status table. Each HTTP backend
// holds its whole table (its own rows, then the generic rules below as the explicit default), so
// its status handling reads in one place and is testable without a server.
#pragma once

#include <climits>
#include <cstddef>
#include <string>

#include "spdlog_ext/engine/backend.h"
#include "transport/http_transport.h"

namespace spdlog_ext::detail {

// A retry's "may the receiver have applied it" (batch_result::outcome_unknown).
enum class maybe_applied : unsigned char { no, yes, if_sent /* response.request_sent */ };

// One row: statuses [first, last] (0: no HTTP response) give `kind` with `reason` expanded:
// {peer}, {status}, {error} (libcurl's text), {body} (the table's body reason) and {: body}
// (": " + body reason, or nothing when it is empty).
struct status_rule {
    long first;
    long last;
    batch_result::outcome kind;
    const char* reason;
    bool use_retry_after = false;  // retry: take the Retry-After header
    maybe_applied applied = maybe_applied::no;
};

using body_reason_fn = std::string (*)(const http_response&);

// A short, printable reason from a response body (first line, valid UTF-8, bounded, trimmed):
// the body reason of the generic rules.
std::string first_line_reason(const http_response& response);

// The generic rules, the default every table ends with: network errors, 408, 429 and 5xx retry
// (with Retry-After; 408/5xx and a request that may have left are possibly applied), 2xx
// delivered, 413 split, anything else rejected. They always use first_line_reason.
inline constexpr status_rule generic_status_rules[] = {
    {0, 0, batch_result::outcome::retry, "{peer}: {error}", false, maybe_applied::if_sent},
    {200, 299, batch_result::outcome::delivered, ""},
    {408, 408, batch_result::outcome::retry, "{peer} answered HTTP {status}{: body}", true,
     maybe_applied::yes},
    {429, 429, batch_result::outcome::retry, "{peer} answered HTTP {status}{: body}", true,
     maybe_applied::no},
    {413, 413, batch_result::outcome::split, "{peer} answered HTTP {status}{: body}"},
    {500, LONG_MAX, batch_result::outcome::retry, "{peer} answered HTTP {status}{: body}", true,
     maybe_applied::yes},
    {LONG_MIN, LONG_MAX, batch_result::outcome::rejected, "{peer} answered HTTP {status}{: body}"},
};

// A backend's table: its peer's name in reasons ("Datadog intake"; never the URL), the body
// reason of its own rows, and its own rows, tried in order before the generic ones.
struct status_table {
    const char* peer;
    body_reason_fn body = first_line_reason;
    const status_rule* rules = nullptr;
    std::size_t count = 0;

    explicit constexpr status_table(const char* peer_name) : peer(peer_name) {}  // generic only
    template <std::size_t N>
    constexpr status_table(const char* peer_name, body_reason_fn body_reason,
                           const status_rule (&own)[N])
        : peer(peer_name), body(body_reason), rules(own), count(N) {}
};

batch_result classify(const http_response& response, const status_table& table);

}  // namespace spdlog_ext::detail
