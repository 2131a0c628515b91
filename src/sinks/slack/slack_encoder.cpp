#include "sinks/slack/slack_encoder.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "core/levels.h"
#include "core/text.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"

namespace spdlog_ext::detail {

namespace {
using json = nlohmann::json;

constexpr std::string_view truncation_marker = "…[truncated by spdlog_ext]";
constexpr std::string_view fence = "```";

// Cuts escaped text to `max_chars` code points, marker included, never inside an entity.
std::string fit(std::string text, std::size_t max_chars) {
    if (utf8_chars(text) <= max_chars) {
        return text;
    }
    const std::size_t keep = max_chars - utf8_chars(truncation_marker);
    std::size_t pos = 0;
    for (std::size_t chars = 0; pos < text.size() && chars < keep; ++chars) {
        const auto c = static_cast<unsigned char>(text[pos]);
        pos += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    }
    pos = std::min(pos, text.size());
    // "&amp;" is at most 5 bytes: a '&' within the last 4 bytes without its ';' is cut whole.
    const std::size_t amp = text.rfind('&', pos == 0 ? 0 : pos - 1);
    if (amp != std::string::npos && pos - amp < 5 && text.find(';', amp) >= pos) {
        pos = amp;
    }
    text.resize(pos);
    text += truncation_marker;
    return text;
}

// A message that would lose its layout in mrkdwn (several lines, JSON, backticks) is fenced.
bool code_like(std::string_view text) {
    return text.find('\n') != std::string_view::npos || text.find('`') != std::string_view::npos ||
           (!text.empty() && (text.front() == '{' || text.front() == '['));
}

// Escaped text in a code block: a zero-width space between backticks keeps the text from
// closing the fence.
std::string fenced(std::string escaped, std::size_t max_chars) {
    std::string body;
    body.reserve(escaped.size());
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        body += escaped[i];
        if (escaped[i] == '`' && i + 1 < escaped.size() && escaped[i + 1] == '`') {
            body += "\u200b";
        }
    }
    const std::size_t frame = 2 * fence.size() + 2;
    return std::string(fence) + "\n" + fit(std::move(body), max_chars - frame) + "\n" +
           std::string(fence);
}

json mrkdwn(std::string text) {
    // verbatim: no automatic linking of URLs, channel names or mentions in logged text.
    return json{{"type", "mrkdwn"}, {"text", std::move(text)}, {"verbatim", true}};
}

json section(std::string text, const char* block_id = nullptr) {
    json block{{"type", "section"}, {"text", mrkdwn(std::move(text))}};
    if (block_id != nullptr) {
        block["block_id"] = block_id;
    }
    return block;
}

const char* level_icon(spdlog::level::level_enum level) {
    return level >= spdlog::level::critical ? "🚨"
           : level >= spdlog::level::err    ? "🔴"
           : level >= spdlog::level::warn   ? "🟠"
                                            : "🔵";
}

// "12 errors", "3 critical", "1 warning".
std::string level_count(spdlog::level::level_enum level, std::size_t n) {
    static const std::array<std::pair<const char*, const char*>, 7> names = {{
        {"trace", "trace"},
        {"debug", "debug"},
        {"info", "info"},
        {"warning", "warnings"},
        {"error", "errors"},
        {"critical", "critical"},
        {"off", "off"},
    }};
    const auto& [one, many] = names[static_cast<std::size_t>(level) % names.size()];
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string counts_by_level(const std::array<std::size_t, 7>& counts) {
    std::string out;
    for (int level = 6; level >= 0; --level) {
        if (counts[static_cast<std::size_t>(level)] > 0) {
            out += (out.empty() ? "" : ", ") +
                   level_count(static_cast<spdlog::level::level_enum>(level),
                               counts[static_cast<std::size_t>(level)]);
        }
    }
    return out;
}

// Header text is plain_text: no entities there, so the three characters become look-alikes.
std::string header_safe(std::string_view text) {
    std::string out;
    for (char c : utf8::sanitize(text)) {
        if (c == '&') {
            out += "+";
        } else if (c == '<') {
            out += "‹";
        } else if (c == '>') {
            out += "›";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string utc_time(spdlog::log_clock::time_point time) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%03d UTC", static_cast<int>(((ms % 1000) + 1000) % 1000));
    return std::string(buf, n) + frac;
}

struct group {
    const record* first;
    std::size_t count;
};

std::string group_key(const record& r) {
    std::string key;
    key.reserve(r.logger_name.size() + r.message.size() + 2);
    key += static_cast<char>(r.level);
    key += r.logger_name;
    key += '\0';
    key += r.message;
    return key;
}

// The blocks of one shown record; its message section has block_id "record-<n>" (n from 1), so
// a reader can find the counts without parsing prose.
// `mixed_levels`/`mixed_loggers`: the message holds several, so each record names its own.
void add_record_blocks(json& blocks, const group& g, std::size_t n, bool mixed_levels,
                       bool mixed_loggers, const slack_message_options& o) {
    const record& r = *g.first;
    std::string prefix;
    if (g.count > 1) {
        prefix = "*×" + std::to_string(g.count) + "* ";  // identical records, counted
    }
    if (mixed_levels) {
        prefix += "*" + std::string(level_upper(r.level)) + "* ";
    }
    if (mixed_loggers) {
        prefix += fit(slack_escape(r.logger_name), 100) + ": ";
    }
    std::string message = r.message;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
        message.pop_back();
    }
    const std::size_t budget = slack_max_section_chars - utf8_chars(prefix);
    std::string text;
    if (message.empty()) {
        text = "_(empty message)_";
    } else if (code_like(message)) {
        text = "\n" + fenced(slack_escape(message), budget - 1);
    } else {
        text = fit(slack_escape(message), budget);
    }
    blocks.push_back(section(prefix + text, ("record-" + std::to_string(n)).c_str()));

    const std::string exception = r.exception();
    if (!exception.empty()) {
        blocks.push_back(section(fenced(slack_escape(exception), slack_max_section_chars)));
    }

    json context = json::array();
    const auto add_context = [&](std::string text) {
        if (context.size() < slack_max_context_elements) {
            context.push_back(mrkdwn(fit(std::move(text), 300)));
        }
    };
    add_context("*host* " + slack_escape(o.hostname));
    if (!o.service.empty()) {
        add_context("*service* " + slack_escape(o.service));
    }
    if (!mixed_loggers) {
        add_context("*logger* " + slack_escape(r.logger_name));
    }
    if (r.has_source()) {
        std::string where = base_name(r.source_file) + ":" + std::to_string(r.source_line);
        if (!r.source_function.empty()) {
            where += " in " + r.source_function;
        }
        add_context("*source* " + slack_escape(where));
    }
    if (!r.thread_name.empty()) {
        add_context("*thread* " + slack_escape(r.thread_name));
    }
    add_context("*time* " + utc_time(r.time) + (g.count > 1 ? " (first)" : ""));
    blocks.push_back(json{{"type", "context"}, {"elements", std::move(context)}});

    if (!r.fields.is_object()) {
        return;
    }
    std::vector<std::pair<std::string, const json*>> fields;
    for (const auto& [key, value] : r.fields.items()) {
        if (key != exception_field) {
            fields.emplace_back(key, &value);
        }
    }
    if (fields.empty()) {
        return;
    }
    json out = json::array();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i + 1 == slack_max_fields && fields.size() > slack_max_fields) {
            out.push_back(mrkdwn("_and " + std::to_string(fields.size() - i) + " more fields_"));
            break;
        }
        const json& value = *fields[i].second;
        const std::string shown = value.is_string()
                                      ? value.get<std::string>()
                                      : value.dump(-1, ' ', false, json::error_handler_t::replace);
        const std::string key = "*" + fit(slack_escape(fields[i].first), 200) + "*\n";
        out.push_back(
            mrkdwn(key + fit(slack_escape(shown), slack_max_field_chars - utf8_chars(key))));
    }
    blocks.push_back(json{{"type", "section"}, {"fields", std::move(out)}});
}
}  // namespace

std::size_t utf8_chars(std::string_view text) noexcept {
    std::size_t n = 0;
    for (char c : text) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

std::string slack_escape(std::string_view text) {
    const std::string valid = utf8::sanitize(text);
    std::string out;
    out.reserve(valid.size() + valid.size() / 8);
    for (char c : valid) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '\n':
            case '\t':
                out += c;
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    out += "\uFFFD";
                } else {
                    out += c;
                }
        }
    }
    return out;
}

std::string slack_message(record_span batch, const slack_message_options& o) {
    const std::size_t max_groups = std::clamp<std::size_t>(o.max_detailed, 1, slack_max_detailed);
    std::vector<group> groups;
    std::unordered_map<std::string, std::size_t> index;  // key → position in groups
    std::array<std::size_t, 7> rest{};                   // records beyond the shown groups
    std::size_t rest_total = 0;
    auto top = spdlog::level::trace;
    for (const record& r : batch) {
        top = std::max(top, r.level);
        std::string key = group_key(r);
        if (auto it = index.find(key); it != index.end()) {
            ++groups[it->second].count;
        } else if (groups.size() < max_groups) {
            index.emplace(std::move(key), groups.size());
            groups.push_back(group{&r, 1});
        } else {
            ++rest[static_cast<std::size_t>(r.level) % rest.size()];
            ++rest_total;
        }
    }
    bool same_level = true;
    bool same_logger = true;
    for (const record& r : batch) {
        same_level = same_level && r.level == batch[0].level;
        same_logger = same_logger && r.logger_name == batch[0].logger_name;
    }
    const bool mention = !o.mention.empty() && top >= spdlog::level::critical;

    json blocks = json::array();
    std::string header = std::string(level_icon(top)) + " " + level_upper(top);
    if (batch.size() > 1) {
        std::array<std::size_t, 7> all{};
        for (const record& r : batch) {
            ++all[static_cast<std::size_t>(r.level) % all.size()];
        }
        header = std::string(level_icon(top)) + " " + counts_by_level(all);
    }
    header +=
        " · " + (same_logger ? header_safe(batch[0].logger_name) : std::string("several loggers"));
    if (!o.hostname.empty()) {
        header += " on " + header_safe(o.hostname);
    }
    blocks.push_back(json{{"type", "header"},
                          {"text",
                           {{"type", "plain_text"},
                            {"text", fit(header, slack_max_header_chars)},
                            {"emoji", true}}}});
    if (mention) {
        blocks.push_back(section(o.mention + " critical error"));
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        if (i > 0) {
            blocks.push_back(json{{"type", "divider"}});
        }
        add_record_blocks(blocks, groups[i], i + 1, !same_level, !same_logger, o);
    }
    if (rest_total > 0) {
        blocks.push_back(json{{"type", "divider"}});
        blocks.push_back(
            section("_and " + std::to_string(rest_total) + " more: " + counts_by_level(rest) + "_",
                    "more"));
    }

    // The notification text: the first record, shortened, and how many follow.
    const record& first = *groups.front().first;
    std::string text = mention ? o.mention + " " : std::string();
    text += std::string(level_upper(first.level)) + " " +
            fit(slack_escape(first.logger_name), 100) + ": " +
            fit(slack_escape(first.message), 500);
    if (batch.size() > 1) {
        text += " (+" + std::to_string(batch.size() - 1) + " more)";
    }
    json payload{{"text", fit(std::move(text), slack_max_text_chars)},
                 {"blocks", std::move(blocks)}};
    return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string slack_plain_message(record_span batch, const slack_message_options& o) {
    // One line per record (message cut to 500 characters) while the text has room: no layout
    // that Slack's block validation could refuse.
    auto top = spdlog::level::trace;
    for (const record& r : batch) {
        top = std::max(top, r.level);
    }
    std::string text;
    if (!o.mention.empty() && top >= spdlog::level::critical) {
        text = o.mention + " ";
    }
    text += std::string(level_upper(top));
    if (!o.service.empty()) {
        text += " · " + fit(slack_escape(o.service), 100);
    }
    if (!o.hostname.empty()) {
        text += " on " + fit(slack_escape(o.hostname), 100);
    }
    std::size_t shown = 0;
    for (const record& r : batch) {
        std::string line = "\n" + std::string(level_upper(r.level)) + " " +
                           fit(slack_escape(r.logger_name), 100) + ": " +
                           fit(slack_escape(r.message), 500);
        if (utf8_chars(text) + utf8_chars(line) + 40 > slack_max_text_chars) {
            break;
        }
        text += line;
        ++shown;
    }
    if (shown < batch.size()) {
        text += "\n_and " + std::to_string(batch.size() - shown) + " more_";
    }
    json payload{{"text", fit(std::move(text), slack_max_text_chars)}};
    return payload.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace spdlog_ext::detail
