#include "sinks/datadog/datadog_encoder.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/text.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

namespace {
constexpr std::size_t max_item_bytes = datadog_max_item_bytes;
constexpr std::size_t max_message_bytes = 900 * 1000;  // leaves room for the other attributes
constexpr std::string_view truncation_marker = "…[truncated by spdlog_ext]";

const char* status_of(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warning";
        case spdlog::level::err:
            return "error";
        default:
            return "critical";
    }
}

bool reserved(const std::string& key) {
    static const char* const names[] = {
        "message",   "status", "service", "ddsource", "hostname", "ddtags",
        "timestamp", "logger", "error",   "fields"};  // ours: a user's `fields` would replace it
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return key == n; });
}

std::string clean(const std::string& s) {
    return utf8::sanitize(s);
}

// "a:b, c:d e:f" → {"a:b", "c:d", "e:f"}: commas and white space separate tags.
std::vector<std::string> split_tags(const std::string& tags) {
    std::vector<std::string> out;
    for (const std::string_view tag : split_any(tags, ",\t\n\v\f\r ")) {
        if (!tag.empty()) {
            out.emplace_back(tag);
        }
    }
    return out;
}

}  // namespace

datadog_encoder::datadog_encoder(const datadog_config& cfg)
    : service_(cfg.service), source_(cfg.source) {
    std::string tags;
    const auto add = [&](const std::string& tag) { tags += (tags.empty() ? "" : ",") + tag; };
    if (!cfg.env.empty()) {
        add("env:" + cfg.env);
    }
    if (!cfg.version.empty()) {
        add("version:" + cfg.version);
    }
    for (const auto& t : split_tags(cfg.tags)) {
        add(t);
    }
    ddtags_ = clean(tags);
    hostname_ = clean(cfg.hostname.empty() ? host_name() : cfg.hostname);
}

void datadog_encoder::encode(record_span batch, std::string& body) const {
    body.clear();
    body += '[';
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (i > 0) {
            body += ',';
        }
        body += encode_item(batch[i]);
    }
    body += ']';
}

std::string datadog_encoder::encode_item(const record& r) const {
    nlohmann::json item = nlohmann::json::object();
    std::string message = clean(r.message);
    if (message.size() > max_message_bytes) {
        message = std::string(utf8::truncate(message, max_message_bytes)) +
                  std::string(truncation_marker);
    }
    item["message"] = std::move(message);
    item["status"] = status_of(r.level);
    if (!service_.empty()) {
        item["service"] = service_;
    }
    item["ddsource"] = source_;
    item["hostname"] = hostname_;
    if (!ddtags_.empty()) {
        item["ddtags"] = ddtags_;
    }
    item["timestamp"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count();
    nlohmann::json logger{{"name", clean(r.logger_name)}};
    if (!r.thread_name.empty()) {
        logger["thread_name"] = clean(r.thread_name);
    }
    if (r.has_source()) {
        logger["method_name"] = clean(r.source_function);
        logger["file_name"] = clean(detail::base_name(r.source_file));
        logger["line"] = r.source_line;
    }
    item["logger"] = std::move(logger);
    if (r.fields.is_object()) {
        for (const auto& [key, value] : r.fields.items()) {
            if (key == exception_field) {
                const std::string text = r.exception();
                item["error"] = {{"kind", "exception"},
                                 {"message", clean(text.substr(0, text.find('\n')))},
                                 {"stack", clean(text)}};
            } else if (reserved(key)) {
                item["fields"][key] = value;
            } else {
                item[key] = value;
            }
        }
    }
    std::string text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > max_item_bytes && item.contains("error")) {
        // A huge exception: keep its first line and the start of its stack, marked.
        std::string& stack = item["error"]["stack"].get_ref<std::string&>();
        stack = std::string(utf8::truncate(stack, 64 * 1024)) + std::string(truncation_marker);
        std::string& first = item["error"]["message"].get_ref<std::string&>();
        if (first.size() > 4096) {
            first = std::string(utf8::truncate(first, 4096)) + std::string(truncation_marker);
        }
        text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    // JSON escaping can grow a message up to six times (\u0001): cut it until the log fits.
    for (int round = 0; round < 4 && text.size() > max_item_bytes; ++round) {
        std::string& m = item["message"].get_ref<std::string&>();
        const double keep = 0.9 * double(max_item_bytes) / double(text.size());
        const std::size_t marker =
            m.size() >= truncation_marker.size() &&
                    m.compare(m.size() - truncation_marker.size(), truncation_marker.size(),
                              truncation_marker) == 0
                ? truncation_marker.size()
                : 0;
        m = std::string(utf8::truncate(std::string_view(m).substr(0, m.size() - marker),
                                       static_cast<std::size_t>(double(m.size()) * keep))) +
            std::string(truncation_marker);
        text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    if (text.size() > max_item_bytes) {
        // The structured attributes made it too big: keep the log, drop them visibly.
        for (auto it = item.begin(); it != item.end();) {
            const std::string key = it.key();
            it = (reserved(key) && key != "fields") ? std::next(it) : item.erase(it);
        }
        item["spdlog_ext_truncated"] = "attributes dropped: the log was over 1 MB";
        text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return text;
}

}  // namespace spdlog_ext::detail
