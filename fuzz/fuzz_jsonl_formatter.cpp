// JSON lines (json_formatter, jsonl_file_sink): one line per record, each a JSON object that
// parses strictly, valid UTF-8, with the documented keys and types; message and fields survive
// when they were valid UTF-8.
#include <spdlog/details/log_msg.h>

#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "spdlog_ext/json_formatter.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    FuzzedDataProvider p(data, size);
    spdlog_ext::json_formatter formatter(p.ConsumeBool() ? spdlog_ext::json_time_zone::utc
                                                         : spdlog_ext::json_time_zone::local);
    const auto batch = fuzz::make_batch(p, 6);
    spdlog::memory_buf_t buf;
    for (const auto& r : batch) {
        const spdlog_ext::record_scope scope(r);  // fields_of() answers with r's fields
        formatter.format(r.to_log_msg(), buf);
    }
    const std::string out(buf.data(), buf.size());
    FUZZ_CHECK(fuzz::valid_utf8(out), "output is not valid UTF-8", out);
    std::size_t start = 0;
    for (const auto& r : batch) {
        const std::size_t end = out.find('\n', start);
        FUZZ_CHECK(end != std::string::npos, "fewer lines than records", out);
        const std::string line = out.substr(start, end - start);
        start = end + 1;
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            fuzz::fail(std::string("line is not JSON: ") + e.what(), line);
        }
        FUZZ_CHECK(j.is_object(), "line is not an object", line);
        for (const char* key : {"timestamp", "level", "logger", "message", "host"}) {
            FUZZ_CHECK(j.contains(key) && j[key].is_string(), std::string("key ") + key, line);
        }
        FUZZ_CHECK(j.contains("thread_id") && j["thread_id"].is_number_unsigned(), "thread_id",
                   line);
        FUZZ_CHECK(j.contains("pid") && j["pid"].is_number_integer(), "pid", line);
        FUZZ_CHECK(j["timestamp"].get<std::string>().size() >= 26, "timestamp", line);
        if (fuzz::valid_utf8(r.message)) {
            FUZZ_CHECK(j["message"] == r.message, "message changed", line);
        }
        if (fuzz::valid_utf8(r.logger_name)) {
            FUZZ_CHECK(j["logger"] == r.logger_name, "logger changed", line);
        }
        json expected = r.fields.is_object() ? r.fields : json::object();
        const bool had_exception = expected.erase("exception") > 0;
        FUZZ_CHECK(j.contains("exception") == had_exception, "exception presence", line);
        FUZZ_CHECK(!had_exception || j["exception"].is_string(), "exception type", line);
        FUZZ_CHECK(j.contains("fields") == !expected.empty(), "fields presence", line);
        const std::string want = fuzz::strict_dump(expected);
        if (!expected.empty() && !want.empty()) {
            FUZZ_CHECK(j["fields"].dump() == json::parse(want).dump(), "fields changed", line);
        }
        if (r.has_source()) {
            FUZZ_CHECK(j.contains("source") && j["source"].is_object(), "source", line);
        }
    }
    FUZZ_CHECK(start == out.size(), "more lines than records", out);
    return 0;
}
