// Internal: page cursors ("p1." + base64url of a small JSON object) and the pieces the tail's
// cursor shares with them: base64url and the fingerprint of a filter (a cursor made for other
// filters is refused). Pure (no libpqxx); fuzzed by fuzz/fuzz_store_cursor.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spdlog_ext/postgres_log_store.h"

namespace spdlog_ext::detail::store {

// RFC 4648 §5 alphabet, without padding. decode is strict: other characters, a length that
// no encoding has (n % 4 == 1) or non-zero trailing bits give nullopt.
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

// The filter in a canonical form: what it matches decides, not how it was written (the level
// set rather than min_level, sorted and de-duplicated names, cleaned text, sorted fields).
nlohmann::json canonical_filter(const log_filter& filter);
// 16 hex digits: FNV-1a 64 of canonical_filter's compact dump.
std::string filter_fingerprint(const log_filter& filter);

// Where a page ended: the last row's id (and, for log_order::time, its timestamp).
struct page_cursor {
    log_order order = log_order::id;
    std::int64_t id = 0;
    log_time timestamp{};  // log_order::time only
    std::string filter;    // filter_fingerprint of the request
};

std::string encode_page_cursor(const page_cursor& cursor);
// Throws store_error(bad_cursor, "malformed cursor: <reason>") or, when it was made for another
// order or other filters, a bad_cursor saying so.
page_cursor decode_page_cursor(std::string_view text, log_order expected_order,
                               const std::string& expected_filter);

}  // namespace spdlog_ext::detail::store
