// Internal: the bounds a record gets when it is captured in the logging call. Fields nest at
// most max_field_depth levels (the fields object counts as one; deeper subtrees become
// depth_marker), so no later walk over them (copy, size, redaction, encoders, dump) can recurse
// without bound; and a sink cuts a record's message and fields to its max_record_bytes.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace spdlog_ext::detail {

inline constexpr std::size_t max_field_depth = 64;
inline constexpr std::string_view depth_marker = "[depth limit]";
// The field that says how much of a record's fields was cut (its value: a truncation marker).
inline constexpr const char* fields_truncated_field = "fields_truncated";

// True when `value` has containers nested more than `levels` deep (a container is level 1).
// Iterative: safe on any depth.
bool deeper_than(const nlohmann::json& value, std::size_t levels);

// A copy of `value` in which containers nested more than `levels` deep are depth_marker.
// Iterative: safe on any depth.
nlohmann::json depth_capped_copy(const nlohmann::json& value, std::size_t levels);

// Destroys `value` without recursion (nlohmann::json's destructor recurses before 3.10).
void destroy_iteratively(nlohmann::json&& value) noexcept;

// "…[truncated N bytes]": appended where text was cut.
std::string truncation_marker(std::size_t cut_bytes);

// `fields` (a JSON object) within about `budget` bytes as approx_json_bytes() counts them: the
// members in order while they fit; a string that does not fit is cut (UTF-8 safe, with a
// truncation marker) when enough room is left; the members left out are counted in the
// fields_truncated field. Used only when a record is over its sink's max_record_bytes.
nlohmann::json cut_fields(const nlohmann::json& fields, std::size_t budget);

}  // namespace spdlog_ext::detail
