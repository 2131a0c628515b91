// The live tail's cursor and state arithmetic without a server: encode/decode round trips, every
// malformed form refused as bad_cursor, and the snapshot-diff step (advance_tail) and the
// restart rule (after_server_restart) on hand-made snapshots, late commits included.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "spdlog_ext/postgres_log_store.h"
#include "store/postgres/store_tail_cursor.h"

namespace {

using namespace spdlog_ext::detail::store;
using spdlog_ext::store_error;

tail_state sample() {
    tail_state s;
    s.system_id = 7313240334749743939;
    s.started_us = 1764342714541588;
    s.x = 1000;
    s.pending = {990, 995};
    s.delivered = 998;
    s.filter = "0123456789abcdef";
    return s;
}

bool refused(const std::string& cursor) {
    try {
        (void)decode_tail_cursor(cursor);
    } catch (const store_error& e) {
        return e.what_kind() == store_error::kind::bad_cursor &&
               std::string(e.what()).find("malformed tail cursor") != std::string::npos;
    }
    return false;
}

std::string with_json(const std::string& json) {
    return "t1." + base64url_encode(json);
}

}  // namespace

TEST_SUITE("store") {
    TEST_CASE("tail cursor round trip") {
        const tail_state s = sample();
        const std::string c = encode_tail_cursor(s);
        CHECK(c.rfind("t1.", 0) == 0);
        CHECK(c.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", 0) ==
              std::string::npos);
        CHECK(decode_tail_cursor(c) == s);
        tail_state empty = s;
        empty.pending.clear();
        empty.delivered = 0;
        CHECK(decode_tail_cursor(encode_tail_cursor(empty)) == empty);
    }

    TEST_CASE("base64url round trip for every length and byte") {
        std::string bytes;
        for (int i = 0; i < 300; ++i) {
            std::string back;
            REQUIRE(base64url_decode(base64url_encode(bytes), back));
            CHECK(back == bytes);
            bytes += static_cast<char>(i * 37);
        }
        std::string out;
        CHECK_FALSE(base64url_decode("a", out));     // impossible length
        CHECK_FALSE(base64url_decode("ab=c", out));  // padding / outside the alphabet
        CHECK_FALSE(base64url_decode("ab+c", out));  // base64, not base64url
        CHECK_FALSE(base64url_decode("ab", out));  // leftover bits not zero ("ab" → 'i' + 4 bits)
        CHECK(base64url_decode("aQ", out));
        CHECK(out == "i");
    }

    TEST_CASE("malformed tail cursors are bad_cursor errors") {
        CHECK(refused(""));
        CHECK(refused("p1.e30"));                    // a page cursor
        CHECK(refused("t1."));                       // empty
        CHECK(refused("t1.!!!!"));                   // not base64url
        CHECK(refused(std::string("t1.e3\0w", 7)));  // NUL
        CHECK(refused(with_json("[]")));
        CHECK(refused(with_json("{}")));
        CHECK(refused(with_json("not json")));
        const std::string good = R"("sys":1,"st":2,"d":5,"f":"ab")";
        CHECK_FALSE(refused(with_json("{" + good + R"(,"x":10,"p":[3,4]})")));
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[4,3]})")));   // not sorted
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[3,3]})")));   // not unique
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[3,10]})")));  // not below x
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[0]})")));     // not an xid
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[1.5]})")));
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":["3"]})")));
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":{}})")));
        CHECK(refused(with_json("{" + good + R"(,"x":5,"p":[]})")));  // d not below x
        CHECK(refused(with_json("{" + good + R"(,"x":"10","p":[]})")));
        CHECK(refused(with_json("{" + good + R"(,"x":18446744073709551615,"p":[]})")));
        CHECK(refused(with_json("{" + good + R"(,"x":10,"p":[],"extra":1})")));
        CHECK(refused(with_json(R"({"sys":1,"st":2,"d":5,"f":7,"x":10,"p":[]})")));
        CHECK(refused(with_json(R"({"sys":1,"st":-2,"d":5,"f":"","x":10,"p":[]})")));
        std::string many = "[";
        for (int i = 1; i <= 10001; ++i)
            many += (i > 1 ? "," : "") + std::to_string(i);
        CHECK(refused(with_json("{" + good + R"(,"x":20000,"p":)" + many + "]}")));
    }

    TEST_CASE("a round without a full page moves the cursor to the snapshot") {
        tail_state s;
        s.x = 100;
        s.pending = {90};
        // Snapshot: xmax 120, running 90 (still), 105, 119. Everything else below 120 is done.
        const tail_state n = advance_tail(s, 119, {90, 105, 119}, 110);
        CHECK(n.x == 120);
        CHECK(n.pending == std::vector<std::int64_t>{90, 105, 119});
        CHECK(n.delivered == 110);
    }

    TEST_CASE("a late commit stays pending until it is read") {
        tail_state s;
        s.x = 100;
        s.pending = {};
        tail_state n = advance_tail(s, 109, {101}, 108);  // 101 runs while 102..108 commit
        CHECK(n.x == 110);
        CHECK(n.pending == std::vector<std::int64_t>{101});
        n = advance_tail(n, 114, {}, 101);  // 101 committed: read, gone from pending
        CHECK(n.x == 115);
        CHECK(n.pending.empty());
        CHECK(n.delivered == 108);  // the largest delivered, not the last
    }

    TEST_CASE("a full page cuts below the transaction it did not finish") {
        tail_state s;
        s.x = 100;
        s.pending = {80, 95};
        // Snapshot xmax 130, running 95, 120. The page ended inside txid 110: cut 109.
        tail_state n = advance_tail(s, 109, {95, 120}, 108);
        CHECK(n.x == 110);
        CHECK(n.pending == std::vector<std::int64_t>{95});  // 80 finished and was read
        // A page of pending xid 80 alone (below x) read whole: cut 80 keeps x and later pendings.
        s.pending = {80, 95};
        n = advance_tail(s, 80, {95, 120}, 80);
        CHECK(n.x == 100);
        CHECK(n.pending == std::vector<std::int64_t>{95});
        // Cut below an unfinished page of pending 95: 80 read, 95 still readable.
        n = advance_tail(s, 94, {120}, 80);
        CHECK(n.x == 100);
        CHECK(n.pending == std::vector<std::int64_t>{95});
    }

    TEST_CASE("after a server restart the xids after the last delivered are read again") {
        tail_state s;
        s.x = 500;
        s.pending = {300, 450, 480};
        s.delivered = 460;
        s.started_us = 1;
        const tail_state n = after_server_restart(s, 2);
        CHECK(n.x == 461);
        CHECK(n.pending == std::vector<std::int64_t>{300, 450});
        CHECK(n.started_us == 2);
        CHECK(n.delivered == 460);
    }
}
