// The PostgreSQL COPY encoder without a server: the exact bytes of COPY's text format (one line
// per record, tab-separated columns in copy_columns order, \N for NULL, backslash escapes), with
// NUL and invalid UTF-8 replaced since the server's text and jsonb cannot hold them.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sinks/postgres/postgres_encoder.h"
#include "spdlog_ext/record.h"

namespace {

using spdlog_ext::record;
using spdlog_ext::detail::copy_text_encoder;

const std::string fffd = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

// 2023-11-14T22:13:20.123456789Z: the encoder keeps microseconds, truncated.
spdlog::log_clock::time_point fixed_time() {
    return spdlog::log_clock::time_point(std::chrono::duration_cast<spdlog::log_clock::duration>(
        std::chrono::seconds(1700000000) + std::chrono::nanoseconds(123456789)));
}
const std::string fixed_time_text = "2023-11-14 22:13:20.123456+00";

record bare_record(const std::string& message = "m") {
    record r;
    r.time = fixed_time();
    r.level = spdlog::level::info;
    r.logger_name = "app";
    r.message = message;
    r.thread_id = 7;
    return r;
}

std::string encode(const std::vector<record>& batch, const std::string& host = "db-host") {
    copy_text_encoder encoder("1234", host);
    std::string out = "left over from the previous batch";
    encoder.encode(spdlog_ext::record_span(batch.data(), batch.size()), out);
    return out;
}

std::string encode_one(const record& r, const std::string& host = "db-host") {
    return encode(std::vector<record>{r}, host);
}

// One encoded line (without its '\n') split at tabs: COPY's fields, still escaped.
std::vector<std::string> fields_of_line(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const auto tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
        if (tab == std::string::npos) {
            return out;
        }
        start = tab + 1;
    }
}

// The one row in `encoded`, by column name; empty when it is not exactly one line of 15 fields.
std::map<std::string, std::string> row_of(const std::string& encoded) {
    REQUIRE(!encoded.empty());
    REQUIRE(encoded.back() == '\n');
    const std::string line = encoded.substr(0, encoded.size() - 1);
    REQUIRE(line.find('\n') == std::string::npos);
    const auto fields = fields_of_line(line);
    REQUIRE(fields.size() == spdlog_ext::detail::copy_columns.size());
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        row[spdlog_ext::detail::copy_columns[i]] = fields[i];
    }
    return row;
}

std::string field(std::string_view text) {
    std::string out;
    spdlog_ext::detail::append_copy_field(out, text);
    return out;
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("COPY columns are the 15 of the table in a fixed order") {
        const std::vector<std::string> expected = {
            "timestamp",   "level",    "logger_name", "process_id", "thread_id",
            "thread_name", "hostname", "message",     "exception",  "function_name",
            "module",      "filename", "lineno",      "pathname",   "extra_data"};
        REQUIRE(spdlog_ext::detail::copy_columns.size() == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            CHECK(std::string(spdlog_ext::detail::copy_columns[i]) == expected[i]);
        }
    }

    TEST_CASE("append_copy_field escapes backslash - newline - carriage return - tab only") {
        CHECK(field("") == "");
        CHECK(field("plain text") == "plain text");
        CHECK(field("a\\b") == "a\\\\b");
        CHECK(field("a\nb") == "a\\nb");
        CHECK(field("a\rb") == "a\\rb");
        CHECK(field("a\tb") == "a\\tb");
        CHECK(field("\\\n\r\t") == "\\\\\\n\\r\\t");
        CHECK(field("\r\n") == "\\r\\n");
        // A literal \N or \. stays text (the backslash is doubled), not NULL or end of data.
        CHECK(field("\\N") == "\\\\N");
        CHECK(field("\\.") == "\\\\.");
        // Other control bytes and non-ASCII pass as they are.
        CHECK(field("\x01\x0b\x0c\x7f") == "\x01\x0b\x0c\x7f");
        CHECK(field("h\xC3\xA9llo") == "h\xC3\xA9llo");
        // It appends.
        std::string out = "x\t";
        spdlog_ext::detail::append_copy_field(out, "y\tz");
        CHECK(out == "x\ty\\tz");
    }

    TEST_CASE("copy_clean_text replaces NUL and invalid UTF-8 with U+FFFD") {
        using spdlog_ext::detail::copy_clean_text;
        CHECK(copy_clean_text("") == "");
        CHECK(copy_clean_text("h\xC3\xA9llo \xE2\x82\xAC") == "h\xC3\xA9llo \xE2\x82\xAC");
        CHECK(copy_clean_text(std::string("a\0b", 3)) == "a" + fffd + "b");
        CHECK(copy_clean_text(std::string("\0\0", 2)) == fffd + fffd);
        CHECK(copy_clean_text("a\xFF"
                              "b") == "a" + fffd + "b");
        CHECK(copy_clean_text("\xC3(") == fffd + "(");      // a lead byte without its tail
        CHECK(copy_clean_text("\xE2\x82") == fffd);         // a truncated sequence: one U+FFFD
        CHECK(copy_clean_text("\xC0\xAF") == fffd + fffd);  // an overlong '/'
        CHECK(copy_clean_text("\xED\xA0\x80") == fffd + fffd + fffd);  // a surrogate
    }

    TEST_CASE("a full record is one line of 15 fields with exact bytes") {
        record r = bare_record("hello");
        r.level = spdlog::level::warn;
        r.thread_id = 4242;
        r.thread_name = "worker-1";
        r.source_file = "src/app/main.cpp";
        r.source_line = 42;
        r.source_function = "run";
        r.fields = {{"exception", "boom"}, {"user", "ann"}, {"n", 3}};
        const std::string expected = fixed_time_text +
                                     "\tWARNING\tapp\t1234\t4242\tworker-1\tdb-host\thello\tboom"
                                     "\trun\tmain\tmain.cpp\t42\tsrc/app/main.cpp"
                                     "\t{\"n\":3,\"user\":\"ann\"}\n";
        const std::string encoded = encode_one(r);
        CHECK(encoded == expected);
        auto row = row_of(encoded);
        CHECK(row["timestamp"] == fixed_time_text);
        CHECK(row["level"] == "WARNING");
        CHECK(row["logger_name"] == "app");
        CHECK(row["process_id"] == "1234");
        CHECK(row["thread_id"] == "4242");
        CHECK(row["thread_name"] == "worker-1");
        CHECK(row["hostname"] == "db-host");
        CHECK(row["message"] == "hello");
        CHECK(row["exception"] == "boom");
        CHECK(row["function_name"] == "run");
        CHECK(row["module"] == "main");
        CHECK(row["filename"] == "main.cpp");
        CHECK(row["lineno"] == "42");
        CHECK(row["pathname"] == "src/app/main.cpp");
        CHECK(row["extra_data"] == "{\"n\":3,\"user\":\"ann\"}");
    }

    TEST_CASE("absent thread name - exception - source and fields are NULL") {
        const record r = bare_record();
        CHECK(encode_one(r) == fixed_time_text +
                                   "\tINFO\tapp\t1234\t7\t\\N\tdb-host\tm"
                                   "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n");
        // An empty logger name and message are empty text, not NULL.
        record empty = bare_record("");
        empty.logger_name.clear();
        CHECK(encode_one(empty) == fixed_time_text +
                                       "\tINFO\t\t1234\t7\t\\N\tdb-host\t"
                                       "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n");
        // Fields that are not an object, or an empty object: extra_data is NULL.
        for (const nlohmann::json& fields :
             {nlohmann::json(), nlohmann::json::object(), nlohmann::json::array({1, 2}),
              nlohmann::json("text")}) {
            INFO(fields.dump());
            record f = bare_record();
            f.fields = fields;
            const auto row = row_of(encode_one(f));
            CHECK(row.at("extra_data") == "\\N");
            CHECK(row.at("exception") == "\\N");
        }
    }

    TEST_CASE("a batch without exceptions or source locations leaves their columns out") {
        using spdlog_ext::detail::copy_shape;
        using spdlog_ext::detail::copy_shape_of;
        record plain = bare_record("plain");
        plain.fields = {{"user", "ann"}};
        record line_only = bare_record("line");
        line_only.source_line = 5;
        record failed = bare_record("failed");
        failed.fields = {{"exception", "boom"}};
        const auto shape_of = [](const std::vector<record>& batch) {
            return copy_shape_of(spdlog_ext::record_span(batch.data(), batch.size())).index();
        };
        CHECK(shape_of({plain, plain}) == copy_shape{false, false}.index());
        CHECK(shape_of({plain, line_only}) == copy_shape{false, true}.index());
        CHECK(shape_of({failed, plain}) == copy_shape{true, false}.index());
        CHECK(shape_of({plain, failed, line_only}) == copy_shape{true, true}.index());
        CHECK(spdlog_ext::detail::copy_columns_for(copy_shape{}).size() == 15);
        CHECK(spdlog_ext::detail::copy_columns_for(copy_shape{false, false}) ==
              std::vector<const char*>{"timestamp", "level", "logger_name", "process_id",
                                       "thread_id", "thread_name", "hostname", "message",
                                       "extra_data"});
        // The rows then have as many fields as the shape's columns, in their order.
        for (std::size_t i = 0; i < 4; ++i) {
            const copy_shape shape = copy_shape::of_index(i);
            const auto columns = spdlog_ext::detail::copy_columns_for(shape);
            copy_text_encoder encoder("1234", "db-host");
            const std::vector<record> batch{plain, line_only, failed};
            std::string out;
            encoder.encode_some(spdlog_ext::record_span(batch.data(), batch.size()), 0, out,
                                std::string::npos, shape);
            std::size_t line_start = 0;
            for (const record& r : batch) {
                const std::size_t end = out.find('\n', line_start);
                REQUIRE(end != std::string::npos);
                const auto fields = fields_of_line(out.substr(line_start, end - line_start));
                line_start = end + 1;
                REQUIRE(fields.size() == columns.size());
                std::map<std::string, std::string> row;
                for (std::size_t c = 0; c < columns.size(); ++c) {
                    row[columns[c]] = fields[c];
                }
                CHECK(row.at("message") == r.message);
                CHECK(row.count("exception") == (shape.exception ? 1u : 0u));
                CHECK(row.count("lineno") == (shape.source ? 1u : 0u));
                if (shape.exception) {
                    CHECK(row.at("exception") == (r.message == "failed" ? "boom" : "\\N"));
                }
                if (shape.source) {
                    CHECK(row.at("lineno") == (r.message == "line" ? "5" : "\\N"));
                }
            }
            CHECK(line_start == out.size());
        }
    }

    TEST_CASE("the encoder reuses its scratch row without leaking one record into the next") {
        record full = bare_record("first");
        full.thread_name = "t";
        full.source_file = "a/b.cpp";
        full.source_line = 3;
        full.source_function = "f";
        full.fields = {{"exception", "e"}, {"k", "v"}};
        const record bare = bare_record("second");
        const std::string encoded = encode({full, bare, full});
        const std::string full_line = fixed_time_text +
                                      "\tINFO\tapp\t1234\t7\tt\tdb-host\tfirst\te\tf\tb\tb.cpp\t3"
                                      "\ta/b.cpp\t{\"k\":\"v\"}\n";
        const std::string bare_line = fixed_time_text +
                                      "\tINFO\tapp\t1234\t7\t\\N\tdb-host\tsecond"
                                      "\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n";
        CHECK(encoded == full_line + bare_line + full_line);
        // The output is replaced, not appended to: an empty batch is empty.
        CHECK(encode({}) == "");
    }

    TEST_CASE("every level maps to the table's names and off becomes CRITICAL") {
        const std::pair<spdlog::level::level_enum, std::string> levels[] = {
            {spdlog::level::trace, "TRACE"}, {spdlog::level::debug, "DEBUG"},
            {spdlog::level::info, "INFO"},   {spdlog::level::warn, "WARNING"},
            {spdlog::level::err, "ERROR"},   {spdlog::level::critical, "CRITICAL"},
            {spdlog::level::off, "CRITICAL"}};
        for (const auto& level : levels) {
            INFO(level.second);
            record r = bare_record();
            r.level = level.first;
            CHECK(row_of(encode_one(r)).at("level") == level.second);
        }
    }

    TEST_CASE("the timestamp is RFC 3339 UTC with microseconds truncated") {
        record r = bare_record();
        CHECK(row_of(encode_one(r)).at("timestamp") == "2023-11-14 22:13:20.123456+00");
        r.time =
            spdlog::log_clock::time_point(std::chrono::duration_cast<spdlog::log_clock::duration>(
                std::chrono::seconds(1700000000) + std::chrono::nanoseconds(999999)));
        CHECK(row_of(encode_one(r)).at("timestamp") == "2023-11-14 22:13:20.000999+00");
        r.time =
            spdlog::log_clock::time_point(std::chrono::duration_cast<spdlog::log_clock::duration>(
                std::chrono::seconds(946684799)));
        CHECK(row_of(encode_one(r)).at("timestamp") == "1999-12-31 23:59:59.000000+00");
    }

    TEST_CASE("text columns are escaped and cleaned in the row") {
        record r = bare_record("line1\nline2\tcol\\x\r\\N");
        r.logger_name = "lo\tg\xFF";
        r.thread_name = std::string("th\0r", 4);
        r.source_file = "C:\\src\\main.cpp";  // a Windows path: split at backslashes
        r.source_line = 9;
        r.source_function = "ns::f(int)\t";
        r.fields = {{"exception", std::string("Trace\n  at\0x", 12)}};
        const auto row = row_of(encode_one(r, std::string("ho\0st\n", 6)));
        CHECK(row.at("message") == "line1\\nline2\\tcol\\\\x\\r\\\\N");
        CHECK(row.at("logger_name") == "lo\\tg" + fffd);
        CHECK(row.at("thread_name") == "th" + fffd + "r");
        CHECK(row.at("hostname") == "ho" + fffd + "st\\n");
        CHECK(row.at("pathname") == "C:\\\\src\\\\main.cpp");
        CHECK(row.at("filename") == "main.cpp");
        CHECK(row.at("module") == "main");
        CHECK(row.at("lineno") == "9");
        CHECK(row.at("function_name") == "ns::f(int)\\t");
        CHECK(row.at("exception") == "Trace\\n  at" + fffd + "x");
        CHECK(row.at("extra_data") == "\\N");  // the exception was the only field
    }

    TEST_CASE("a source location with only a line or only a file") {
        record line_only = bare_record();
        line_only.source_line = 5;
        auto row = row_of(encode_one(line_only));
        CHECK(row.at("function_name") == "");
        CHECK(row.at("module") == "");
        CHECK(row.at("filename") == "");
        CHECK(row.at("lineno") == "5");
        CHECK(row.at("pathname") == "");

        record file_only = bare_record();
        file_only.source_file = "/srv/.hidden";
        row = row_of(encode_one(file_only));
        CHECK(row.at("function_name") == "");
        CHECK(row.at("module") == ".hidden");  // a leading dot is not an extension
        CHECK(row.at("filename") == ".hidden");
        CHECK(row.at("lineno") == "0");
        CHECK(row.at("pathname") == "/srv/.hidden");
    }

    TEST_CASE("extra_data is the fields as compact JSON - COPY-escaped") {
        record r = bare_record();
        // JSON escapes (\" \\ \n and \u0001) are themselves backslashes: COPY doubles them.
        r.fields = {{"back", "c\\d"}, {"k", "v\nw"}, {"q", "a\"b"}, {"ctl", "\x01"}};
        CHECK(row_of(encode_one(r)).at("extra_data") ==
              R"({"back":"c\\\\d","ctl":"\\u0001","k":"v\\nw","q":"a\\"b"})");
        // Nested values and non-ASCII text stay as they are (UTF-8, not \u escapes).
        r.fields = {{"a", {1, 2.5, true, nullptr}}, {"o", {{"x", "h\xC3\xA9"}}}};
        CHECK(row_of(encode_one(r)).at("extra_data") ==
              "{\"a\":[1,2.5,true,null],\"o\":{\"x\":\"h\xC3\xA9\"}}");
    }

    TEST_CASE("extra_data has NUL and invalid UTF-8 replaced in values and keys") {
        record r = bare_record();
        r.fields = {{"k", std::string("a\0b", 3)}};
        CHECK(row_of(encode_one(r)).at("extra_data") == "{\"k\":\"a" + fffd + "b\"}");
        r.fields = {{"k", "a\xFF"}};
        CHECK(row_of(encode_one(r)).at("extra_data") == "{\"k\":\"a" + fffd + "\"}");
        r.fields = nlohmann::json::object();
        r.fields["\xFFkey"] = 1;
        CHECK(row_of(encode_one(r)).at("extra_data") == "{\"" + fffd + "key\":1}");
        r.fields = {{"list", {std::string("x\0", 2), "ok"}}, {"o", {{"in", "\xC3("}}}};
        CHECK(row_of(encode_one(r)).at("extra_data") ==
              "{\"list\":[\"x" + fffd + "\",\"ok\"],\"o\":{\"in\":\"" + fffd + "(\"}}");
        // With an exception field, the rest is cleaned the same way.
        r.fields = {{"exception", "e"}, {"k", std::string("\0", 1)}};
        const auto row = row_of(encode_one(r));
        CHECK(row.at("exception") == "e");
        CHECK(row.at("extra_data") == "{\"k\":\"" + fffd + "\"}");
    }

    TEST_CASE("a non-string exception field is its JSON text") {
        record r = bare_record();
        r.fields = {{"exception", 5}, {"k", 1}};
        auto row = row_of(encode_one(r));
        CHECK(row.at("exception") == "5");
        CHECK(row.at("extra_data") == "{\"k\":1}");
        r.fields = {{"exception", {{"type", "E"}, {"what", "x\ty"}}}};
        row = row_of(encode_one(r));
        CHECK(row.at("exception") == "{\"type\":\"E\",\"what\":\"x\\\\ty\"}");
        CHECK(row.at("extra_data") == "\\N");
    }
    TEST_CASE("encode_some in chunks gives encode's bytes - whole rows per chunk") {
        // A mix of rows: escapes, NULLs, fields, exception, source location, long messages.
        std::vector<record> batch;
        for (int i = 0; i < 200; ++i) {
            record r = bare_record("message " + std::to_string(i) + std::string(i % 37, 'x') +
                                   (i % 5 == 0 ? "\ttab\\slash\nline" : ""));
            if (i % 3 == 0) {
                r.fields = {{"user_id", i}, {"service", "checkout"}};
            }
            if (i % 7 == 0) {
                r.fields["exception"] = "boom " + std::to_string(i);
            }
            if (i % 11 == 0) {
                r.source_file = "src/a.cpp";
                r.source_line = i;
                r.source_function = "f";
            }
            r.level = static_cast<spdlog::level::level_enum>(i % 7);
            batch.push_back(std::move(r));
        }
        const spdlog_ext::record_span span(batch.data(), batch.size());
        const std::string whole = encode(batch);
        for (const std::size_t min_bytes :
             {std::size_t(1), std::size_t(100), std::size_t(4096), std::size_t(1) << 20}) {
            CAPTURE(min_bytes);
            copy_text_encoder encoder("1234", "db-host");
            std::string joined;
            std::string chunk = "left over";
            std::size_t next = 0;
            std::size_t chunks = 0;
            while (next < batch.size()) {
                chunk.clear();
                const std::size_t before = next;
                next = encoder.encode_some(span, next, chunk, min_bytes);
                REQUIRE(next > before);  // progress on every call
                CHECK(next <= batch.size());
                // Whole lines only, and no more rows than needed to reach min_bytes.
                CHECK(chunk.back() == '\n');
                const auto lines =
                    static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
                CHECK(lines == next - before);
                const std::size_t last_line =
                    chunk.rfind('\n', chunk.size() - 2) == std::string::npos
                        ? 0
                        : chunk.rfind('\n', chunk.size() - 2) + 1;
                CHECK((next == batch.size() || chunk.size() >= min_bytes));
                CHECK(last_line < min_bytes);  // the chunk was short before its last row
                joined += chunk;
                ++chunks;
            }
            CHECK(joined == whole);
            CHECK(encoder.encode_some(span, batch.size(), chunk, min_bytes) == batch.size());
            if (min_bytes == 1) {
                CHECK(chunks == batch.size());
            }
        }
    }
}
