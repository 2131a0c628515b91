// Internal: where the parts of a URL's authority begin and end, for masking and showing URLs.
// One helper for the sinks (redact_url, Slack's origin, PostgreSQL URIs); the redactor's
// url_credentials scans free text for URLs, a different job.
#pragma once

#include <string>
#include <string_view>

namespace spdlog_ext::detail {

// Where a URL's userinfo may reach: an HTTP URL's authority ends at the first '/', but a libpq URI
// is split by libpq only at the query, so a raw '/' in its password is still userinfo.
enum class userinfo_scope { before_path, before_query };

// Just after "scheme://", or 0 without a scheme.
inline std::size_t authority_start(std::string_view url) {
    const auto scheme = url.find("://");
    return scheme == std::string_view::npos ? 0 : scheme + 3;
}

// The end of the authority (before_path: at '/', '?' or '#') or of what precedes the query
// (before_query: at '?', as libpq reads a URI).
inline std::size_t authority_end(std::string_view url, userinfo_scope scope) {
    const auto start = authority_start(url);
    const auto end = url.find_first_of(scope == userinfo_scope::before_path ? "/?#" : "?", start);
    return end == std::string_view::npos ? url.size() : end;
}

// The '@' that ends the userinfo: the LAST one before the authority's end, so that a raw '@' in a
// password never leaves the password's tail looking like the host. npos when there is none.
inline std::size_t userinfo_end(std::string_view url, userinfo_scope scope) {
    const auto start = authority_start(url);
    const auto end = authority_end(url, scope);
    if (end <= start) {
        return std::string_view::npos;
    }
    const auto at = url.substr(0, end).rfind('@');
    return at == std::string_view::npos || at < start ? std::string_view::npos : at;
}

}  // namespace spdlog_ext::detail
