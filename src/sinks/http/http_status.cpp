#include "sinks/http/http_status.h"

#include <chrono>
#include <string_view>

#include "core/text.h"
#include "core/utf8.h"

namespace spdlog_ext::detail {

namespace {

const status_rule* match(const status_rule* rules, std::size_t count, long status) {
    for (std::size_t i = 0; i < count; ++i) {
        if (status >= rules[i].first && status <= rules[i].last) {
            return &rules[i];
        }
    }
    return nullptr;
}

// The row's reason with its placeholders filled in (only the template is scanned: a body
// holding "{status}" stays as it is).
std::string expand(std::string_view text, const http_response& response, const char* peer,
                   body_reason_fn body) {
    std::string out;
    while (!text.empty()) {
        const auto open = text.find('{');
        const auto close = text.find('}', open);
        if (open == std::string_view::npos || close == std::string_view::npos) {
            out += text;
            break;
        }
        out += text.substr(0, open);
        const std::string_view name = text.substr(open + 1, close - open - 1);
        if (name == "peer") {
            out += peer;
        } else if (name == "status") {
            out += std::to_string(response.status);
        } else if (name == "error") {
            out += response.error;
        } else if (name == "body") {
            out += body(response);
        } else if (name == ": body") {
            const std::string reason = body(response);
            out += reason.empty() ? "" : ": " + reason;
        } else {
            out += text.substr(open, close - open + 1);  // not a placeholder
        }
        text.remove_prefix(close + 1);
    }
    return out;
}

}  // namespace

std::string first_line_reason(const http_response& response) {
    std::string line = response.body.substr(0, response.body.find('\n'));
    line = std::string(utf8::truncate(line, 300));
    utf8::sanitize_in_place(line, utf8::nul_policy::replace);
    return trim(line);
}

batch_result classify(const http_response& response, const status_table& table) {
    const status_rule* rule = match(table.rules, table.count, response.status);
    const body_reason_fn body = rule != nullptr ? table.body : first_line_reason;
    if (rule == nullptr) {
        rule = match(generic_status_rules, std::size(generic_status_rules), response.status);
    }
    if (rule->kind == batch_result::outcome::delivered) {
        return batch_result::delivered();
    }
    std::string reason = expand(rule->reason, response, table.peer, body);
    if (rule->kind != batch_result::outcome::retry) {
        return batch_result::with(rule->kind, std::move(reason));
    }
    const bool unknown = rule->applied == maybe_applied::yes ||
                         (rule->applied == maybe_applied::if_sent && response.request_sent);
    return batch_result::retry(
        std::move(reason),
        rule->use_retry_after
            ? parse_retry_after(response.retry_after, std::chrono::system_clock::now())
            : std::nullopt,
        unknown);
}

}  // namespace spdlog_ext::detail
