// Slack Block Kit (slack_error_sink): the payload parses strictly and keeps the limits the encoder
// promises (50 blocks, header 150 and section 3000 characters, 10 fields of 2000, 10 context
// elements), texts are non-empty valid UTF-8, block ids unique, and logged text can neither
// mention nor link (no raw '<' '>', '&' only in the three entities).
#include <cstdint>
#include <set>
#include <string>

#include "fuzz_common.h"
#include "sinks/slack/slack_encoder.h"

namespace {

using nlohmann::json;
namespace d = spdlog_ext::detail;

// Code points of valid UTF-8 (counted independently of the encoder's utf8_chars).
std::size_t chars(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) {
        n += (c & 0xC0) != 0x80;
    }
    return n;
}

// `text` with the configured mention removed holds no markup of its own.
void check_escaped(std::string text, const std::string& mention, const std::string& body) {
    if (!mention.empty()) {
        for (auto at = text.find(mention); at != std::string::npos; at = text.find(mention)) {
            text.erase(at, mention.size());
        }
    }
    FUZZ_CHECK(text.find_first_of("<>") == std::string::npos, "raw < or > in mrkdwn: " + text,
               body);
    for (auto at = text.find('&'); at != std::string::npos; at = text.find('&', at + 1)) {
        const std::string rest = text.substr(at, 5);
        FUZZ_CHECK(
            rest.rfind("&amp;", 0) == 0 || rest.rfind("&lt;", 0) == 0 || rest.rfind("&gt;", 0) == 0,
            "bare & in mrkdwn: " + text, body);
    }
}

const std::string& text_of(const json& j, const std::string& what, const std::string& body) {
    FUZZ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string(), what + ": no text",
               body);
    const std::string& t = j["text"].get_ref<const std::string&>();
    FUZZ_CHECK(!t.empty(), what + ": empty text", body);
    FUZZ_CHECK(fuzz::valid_utf8(t), what + ": invalid UTF-8", body);
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider p(data, size);
    d::slack_message_options o;
    static const std::vector<std::string> mentions = {"", "<!here>", "<!channel>", "<@U024BE7LH>"};
    o.mention = fuzz::pick(p, mentions);
    o.service = fuzz::hostile_string(p, 32);
    o.hostname = fuzz::hostile_string(p, 32);
    o.max_detailed = p.ConsumeIntegralInRange<std::size_t>(0, 12);
    auto batch = fuzz::make_batch(p, 24);
    if (p.ConsumeIntegralInRange<int>(0, 7) == 7) {
        batch[0].message = std::string(p.ConsumeIntegralInRange<std::size_t>(2900, 50000),
                                       p.PickValueInArray({'&', '`', 'a', '\n', '<'}));
    }
    // The plain-text form (sent when Slack refuses the blocks): valid, escaped, within limits.
    const std::string plain =
        d::slack_plain_message(spdlog_ext::record_span(batch.data(), batch.size()), o);
    FUZZ_CHECK(fuzz::valid_utf8(plain), "plain payload is not valid UTF-8", plain);
    json plain_msg;
    try {
        plain_msg = json::parse(plain);
    } catch (const json::exception& e) {
        fuzz::fail(std::string("plain payload is not JSON: ") + e.what(), plain);
    }
    FUZZ_CHECK(!plain_msg.contains("blocks"), "plain payload has blocks", plain);
    const std::string& plain_text = text_of(plain_msg, "plain text", plain);
    FUZZ_CHECK(!plain_text.empty() && chars(plain_text) <= d::slack_max_text_chars,
               "plain text empty or too long", plain);
    check_escaped(plain_text, o.mention, plain);

    const std::string body =
        d::slack_message(spdlog_ext::record_span(batch.data(), batch.size()), o);

    FUZZ_CHECK(fuzz::valid_utf8(body), "payload is not valid UTF-8", body);
    json msg;
    try {
        msg = json::parse(body);
    } catch (const json::exception& e) {
        fuzz::fail(std::string("payload is not JSON: ") + e.what(), body);
    }
    const std::string& fallback = text_of(msg, "top-level text", body);
    FUZZ_CHECK(chars(fallback) <= d::slack_max_text_chars, "top-level text too long", body);
    check_escaped(fallback, o.mention, body);
    FUZZ_CHECK(msg.contains("blocks") && msg["blocks"].is_array(), "no blocks", body);
    const json& blocks = msg["blocks"];
    FUZZ_CHECK(!blocks.empty() && blocks.size() <= d::slack_max_blocks, "block count", body);
    std::set<std::string> ids;
    for (const json& b : blocks) {
        FUZZ_CHECK(b.is_object() && b.contains("type") && b["type"].is_string(), "block type",
                   body);
        const std::string type = b["type"];
        if (b.contains("block_id")) {
            const std::string id = b["block_id"];
            FUZZ_CHECK(!id.empty() && id.size() <= 255 && ids.insert(id).second,
                       "block_id empty, long or repeated: " + id, body);
        }
        if (type == "header") {
            FUZZ_CHECK(b["text"].is_object() && b["text"]["type"] == "plain_text", "header type",
                       body);
            const std::string& t = text_of(b["text"], "header", body);
            FUZZ_CHECK(chars(t) <= d::slack_max_header_chars, "header too long", body);
            FUZZ_CHECK(t.find_first_of("<>&") == std::string::npos, "header markup", body);
        } else if (type == "section") {
            if (b.contains("text")) {
                const std::string& t = text_of(b["text"], "section", body);
                FUZZ_CHECK(chars(t) <= d::slack_max_section_chars,
                           "section text " + std::to_string(chars(t)) + " chars", body);
                check_escaped(t, o.mention, body);
            } else {
                FUZZ_CHECK(b.contains("fields") && b["fields"].is_array(), "section content", body);
                FUZZ_CHECK(!b["fields"].empty() && b["fields"].size() <= d::slack_max_fields,
                           "field count", body);
                for (const json& f : b["fields"]) {
                    const std::string& t = text_of(f, "field", body);
                    FUZZ_CHECK(chars(t) <= d::slack_max_field_chars, "field too long", body);
                    check_escaped(t, {}, body);
                }
            }
        } else if (type == "context") {
            FUZZ_CHECK(b.contains("elements") && b["elements"].is_array() &&
                           !b["elements"].empty() &&
                           b["elements"].size() <= d::slack_max_context_elements,
                       "context elements", body);
            for (const json& e : b["elements"]) {
                const std::string& t = text_of(e, "context", body);
                FUZZ_CHECK(chars(t) <= d::slack_max_section_chars, "context too long", body);
                check_escaped(t, {}, body);
            }
        } else {
            FUZZ_CHECK(type == "divider", "unknown block type " + type, body);
        }
    }
    return 0;
}
