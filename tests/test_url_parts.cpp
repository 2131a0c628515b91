// The one URL-authority helper (src/core/url_parts.h) the sinks share: redact_url, Slack's origin
// and PostgreSQL URIs. The userinfo ends at the last '@' before the authority's end.
#include <doctest/doctest.h>

#include <string>

#include "core/url_parts.h"

using spdlog_ext::detail::authority_end;
using spdlog_ext::detail::authority_start;
using spdlog_ext::detail::userinfo_end;
using spdlog_ext::detail::userinfo_scope;

namespace {
constexpr auto npos = std::string::npos;
constexpr auto path = userinfo_scope::before_path;
constexpr auto query = userinfo_scope::before_query;

// The userinfo the helper finds, or "(none)".
std::string userinfo(const std::string& url, userinfo_scope scope) {
    const auto at = userinfo_end(url, scope);
    return at == npos ? "(none)" : url.substr(authority_start(url), at - authority_start(url));
}
}  // namespace

TEST_SUITE("format") {
    TEST_CASE("url parts - the authority and its userinfo up to the last @") {
        CHECK(authority_start("https://h/p") == 8);
        CHECK(authority_start("host:3128") == 0);
        CHECK(authority_end("https://h:1/p", path) == 11);
        CHECK(authority_end("https://h?x=/y", path) == 9);
        CHECK(authority_end("https://h#f", path) == 9);
        CHECK(authority_end("https://h", path) == 9);

        CHECK(userinfo("https://user:pw@host/p", path) == "user:pw");
        CHECK(userinfo("https://user:s3c@ret@host/p", path) == "user:s3c@ret");
        CHECK(userinfo("https://host/p@q", path) == "(none)");       // '@' in the path
        CHECK(userinfo("https://host?next=a@b", path) == "(none)");  // '@' in the query
        CHECK(userinfo("https://[::1]:8/x", path) == "(none)");
        CHECK(userinfo("user:pw@proxy:3128", path) == "user:pw");
        CHECK(userinfo("", path) == "(none)");
        CHECK(userinfo("https://", path) == "(none)");
    }

    TEST_CASE("url parts - a libpq URI keeps a raw slash in its password") {
        CHECK(userinfo("postgresql://app:pa/ss@db/app", query) == "app:pa/ss");
        CHECK(userinfo("postgresql://app:se@cr3t@127.0.0.1/db", query) == "app:se@cr3t");
        CHECK(userinfo("postgresql://db/app?user=a@b", query) == "(none)");
        CHECK(userinfo("postgresql://db/my@db", query) ==
              "db/my");  // refused later: percent-encode
        // The same URL read as HTTP: the authority ends at the first '/'.
        CHECK(userinfo("postgresql://app:pa/ss@db/app", path) == "(none)");
    }
}
