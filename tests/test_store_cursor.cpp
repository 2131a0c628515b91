// Page cursors and the pieces the tail's cursor shares (base64url, filter fingerprints), without
// a server: round trips, every malformed form a clear bad_cursor, cursors of other filters or
// another order refused.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "store/postgres/store_cursor.h"

namespace {

namespace store = spdlog_ext::detail::store;
using spdlog_ext::log_filter;
using spdlog_ext::log_order;
using spdlog_ext::store_error;

// The kind and message of the bad_cursor that decoding `text` throws ("" if none).
std::string decode_error(const std::string& text, log_order order = log_order::id,
                         const std::string& filter = "0123456789abcdef") {
    try {
        store::decode_page_cursor(text, order, filter);
    } catch (const store_error& e) {
        if (e.what_kind() != store_error::kind::bad_cursor)
            return "wrong kind: " + std::string(e.what());
        return e.what();
    }
    return "";
}

std::string cursor_of(const std::string& json) {
    return "p1." + store::base64url_encode(json);
}

}  // namespace

TEST_SUITE("store") {
    TEST_CASE("store_cursor: base64url round trip and RFC 4648 vectors") {
        CHECK(store::base64url_encode("") == "");
        CHECK(store::base64url_encode("f") == "Zg");
        CHECK(store::base64url_encode("fo") == "Zm8");
        CHECK(store::base64url_encode("foo") == "Zm9v");
        CHECK(store::base64url_encode("foobar") == "Zm9vYmFy");
        CHECK(store::base64url_encode("\xfb\xff") == "-_8");
        std::string all;
        for (int i = 0; i < 256; ++i)
            all += static_cast<char>(i);
        for (std::size_t n = 0; n < all.size(); n += 37) {
            const std::string part = all.substr(n, 100);
            CHECK(store::base64url_decode(store::base64url_encode(part)) == part);
        }
        CHECK(!store::base64url_decode("Z"));     // no encoding has this length
        CHECK(!store::base64url_decode("Zh"));    // trailing bits set
        CHECK(!store::base64url_decode("Zg=="));  // padding is not part of the form
        CHECK(!store::base64url_decode("Zm+v"));  // standard alphabet, not url
        CHECK(store::base64url_decode("Zg") == std::string("f"));
    }

    TEST_CASE("store_cursor: page cursors round trip for both orders") {
        store::page_cursor c;
        c.order = log_order::id;
        c.id = 9223372036854775807LL;
        c.filter = store::filter_fingerprint(log_filter{});
        const std::string text = store::encode_page_cursor(c);
        CHECK(text.rfind("p1.", 0) == 0);
        const auto back = store::decode_page_cursor(text, log_order::id, c.filter);
        CHECK(back.id == c.id);
        CHECK(back.order == log_order::id);

        c.order = log_order::time;
        c.id = 42;
        c.timestamp = spdlog_ext::log_time(std::chrono::microseconds(1700000000123456LL));
        const auto t =
            store::decode_page_cursor(store::encode_page_cursor(c), log_order::time, c.filter);
        CHECK(t.id == 42);
        CHECK(t.timestamp == c.timestamp);
    }

    TEST_CASE("store_cursor: malformed cursors are clear bad_cursor errors") {
        const std::string f = "0123456789abcdef";
        CHECK(decode_error("x1.abc").find("does not start with \"p1.\"") != std::string::npos);
        CHECK(decode_error("p1.***").find("not base64url") != std::string::npos);
        CHECK(decode_error("p1." + std::string(600, 'A')).find("longer than 512") !=
              std::string::npos);
        CHECK(decode_error(cursor_of("[1]")).find("not a JSON object") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":1,")).find("not a JSON object") !=
              std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"x\",\"id\":1,\"f\":\"" + f + "\"}")).find("order") !=
              std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":\"1\",\"f\":\"" + f + "\"}"))
                  .find("\"id\"") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":0,\"f\":\"" + f + "\"}"))
                  .find("out of range") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":-5,\"f\":\"" + f + "\"}"))
                  .find("out of range") != std::string::npos);
        CHECK(decode_error(
                  cursor_of("{\"o\":\"id\",\"id\":18446744073709551615,\"f\":\"" + f + "\"}"))
                  .find("out of range") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":1.5,\"f\":\"" + f + "\"}"))
                  .find("\"id\"") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":1}")).find("fingerprint") !=
              std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":1,\"f\":\"" + f + "\",\"x\":1}"))
                  .find("unexpected keys") != std::string::npos);
        CHECK(decode_error(cursor_of("{\"o\":\"time\",\"id\":1,\"f\":\"" + f + "\"}"),
                           log_order::time)
                  .find("timestamp") != std::string::npos);
        CHECK(decode_error(
                  cursor_of("{\"o\":\"time\",\"id\":1,\"f\":\"" + f + "\",\"ts\":\"yesterday\"}"),
                  log_order::time)
                  .find("\"ts\"") != std::string::npos);
        // The valid one passes (so the checks above fail for their own reason).
        CHECK(decode_error(cursor_of("{\"o\":\"id\",\"id\":1,\"f\":\"" + f + "\"}")) == "");
    }

    TEST_CASE("store_cursor: a cursor for other filters or another order is refused") {
        log_filter a;
        a.search = "x";
        log_filter b = a;
        b.hosts = {"h"};
        store::page_cursor c;
        c.id = 10;
        c.filter = store::filter_fingerprint(a);
        const std::string text = store::encode_page_cursor(c);
        CHECK(decode_error(text, log_order::id, store::filter_fingerprint(a)) == "");
        CHECK(decode_error(text, log_order::id, store::filter_fingerprint(b))
                  .find("different filters") != std::string::npos);
        CHECK(decode_error(text, log_order::time, store::filter_fingerprint(a)).find("order id") !=
              std::string::npos);
    }

    TEST_CASE("store_cursor: the fingerprint follows what a filter matches") {
        log_filter a;
        a.min_level = spdlog::level::warn;
        a.loggers = {"b", "a", "b"};
        a.fields = {nlohmann::json{{"x", 1}}, nlohmann::json{{"y", 2}}};
        log_filter b;
        b.levels = {spdlog::level::critical, spdlog::level::err, spdlog::level::warn};
        b.loggers = {"a", "b"};
        b.fields = {nlohmann::json{{"y", 2}}, nlohmann::json{{"x", 1}}, nlohmann::json::object()};
        CHECK(store::filter_fingerprint(a) == store::filter_fingerprint(b));
        CHECK(store::filter_fingerprint(a).size() == 16);
        log_filter c = a;
        c.has_exception = false;
        CHECK(store::filter_fingerprint(a) != store::filter_fingerprint(c));
        log_filter d = a;
        d.since = spdlog_ext::log_time(std::chrono::microseconds(1));
        CHECK(store::filter_fingerprint(a) != store::filter_fingerprint(d));
        log_filter e = a;
        e.search = std::string("a\0b", 3);  // hostile text hashes without throwing
        CHECK(store::filter_fingerprint(e) != store::filter_fingerprint(a));
        CHECK(store::filter_fingerprint(log_filter{}) == store::filter_fingerprint(log_filter{}));
    }

}  // TEST_SUITE
