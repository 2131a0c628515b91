// Internal: the redactor's value rules, secrets recognised by their shape whatever key holds them.
// Each reads `text` once, left to right, and appends the spans to mask to `spans`, in order.
#pragma once

#include <string_view>

#include "core/redaction_scan.h"

namespace spdlog_ext::detail::redaction {

// scheme://user:password@host: the password.
void url_credentials(std::string_view text, span_list& spans);
// Authorization: / Proxy-Authorization: the value, to the end of the line (or its quote).
void authorization_headers(std::string_view text, span_list& spans);
// Bearer <token>, 8 token characters or more.
void bearer_tokens(std::string_view text, span_list& spans);
// AWS access key ids (AKIA..., ASIA..., 20 characters).
void aws_access_keys(std::string_view text, span_list& spans);
// JSON Web Tokens (eyJ<header>.<payload>.<signature>).
void json_web_tokens(std::string_view text, span_list& spans);
// GitHub, GitLab and Slack tokens, by their published prefixes.
void prefixed_tokens(std::string_view text, span_list& spans);
// The body of a PEM private key block.
void pem_private_keys(std::string_view text, span_list& spans);
// Luhn-valid payment card numbers, whole or grouped.
void card_numbers(std::string_view text, span_list& spans);

}  // namespace spdlog_ext::detail::redaction
