// The small text helpers the sinks share: split_any, mask_secrets, and the one URL-authority
// helper (src/core/url_parts.h) behind redact_url, Slack's origin and PostgreSQL URIs. The
// userinfo ends at the last '@' before the authority's end.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/secrets.h"
#include "core/text.h"
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

TEST_CASE("split_any keeps empty pieces and splits at every separator") {
    using spdlog_ext::detail::split_any;
    using v = std::vector<std::string_view>;
    CHECK(split_any("", ",") == v{""});
    CHECK(split_any("a", ",") == v{"a"});
    CHECK(split_any("a,,b,", ",") == v{"a", "", "b", ""});
    CHECK(split_any("a;b c,d", ",; ") == v{"a", "b", "c", "d"});
    CHECK(split_any(" 5432", ",") == v{" 5432"});
}

TEST_CASE("mask_secrets masks every occurrence and skips empty secrets") {
    using spdlog_ext::detail::mask_secrets;
    CHECK(mask_secrets("key k1 and k1k1", {"", "k1"}, "***") == "key *** and ******");
    // A marker that contains the secret does not loop.
    CHECK(mask_secrets("aa", {"a"}, "[a]") == "[a][a]");
    CHECK(mask_secrets("nothing", {}, "***") == "nothing");
}
