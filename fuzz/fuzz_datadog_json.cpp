// Datadog Logs v2 JSON (datadog_http_sink): the body parses strictly as an array with one object
// per record, each with the intake's keys and types and within its 1 MB per log; messages and
// attributes survive when they were valid.
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "sinks/datadog/datadog_encoder.h"

namespace {

bool reserved(const std::string& key) {
    for (const char* r : {"message", "status", "service", "ddsource", "hostname", "ddtags",
                          "timestamp", "logger", "error", "fields"}) {
        if (key == r) {
            return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using nlohmann::json;
    FuzzedDataProvider p(data, size);
    spdlog_ext::datadog_config cfg;
    cfg.service = fuzz::hostile_string(p, 32);
    cfg.source = fuzz::hostile_string(p, 16);
    cfg.hostname = fuzz::hostile_string(p, 32);
    cfg.env = fuzz::hostile_string(p, 16);
    cfg.version = fuzz::hostile_string(p, 16);
    cfg.tags = fuzz::hostile_string(p, 64);
    auto batch = fuzz::make_batch(p, 6);
    // The maximum, not 0: an exhausted provider answers 0 and would pick this every time.
    if (p.ConsumeIntegralInRange<int>(0, 63) == 63) {
        // Over the 1 MB item limit, through escaping (\u0001 is 6 bytes) or sheer size.
        batch[0].message = std::string(p.ConsumeIntegralInRange<std::size_t>(170000, 1100000),
                                       p.ConsumeBool() ? '\x01' : 'a');
    }
    const spdlog_ext::detail::datadog_encoder encoder(cfg);
    std::string body;
    encoder.encode(spdlog_ext::record_span(batch.data(), batch.size()), body);

    FUZZ_CHECK(fuzz::valid_utf8(body), "body is not valid UTF-8", body);
    json items;
    try {
        items = json::parse(body);
    } catch (const json::exception& e) {
        fuzz::fail(std::string("body is not JSON: ") + e.what(), body);
    }
    FUZZ_CHECK(items.is_array() && items.size() == batch.size(), "one item per record", body);
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& r = batch[i];
        const json& item = items[i];
        // nlohmann's dump is canonical (sorted keys): the parsed item dumps back to the encoder's
        // text.
        const std::string text = item.dump();
        FUZZ_CHECK(text.size() <= spdlog_ext::detail::datadog_max_item_bytes,
                   "item over 1 MB: " + std::to_string(text.size()), text.substr(0, 500));
        FUZZ_CHECK(item.is_object(), "item is not an object", text);
        FUZZ_CHECK(item.contains("message") && item["message"].is_string(), "message", text);
        FUZZ_CHECK(item.contains("status") && item["status"].is_string(), "status", text);
        const std::string status = item["status"];
        FUZZ_CHECK(status == "debug" || status == "info" || status == "warning" ||
                       status == "error" || status == "critical",
                   "status value", text);
        FUZZ_CHECK(item.contains("ddsource") && item["ddsource"].is_string(), "ddsource", text);
        FUZZ_CHECK(item.contains("hostname") && item["hostname"].is_string(), "hostname", text);
        FUZZ_CHECK(!item.contains("service") || item["service"].is_string(), "service", text);
        FUZZ_CHECK(!item.contains("ddtags") || item["ddtags"].is_string(), "ddtags", text);
        FUZZ_CHECK(item.contains("timestamp") && item["timestamp"].is_number_integer(), "timestamp",
                   text);
        FUZZ_CHECK(item.contains("logger") && item["logger"].is_object() &&
                       item["logger"].contains("name") && item["logger"]["name"].is_string(),
                   "logger.name", text);
        if (item.contains("error")) {
            const json& e = item["error"];
            FUZZ_CHECK(e.is_object() && e.contains("kind") && e.contains("message") &&
                           e.contains("stack") && e["message"].is_string() &&
                           e["stack"].is_string(),
                       "error object", text);
        }
        if (item.contains("spdlog_ext_truncated")) {
            continue;  // attributes dropped on purpose
        }
        const std::string& m = r.message;
        if (fuzz::valid_utf8(m) && m.size() < 100000) {
            FUZZ_CHECK(item["message"] == m, "message changed", text);
        }
        if (!r.fields.is_object()) {
            continue;
        }
        for (const auto& [key, value] : r.fields.items()) {
            const std::string expected = fuzz::strict_dump(value);
            // A key that is not valid UTF-8 is repaired by the encoder: not comparable as is.
            if (key == "exception" || expected.empty() || !fuzz::valid_utf8(key)) {
                continue;
            }
            const json* got = nullptr;
            if (reserved(key)) {
                FUZZ_CHECK(item.contains("fields") && item["fields"].is_object() &&
                               item["fields"].contains(key),
                           "reserved attribute " + key + " not under fields", text);
                got = &item["fields"][key];
            } else {
                FUZZ_CHECK(item.contains(key), "attribute " + key + " lost", text);
                got = &item[key];
            }
            FUZZ_CHECK(got->dump() == json::parse(expected).dump(), "attribute " + key + " changed",
                       text);
        }
    }
    return 0;
}
