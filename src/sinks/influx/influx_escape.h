// Internal: escaping of single line-protocol tokens, exactly as InfluxDB parses them:
// measurement (comma, space), tag keys/values and field keys (comma, '=', space), string field
// values ('"', '\'). Control characters and invalid UTF-8 in names are made safe (U+FFFD; in
// string values only NUL and invalid UTF-8); a backslash InfluxDB cannot read back as itself
// (ending a name, or before ',', '=', ' ' or '"') becomes U+FF3C, a measurement's leading '#'
// (a comment line) U+FF03. Also the numbers and the timestamp range of a line.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace spdlog_ext::detail {

void append_measurement(std::string& out, std::string_view name);
void append_tag(std::string& out, std::string_view text);  // tag keys and values
void append_field_key(std::string& out, std::string_view key);
void append_string_value(std::string& out, std::string_view value);  // "..." with escapes
void append_float(std::string& out, double value);  // shortest round-trip; finite values only
void append_int(std::string& out, std::int64_t v);
void append_uint(std::string& out, std::uint64_t v);
// ",key=value" escaped, or empty for an empty value (an empty tag value is omitted).
std::string tag_pair(std::string_view key, std::string_view value);

// InfluxDB's timestamp range: INT64_MIN and INT64_MAX themselves are refused.
inline constexpr std::int64_t min_timestamp = std::numeric_limits<std::int64_t>::min() + 2;
inline constexpr std::int64_t max_timestamp = std::numeric_limits<std::int64_t>::max() - 1;

// Nanoseconds since the epoch, clamped to InfluxDB's range.
std::int64_t ns_since_epoch(spdlog::log_clock::time_point t);

}  // namespace spdlog_ext::detail
