#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"

namespace utf8 = spdlog_ext::utf8;

namespace {

std::string bytes(std::initializer_list<int> list) {
    std::string s;
    for (int b : list) {
        s.push_back(static_cast<char>(b));
    }
    return s;
}

const std::string fffd = "\xEF\xBF\xBD";

std::string repeat_fffd(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += fffd;
    }
    return s;
}

// Number of U+FFFD in `s` (which must be valid).
std::size_t count_fffd(const std::string& s) {
    std::size_t n = 0;
    for (std::size_t pos = s.find(fffd); pos != std::string::npos; pos = s.find(fffd, pos + 3)) {
        ++n;
    }
    return n;
}

struct invalid_case {
    const char* name;
    std::string input;
    std::string expected;  // sanitized
};

}  // namespace

TEST_SUITE("format") {
    TEST_CASE("utf8: well-formed sequences are valid and left unchanged") {
        const std::vector<std::string> valid = {
            "",
            "plain ascii",
            std::string("with\0nul", 8),
            bytes({0x7F}),
            bytes({0xC2, 0x80}),              // U+0080, smallest 2-byte
            bytes({0xDF, 0xBF}),              // U+07FF
            bytes({0xE0, 0xA0, 0x80}),        // U+0800, smallest 3-byte
            bytes({0xED, 0x9F, 0xBF}),        // U+D7FF, just below the surrogates
            bytes({0xEE, 0x80, 0x80}),        // U+E000, just above them
            bytes({0xEF, 0xBF, 0xBF}),        // U+FFFF
            bytes({0xF0, 0x90, 0x80, 0x80}),  // U+10000, smallest 4-byte
            bytes({0xF4, 0x8F, 0xBF, 0xBF}),  // U+10FFFF, the largest code point
            "h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC \xF0\x9F\x98\x80",  // é ö € 😀
            std::string(1000, 'x') + "\xE2\x82\xAC" + std::string(13, 'y'),
        };
        for (const auto& s : valid) {
            CAPTURE(s);
            CHECK(utf8::is_valid(s));
            CHECK(utf8::sanitize(s) == s);
            std::string copy = s;
            CHECK_FALSE(utf8::sanitize_in_place(copy));
            CHECK(copy == s);
        }
    }

    TEST_CASE("utf8: ill-formed sequences are rejected and each maximal subpart becomes U+FFFD") {
        const std::vector<invalid_case> cases = {
            {"stray continuation", bytes({0x80}), repeat_fffd(1)},
            {"two stray continuations", bytes({0x80, 0xBF}), repeat_fffd(2)},
            {"overlong slash C0 AF", bytes({0xC0, 0xAF}), repeat_fffd(2)},
            {"overlong C1 BF", bytes({0xC1, 0xBF}), repeat_fffd(2)},
            {"overlong E0 80 AF", bytes({0xE0, 0x80, 0xAF}), repeat_fffd(3)},
            {"overlong F0 80 80 AF", bytes({0xF0, 0x80, 0x80, 0xAF}), repeat_fffd(4)},
            {"overlong F0 8F BF BF", bytes({0xF0, 0x8F, 0xBF, 0xBF}), repeat_fffd(4)},
            {"surrogate ED A0 80", bytes({0xED, 0xA0, 0x80}), repeat_fffd(3)},
            {"surrogate ED BF BF", bytes({0xED, 0xBF, 0xBF}), repeat_fffd(3)},
            {"surrogate pair", bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}), repeat_fffd(6)},
            {"above U+10FFFF F4 90 80 80", bytes({0xF4, 0x90, 0x80, 0x80}), repeat_fffd(4)},
            {"F5 lead", bytes({0xF5, 0x80, 0x80, 0x80}), repeat_fffd(4)},
            {"FE FF", bytes({0xFE, 0xFF}), repeat_fffd(2)},
            {"truncated 2-byte at end", "a" + bytes({0xC3}), "a" + fffd},
            {"truncated 3-byte at end", "a" + bytes({0xE2, 0x82}), "a" + fffd},
            {"truncated 4-byte at end", "a" + bytes({0xF0, 0x9F, 0x98}), "a" + fffd},
            {"truncated 4-byte before ascii", bytes({0xF0, 0x9F, 0x98}) + "A", fffd + "A"},
            {"truncated 3-byte before valid 2-byte", bytes({0xE2, 0x82, 0xC3, 0xA9}),
             fffd + "\xC3\xA9"},
            {"lead then lead", bytes({0xC3, 0xC3, 0xA9}), fffd + "\xC3\xA9"},
            // The example of the Unicode Standard, section 3.9 (U+FFFD substitution of maximal
            // subparts): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
            {"unicode 3.9 example",
             bytes({0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64}),
             "a" + repeat_fffd(3) + "b" + repeat_fffd(1) + "c" + repeat_fffd(2) + "d"},
            {"mixed valid and invalid",
             "ok \xC3\xA9 " + bytes({0xC0, 0xAF}) + " \xF0\x9F\x98\x80 " +
                 bytes({0xED, 0xA0, 0x80}) + " end",
             "ok \xC3\xA9 " + repeat_fffd(2) + " \xF0\x9F\x98\x80 " + repeat_fffd(3) + " end"},
            {"invalid after a long ascii run", std::string(37, 'z') + bytes({0xFF}) + "zz",
             std::string(37, 'z') + fffd + "zz"},
        };
        for (const auto& c : cases) {
            CAPTURE(c.name);
            CHECK_FALSE(utf8::is_valid(c.input));
            const std::string out = utf8::sanitize(c.input);
            CHECK(out == c.expected);
            CHECK(utf8::is_valid(out));
            CHECK(count_fffd(out) == count_fffd(c.expected));
            std::string in_place = c.input;
            CHECK(utf8::sanitize_in_place(in_place));
            CHECK(in_place == c.expected);
        }
    }

    TEST_CASE("utf8: NUL is kept by default and replaced on request") {
        const std::string s("a\0b\0", 4);
        CHECK(utf8::is_valid(s));
        CHECK(utf8::sanitize(s) == s);
        CHECK(utf8::sanitize(s, utf8::nul_policy::replace) == "a" + fffd + "b" + fffd);

        std::string t = s;
        CHECK_FALSE(utf8::sanitize_in_place(t, utf8::nul_policy::keep));
        CHECK(t == s);
        CHECK(utf8::sanitize_in_place(t, utf8::nul_policy::replace));
        CHECK(t == "a" + fffd + "b" + fffd);

        // A NUL inside a long ASCII run (found by the eight-bytes-at-a-time scan) and next to an
        // invalid byte.
        std::string long_run = std::string(20, 'x') + '\0' + std::string(20, 'y') + bytes({0x80});
        CHECK(utf8::sanitize(long_run, utf8::nul_policy::replace) ==
              std::string(20, 'x') + fffd + std::string(20, 'y') + fffd);
        CHECK(utf8::sanitize(long_run) ==
              std::string(20, 'x') + '\0' + std::string(20, 'y') + fffd);
    }

    TEST_CASE("utf8: sanitize_in_place does not touch a valid string's buffer") {
        std::string s = std::string(100, 'a') + "\xE2\x82\xAC";
        const char* before = s.data();
        const auto capacity = s.capacity();
        CHECK_FALSE(utf8::sanitize_in_place(s));
        CHECK(s.data() == before);
        CHECK(s.capacity() == capacity);
    }

    TEST_CASE("utf8: every single byte is classified as RFC 3629 says") {
        for (int b = 0; b < 256; ++b) {
            CAPTURE(b);
            const std::string s = bytes({b});
            CHECK(utf8::is_valid(s) == (b < 0x80));
            if (b >= 0x80) {
                CHECK(utf8::sanitize(s) == fffd);
            }
        }
    }

    TEST_CASE("utf8: every two-byte lead/continuation pair") {
        for (int lead = 0xC0; lead <= 0xDF; ++lead) {
            for (int cont = 0x00; cont <= 0xFF; ++cont) {
                const std::string s = bytes({lead, cont});
                const bool expect = lead >= 0xC2 && cont >= 0x80 && cont <= 0xBF;
                CAPTURE(lead);
                CAPTURE(cont);
                REQUIRE(utf8::is_valid(s) == expect);
            }
        }
    }

    TEST_CASE("utf8: truncate never splits a sequence") {
        const std::string s = "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a b é € 😀 z
        // Byte offsets where a character starts: 0 1 2 4 7 11 12(end).
        CHECK(utf8::truncate(s, 100) == s);
        CHECK(utf8::truncate(s, s.size()) == s);
        CHECK(utf8::truncate(s, 0).empty());
        CHECK(utf8::truncate(s, 2) == "ab");
        CHECK(utf8::truncate(s, 3) == "ab");
        CHECK(utf8::truncate(s, 4) == "ab\xC3\xA9");
        CHECK(utf8::truncate(s, 5) == "ab\xC3\xA9");
        CHECK(utf8::truncate(s, 6) == "ab\xC3\xA9");
        CHECK(utf8::truncate(s, 7) == "ab\xC3\xA9\xE2\x82\xAC");
        CHECK(utf8::truncate(s, 8) == "ab\xC3\xA9\xE2\x82\xAC");
        CHECK(utf8::truncate(s, 10) == "ab\xC3\xA9\xE2\x82\xAC");
        CHECK(utf8::truncate(s, 11) == "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
        for (std::size_t n = 0; n <= s.size(); ++n) {
            CAPTURE(n);
            const auto cut = utf8::truncate(s, n);
            CHECK(cut.size() <= n);
            CHECK(n - cut.size() <= 3);
            CHECK(utf8::is_valid(cut));
        }
        // Invalid input: stray continuation bytes are plain bytes, never a reason to cut more.
        const std::string stray = "abc" + bytes({0x80, 0x80, 0x80, 0x80, 0x80});
        CHECK(utf8::truncate(stray, 6).size() == 6);
        // An already-broken sequence before the cut is not a reason to cut earlier either.
        const std::string broken = "abc" + bytes({0xE2, 0x82}) + "def";
        CHECK(utf8::truncate(broken, 5) == "abc" + bytes({0xE2, 0x82}));
        const std::string ascii = "abcdef";
        CHECK(utf8::truncate(ascii, 3) == "abc");
    }
}
