// Internal: libpq connection strings (keyword=value or postgresql:// URIs) read without libpq:
// the password and the other strings that must never appear in a message, and their masking.
#pragma once

#include <string>
#include <vector>

namespace spdlog_ext::detail {

// A postgresql:// or postgres:// URI (else a keyword=value string).
bool pg_is_uri(const std::string& conninfo);

// True when a URI's user name or password holds a raw '@' or '/', which libpq would split at
// (the rest of the password would become a host, port or database name, and show in errors).
bool pg_raw_reserved_in_userinfo(const std::string& conninfo);

// What must never appear in a message: the password (and its percent-decoded form, or the
// words after a malformed unquoted one) and PGPASSWORD. Empty strings are possible.
std::vector<std::string> pg_secrets_of(const std::string& conninfo);

// `text` with each secret replaced by redactor::mask, the default redaction patterns applied
// and trailing newlines and spaces removed (libpq's messages end with "\n").
std::string pg_masked(std::string text, const std::vector<std::string>& secrets);

}  // namespace spdlog_ext::detail
