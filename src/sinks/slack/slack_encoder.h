// Internal: the Slack encoder. A batch of records becomes one incoming-webhook message: a `text`
// fallback (notifications) plus Block Kit blocks within Slack's limits, with every logged text
// escaped (`&`, `<`, `>`) so it can neither mention nor link.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

// Slack's documented limits (characters are Unicode code points).
inline constexpr std::size_t slack_max_blocks = 50;
inline constexpr std::size_t slack_max_text_chars = 40000;     // top-level `text`
inline constexpr std::size_t slack_max_section_chars = 3000;   // section text
inline constexpr std::size_t slack_max_field_chars = 2000;     // each section field
inline constexpr std::size_t slack_max_fields = 10;            // fields per section
inline constexpr std::size_t slack_max_header_chars = 150;     // header (plain_text)
inline constexpr std::size_t slack_max_context_elements = 10;  // elements per context block
inline constexpr std::size_t slack_max_detailed = 8;           // keeps a message under 50 blocks

struct slack_message_options {
    std::string mention;  // added (unescaped) when the batch holds a critical record
    std::string service;
    std::string hostname;
    std::size_t max_detailed = 5;  // distinct records shown in full, 1..slack_max_detailed
};

// Valid UTF-8 (ill-formed sequences and control characters other than \n and \t become U+FFFD)
// with Slack's three entities escaped.
std::string slack_escape(std::string_view text);

// Number of Unicode code points of valid UTF-8.
std::size_t utf8_chars(std::string_view text) noexcept;

// The JSON payload for `batch` (not empty).
std::string slack_message(record_span batch, const slack_message_options& options);

// The same records as a `text`-only payload (no blocks): sent again when Slack refuses the
// blocks (HTTP 400 invalid_blocks), so the alert still reaches the channel.
std::string slack_plain_message(record_span batch, const slack_message_options& options);

}  // namespace spdlog_ext::detail
