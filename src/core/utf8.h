// Internal: UTF-8 validation and repair, shared by every encoder.
#pragma once

#include <string>
#include <string_view>

namespace spdlog_ext::utf8 {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_valid(std::string_view s) noexcept;

enum class nul_policy { keep, replace };

// `s` with every ill-formed sequence replaced by U+FFFD (one per maximal ill-formed subpart,
// as the Unicode standard recommends), and NUL bytes replaced by U+FFFD when asked (PostgreSQL
// text cannot hold NUL). Returns `s` unchanged, without copying work beyond the scan, when valid.
std::string sanitize(std::string_view s, nul_policy nul = nul_policy::keep);

// Sanitizes in place; returns true when anything changed.
bool sanitize_in_place(std::string& s, nul_policy nul = nul_policy::keep);

// Cuts `s` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view truncate(std::string_view s, std::size_t max_bytes) noexcept;

}  // namespace spdlog_ext::utf8
