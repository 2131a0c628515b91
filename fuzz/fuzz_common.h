// Shared by the fuzzers: records built from fuzz input, and a check that aborts with a message.
// The checkers parse outputs with code independent of the library's (nlohmann's strict parser,
// tests/support/), so an encoder bug cannot hide behind the same bug in its checker.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "spdlog_ext/record.h"
#include "support/text_checks.h"

namespace fuzz {

// Prints what went wrong and a bounded excerpt of the offending output, then aborts (libFuzzer
// saves the input as a crash).
[[noreturn]] inline void fail(const std::string& what, std::string_view output = {}) {
    std::fprintf(stderr, "\n==== fuzz check failed: %s\n", what.c_str());
    if (!output.empty()) {
        std::string shown;
        for (std::size_t i = 0; i < output.size() && i < 2000; ++i) {
            const auto c = static_cast<unsigned char>(output[i]);
            if (c < 0x20 || c >= 0x7f) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\x%02x", c);
                shown += hex;
            } else {
                shown += static_cast<char>(c);
            }
        }
        std::fprintf(stderr, "==== output (%zu bytes, first 2000 shown):\n%s\n", output.size(),
                     shown.c_str());
    }
    std::abort();
}

#define FUZZ_CHECK(cond, what, output)                                  \
    do {                                                                \
        if (!(cond)) {                                                  \
            ::fuzz::fail(std::string(what) + " [" #cond "]", (output)); \
        }                                                               \
    } while (0)

inline bool valid_utf8(std::string_view s) {
    return test::text::invalid_utf8_at(s) == std::string_view::npos;
}

// An element of a non-empty vector (FuzzedDataProvider's PickValueInArray takes no vector).
template <typename T>
const T& pick(FuzzedDataProvider& p, const std::vector<T>& v) {
    return v[p.ConsumeIntegralInRange<std::size_t>(0, v.size() - 1)];
}

// Fragments that trip encoders: escapes of every protocol, NUL, control characters, invalid and
// edge-case UTF-8, entities, mentions.
inline const std::vector<std::string>& nasty_fragments() {
    static const std::vector<std::string> f = {std::string("\0", 1),
                                               "\\",
                                               "\\N",
                                               "\\.",
                                               "\t",
                                               "\n",
                                               "\r",
                                               "\r\n",
                                               "\x01",
                                               "\x1f",
                                               "\x7f",
                                               "\"",
                                               "'",
                                               ",",
                                               "=",
                                               " ",
                                               "#",
                                               "`",
                                               "```",
                                               "&",
                                               "<",
                                               ">",
                                               "&amp;",
                                               "<!channel>",
                                               "\xc3",
                                               "\xc3\xa9",
                                               "\xe2\x82",
                                               "\xe2\x82\xac",
                                               "\xf0\x9f\x98",
                                               "\xf0\x9f\x98\x80",
                                               "\xed\xa0\x80",
                                               "\xc0\xaf",
                                               "\xf4\x90\x80\x80",
                                               "\xff",
                                               "\xef\xbb\xbf",
                                               "\u200b",
                                               "\\u0000",
                                               "{",
                                               "}",
                                               "[",
                                               "]",
                                               "{\"a\":1}",
                                               "time",
                                               "_field",
                                               "message",
                                               "exception",
                                               "password",
                                               "token",
                                               "Bearer ",
                                               "Authorization: ",
                                               "https://u:p@h/",
                                               "AKIA"};
    return f;
}

// A string of raw bytes or of nasty fragments, occasionally large.
inline std::string hostile_string(FuzzedDataProvider& p, std::size_t max_len = 256) {
    switch (p.ConsumeIntegralInRange<int>(0, 5)) {
        case 0:
        case 1:
            return p.ConsumeRandomLengthString(max_len);
        case 2:
        case 3: {
            std::string s;
            const int n = p.ConsumeIntegralInRange<int>(0, 16);
            for (int i = 0; i < n && s.size() < max_len; ++i) {
                if (p.ConsumeBool()) {
                    s += pick(p, nasty_fragments());
                } else {
                    s += p.ConsumeRandomLengthString(16);
                }
            }
            return s;
        }
        case 4:
            return {};
        default: {
            // Many copies of a small piece: drives the encoders' size limits without huge inputs.
            const std::string piece = p.ConsumeRandomLengthString(8);
            const std::size_t copies = p.ConsumeIntegralInRange<std::size_t>(0, 4000);
            std::string s;
            for (std::size_t i = 0; i < copies && !piece.empty(); ++i) {
                s += piece;
            }
            return s;
        }
    }
}

inline double hostile_double(FuzzedDataProvider& p) {
    switch (p.ConsumeIntegralInRange<int>(0, 6)) {
        case 0:
            return std::numeric_limits<double>::quiet_NaN();
        case 1:
            return std::numeric_limits<double>::infinity();
        case 2:
            return -std::numeric_limits<double>::infinity();
        case 3:
            return -0.0;
        case 4:
            return std::numeric_limits<double>::denorm_min();
        default:
            return p.ConsumeFloatingPoint<double>();
    }
}

// A JSON value of any type, nested up to `depth`.
inline nlohmann::json json_value(FuzzedDataProvider& p, int depth) {
    switch (p.ConsumeIntegralInRange<int>(0, depth > 0 ? 8 : 6)) {
        case 0:
            return nullptr;
        case 1:
            return p.ConsumeBool();
        case 2:
            return p.ConsumeIntegral<std::int64_t>();
        case 3:
            return p.ConsumeIntegral<std::uint64_t>();
        case 4:
            return hostile_double(p);
        case 5:
        case 6:
            return hostile_string(p, 64);
        case 7: {
            nlohmann::json a = nlohmann::json::array();
            const int n = p.ConsumeIntegralInRange<int>(0, 4);
            for (int i = 0; i < n; ++i) {
                a.push_back(json_value(p, depth - 1));
            }
            return a;
        }
        default: {
            nlohmann::json o = nlohmann::json::object();
            const int n = p.ConsumeIntegralInRange<int>(0, 4);
            for (int i = 0; i < n; ++i) {
                o[hostile_string(p, 24)] = json_value(p, depth - 1);
            }
            return o;
        }
    }
}

inline spdlog::log_clock::time_point hostile_time(FuzzedDataProvider& p) {
    using ns = std::chrono::nanoseconds;
    std::int64_t t = 0;
    switch (p.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:  // now-ish: 2001..2100
            t = p.ConsumeIntegralInRange<std::int64_t>(1000000000, 4102444800) * 1000000000 +
                p.ConsumeIntegralInRange<std::int64_t>(0, 999999999);
            break;
        case 1:
            t = 0;
            break;
        default:
            t = p.ConsumeIntegral<std::int64_t>();
    }
    return spdlog::log_clock::time_point(
        std::chrono::duration_cast<spdlog::log_clock::duration>(ns(t)));
}

// One record from the input: hostile text everywhere, fields of every JSON type.
inline spdlog_ext::record make_record(FuzzedDataProvider& p) {
    spdlog_ext::record r;
    r.time = hostile_time(p);
    r.level = static_cast<spdlog::level::level_enum>(p.ConsumeIntegralInRange<int>(0, 6));
    r.logger_name = hostile_string(p, 64);
    r.message = hostile_string(p, 512);
    // Thread ids are OS ids (Linux: pid_t): never above INT64_MAX.
    r.thread_id = p.ConsumeIntegralInRange<std::size_t>(
        0, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()));
    if (p.ConsumeBool()) {
        r.thread_name = hostile_string(p, 32);
    }
    if (p.ConsumeBool()) {
        r.source_file = hostile_string(p, 64);
        r.source_line = p.ConsumeIntegral<int>();
        r.source_function = hostile_string(p, 32);
    }
    switch (p.ConsumeIntegralInRange<int>(0, 3)) {
        case 0:
            r.fields = nullptr;
            break;
        case 1:
            r.fields = nlohmann::json::object();
            break;
        default: {
            r.fields = nlohmann::json::object();
            const int n = p.ConsumeIntegralInRange<int>(0, 12);
            for (int i = 0; i < n; ++i) {
                std::string key =
                    p.ConsumeBool() ? pick(p, nasty_fragments()) : hostile_string(p, 24);
                if (p.ConsumeIntegralInRange<int>(0, 4) == 0) {
                    key = "exception";
                }
                r.fields[key] = json_value(p, 3);
            }
        }
    }
    return r;
}

inline std::vector<spdlog_ext::record> make_batch(FuzzedDataProvider& p, std::size_t max_records) {
    std::vector<spdlog_ext::record> batch;
    const std::size_t n = p.ConsumeIntegralInRange<std::size_t>(1, max_records);
    for (std::size_t i = 0; i < n; ++i) {
        if (!batch.empty() && p.ConsumeIntegralInRange<int>(0, 3) == 0) {
            batch.push_back(batch.back());  // repeats: grouping, same-timestamp series
        } else {
            batch.push_back(make_record(p));
        }
    }
    return batch;
}

// Every string and key in `j` satisfies `ok`.
template <typename F>
bool all_strings(const nlohmann::json& j, F ok) {
    if (j.is_string()) {
        return ok(j.get_ref<const std::string&>());
    }
    if (j.is_array()) {
        for (const auto& v : j) {
            if (!all_strings(v, ok)) {
                return false;
            }
        }
    } else if (j.is_object()) {
        for (const auto& [k, v] : j.items()) {
            if (!ok(k) || !all_strings(v, ok)) {
                return false;
            }
        }
    }
    return true;
}

// The strict dump of `j`, or empty when it holds invalid UTF-8 (then the encoders' replacement
// makes the output differ from the input on purpose).
inline std::string strict_dump(const nlohmann::json& j) {
    try {
        return j.dump();
    } catch (const nlohmann::json::exception&) {
        return {};
    }
}

}  // namespace fuzz
