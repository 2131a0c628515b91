// COPY text (postgres_batch_sink): every row parses back under PostgreSQL's text COPY rules into
// the table's 15 columns, each value valid UTF-8 without NUL, extra_data a JSON object jsonb takes.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "sinks/postgres/postgres_encoder.h"

namespace {

// A column as COPY reads it: \N alone is NULL; otherwise a backslash starts an escape. The encoder
// only needs \\ \n \r \t, so anything else (octal/hex escapes that could make NUL, `\.`) is
// refused here as well.
bool decode_column(std::string_view raw, std::string& out, bool& is_null) {
    out.clear();
    is_null = raw == "\\N";
    if (is_null) {
        return true;
    }
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '\0' || c == '\n' || c == '\r' || c == '\t') {
            return false;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i == raw.size()) {
            return false;
        }
        switch (raw[i]) {
            case '\\':
                out += '\\';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            default:
                return false;
        }
    }
    return true;
}

bool is_integer(const std::string& s, bool bigint) {
    if (s.empty() || s.size() > 20) {
        return false;
    }
    try {
        std::size_t used = 0;
        const long long v = std::stoll(s, &used);
        return used == s.size() && (bigint || (v >= INT32_MIN && v <= INT32_MAX));
    } catch (...) {
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider p(data, size);
    const std::string host = fuzz::hostile_string(p, 64);
    const auto batch = fuzz::make_batch(p, 8);
    spdlog_ext::detail::copy_text_encoder encoder(std::to_string(p.ConsumeIntegral<int>()), host);
    std::string out;
    encoder.encode(spdlog_ext::record_span(batch.data(), batch.size()), out);

    constexpr std::size_t columns = spdlog_ext::detail::copy_columns.size();
    static const std::vector<std::string> levels = {"TRACE",   "DEBUG", "INFO",
                                                    "WARNING", "ERROR", "CRITICAL"};
    FUZZ_CHECK(!out.empty() && out.back() == '\n', "output must end with a newline", out);
    std::size_t row = 0;
    std::size_t start = 0;
    std::string value;
    while (start < out.size()) {
        const std::size_t end = out.find('\n', start);
        const std::string_view line(out.data() + start, end - start);
        FUZZ_CHECK(line != "\\.", "a row reads as COPY's end-of-data marker", line);
        std::vector<std::string_view> cols;
        for (std::size_t at = 0;;) {
            const std::size_t tab = line.find('\t', at);
            cols.push_back(line.substr(at, tab == std::string_view::npos ? tab : tab - at));
            if (tab == std::string_view::npos) {
                break;
            }
            at = tab + 1;
        }
        FUZZ_CHECK(cols.size() == columns, "row " + std::to_string(row) + ": column count", line);
        FUZZ_CHECK(row < batch.size(), "more rows than records", out);
        for (std::size_t c = 0; c < columns; ++c) {
            bool is_null = false;
            const std::string name = spdlog_ext::detail::copy_columns[c];
            FUZZ_CHECK(decode_column(cols[c], value, is_null), "bad escape or raw byte in " + name,
                       cols[c]);
            FUZZ_CHECK(fuzz::valid_utf8(value), name + " is not valid UTF-8", cols[c]);
            FUZZ_CHECK(value.find('\0') == std::string::npos, name + " holds NUL", cols[c]);
            const bool not_null = name == "timestamp" || name == "level" || name == "logger_name" ||
                                  name == "message";
            FUZZ_CHECK(!(is_null && not_null), name + " is NULL (NOT NULL column)", line);
            if (is_null) {
                continue;
            }
            if (name == "level") {
                FUZZ_CHECK(std::find(levels.begin(), levels.end(), value) != levels.end(),
                           "level fails the table's CHECK constraint", value);
            } else if (name == "process_id" || name == "lineno") {
                FUZZ_CHECK(is_integer(value, false), name + " is not an INTEGER", value);
            } else if (name == "thread_id") {
                FUZZ_CHECK(is_integer(value, true), name + " is not a BIGINT", value);
            } else if (name == "extra_data") {
                nlohmann::json j;
                try {
                    j = nlohmann::json::parse(value);
                } catch (const nlohmann::json::exception& e) {
                    fuzz::fail(std::string("extra_data is not JSON: ") + e.what(), value);
                }
                FUZZ_CHECK(j.is_object() && !j.empty(), "extra_data is not a non-empty object",
                           value);
                FUZZ_CHECK(!j.contains("exception"), "exception left in extra_data", value);
                FUZZ_CHECK(
                    fuzz::all_strings(
                        j, [](const std::string& s) { return s.find('\0') == std::string::npos; }),
                    "extra_data holds \\u0000 (jsonb refuses it)", value);
            }
        }
        // The message survives intact when PostgreSQL could store it as it was.
        std::string message;
        bool is_null = false;
        decode_column(cols[7], message, is_null);
        const std::string& in = batch[row].message;
        if (fuzz::valid_utf8(in) && in.find('\0') == std::string::npos) {
            FUZZ_CHECK(message == in, "message changed", line);
        }
        ++row;
        start = end + 1;
    }
    FUZZ_CHECK(row == batch.size(), "one row per record", out);
    return 0;
}
