#include "store/postgres/store_cursor.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "store/postgres/store_sql.h"

namespace spdlog_ext::detail::store {

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view page_prefix = "p1.";
constexpr std::size_t max_cursor_size = 512;

int sextet(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

[[noreturn]] void malformed(const std::string& reason) {
    throw store_error(store_error::kind::bad_cursor, "malformed cursor: " + reason);
}

std::vector<std::string> sorted_clean(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& s : items)
        out.push_back(clean_text(s));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

const char* order_name(log_order order) {
    return order == log_order::time ? "time" : "id";
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                           static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
        out += alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
    } else if (rest == 2) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16 |
                           static_cast<unsigned char>(bytes[i + 1]) << 8;
        out += alphabet[v >> 18 & 63];
        out += alphabet[v >> 12 & 63];
        out += alphabet[v >> 6 & 63];
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = sextet(c);
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6 | static_cast<unsigned>(v)) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xFF);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0)
        return std::nullopt;  // non-canonical trailing bits
    return out;
}

nlohmann::json canonical_filter(const log_filter& filter) {
    nlohmann::json j = nlohmann::json::object();
    if (filter.since)
        j["since"] = format_timestamp(*filter.since);
    if (filter.until)
        j["until"] = format_timestamp(*filter.until);
    if (!filter.levels.empty() || filter.min_level) {
        const auto levels = effective_levels(filter);
        if (levels.size() < 6) {
            nlohmann::json names = nlohmann::json::array();
            for (const auto level : levels)
                names.push_back(level_name(level));
            j["levels"] = names;
        }
    }
    if (!filter.loggers.empty())
        j["loggers"] = sorted_clean(filter.loggers);
    if (!filter.hosts.empty())
        j["hosts"] = sorted_clean(filter.hosts);
    if (!filter.search.empty())
        j["search"] = clean_text(filter.search);
    std::vector<std::string> fields;
    for (const auto& f : filter.fields) {
        if (f.is_object() && f.empty())
            continue;
        fields.push_back(
            clean_json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (!fields.empty())
        j["fields"] = sorted_clean(fields);
    if (filter.has_exception)
        j["has_exception"] = *filter.has_exception;
    return j;
}

std::string filter_fingerprint(const log_filter& filter) {
    const std::string text =
        canonical_filter(filter).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::uint64_t hash = 14695981039346656037ull;
    for (const unsigned char c : text)
        hash = (hash ^ c) * 1099511628211ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return hex;
}

std::string encode_page_cursor(const page_cursor& cursor) {
    nlohmann::json j = {{"o", order_name(cursor.order)}, {"id", cursor.id}, {"f", cursor.filter}};
    if (cursor.order == log_order::time)
        j["ts"] = format_timestamp(cursor.timestamp);
    return std::string(page_prefix) + base64url_encode(j.dump());
}

page_cursor decode_page_cursor(std::string_view text, log_order expected_order,
                               const std::string& expected_filter) {
    if (text.size() > max_cursor_size)
        malformed("longer than 512 characters");
    if (text.substr(0, page_prefix.size()) != page_prefix)
        malformed("it does not start with \"p1.\"");
    const auto bytes = base64url_decode(text.substr(page_prefix.size()));
    if (!bytes)
        malformed("not base64url after \"p1.\"");
    nlohmann::json j = nlohmann::json::parse(*bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        malformed("not a JSON object inside");
    const auto o = j.find("o");
    if (o == j.end() || !o->is_string() || (*o != "id" && *o != "time")) {
        malformed("no order (\"o\": \"id\" or \"time\")");
    }
    page_cursor c;
    c.order = *o == "time" ? log_order::time : log_order::id;
    const std::size_t keys = c.order == log_order::time ? 4 : 3;
    const auto id = j.find("id");
    if (id == j.end() || !(id->is_number_integer() || id->is_number_unsigned())) {
        malformed("no integer \"id\"");
    }
    if (id->is_number_unsigned() &&
        id->get<std::uint64_t>() > std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
        malformed("\"id\" out of range");
    }
    c.id = id->get<std::int64_t>();
    if (c.id < 1)
        malformed("\"id\" out of range");
    const auto f = j.find("f");
    if (f == j.end() || !f->is_string())
        malformed("no filter fingerprint (\"f\")");
    c.filter = f->get<std::string>();
    if (c.order == log_order::time) {
        const auto ts = j.find("ts");
        if (ts == j.end() || !ts->is_string())
            malformed("no timestamp (\"ts\")");
        const auto t = parse_timestamp(ts->get<std::string>());
        if (!t)
            malformed("\"ts\" is not YYYY-MM-DDTHH:MM:SS.uuuuuuZ");
        c.timestamp = *t;
    }
    if (j.size() != keys)
        malformed("unexpected keys");
    if (c.order != expected_order) {
        throw store_error(store_error::kind::bad_cursor, std::string("cursor was made for order ") +
                                                             order_name(c.order) + ", not " +
                                                             order_name(expected_order));
    }
    if (c.filter != expected_filter) {
        throw store_error(store_error::kind::bad_cursor,
                          "cursor was made for different filters: start again from the first page");
    }
    return c;
}

}  // namespace spdlog_ext::detail::store
