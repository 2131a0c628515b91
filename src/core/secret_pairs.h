// Internal: the redactor's key rules: values in text under a key that names a secret (key=value,
// "key": "value", Name: value headers, key%3Dvalue). They append spans like the value rules.
#pragma once

#include <string_view>

#include "core/redaction_scan.h"
#include "spdlog_ext/redaction.h"

namespace spdlog_ext::detail::redaction {

// key=value, key: value, "key": "value", \"key\":\"value\" and Name: value headers.
void key_values(const redactor& r, std::string_view text, span_list& spans);
// key%3Dvalue: a query string percent-encoded once more.
void encoded_pairs(const redactor& r, std::string_view text, span_list& spans);

}  // namespace spdlog_ext::detail::redaction
