#include "store/postgres/store_tail_cursor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "spdlog_ext/postgres_log_store.h"

namespace spdlog_ext::detail::store {

namespace {

constexpr char prefix[] = "t1.";
constexpr std::size_t prefix_size = sizeof prefix - 1;
// 10 000 pending xids of up to 20 digits, base64: well under this.
constexpr std::size_t max_cursor_size = 300000;

const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

[[noreturn]] void bad(const std::string& why) {
    throw store_error(store_error::kind::bad_cursor, "malformed tail cursor: " + why);
}

std::int64_t int_member(const nlohmann::json& object, const char* key, std::int64_t min) {
    const auto it = object.find(key);
    if (it == object.end())
        bad(std::string("no \"") + key + "\"");
    if (!it->is_number_integer())
        bad(std::string("\"") + key + "\" is not an integer");
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        bad(std::string("\"") + key + "\" is out of range");
    }
    const auto v = it->get<std::int64_t>();
    if (v < min)
        bad(std::string("\"") + key + "\" is out of range");
    return v;
}

}  // namespace

std::string base64url_encode(const std::string& bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                           static_cast<unsigned char>(bytes[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (i + 1 == bytes.size()) {
        const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (i + 2 == bytes.size()) {
        const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                           (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

bool base64url_decode(const std::string& text, std::string& bytes) {
    if (text.size() % 4 == 1)
        return false;
    bytes.clear();
    unsigned acc = 0;
    int bits = 0;
    for (char c : text) {
        const char* at = c == '\0' ? nullptr : std::strchr(alphabet, c);
        if (at == nullptr)
            return false;
        acc = (acc << 6) | static_cast<unsigned>(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // The leftover bits must be zero (else two texts would decode the same).
    return (acc & ((1u << bits) - 1)) == 0;
}

std::string encode_tail_cursor(const tail_state& state) {
    const nlohmann::json j{{"sys", state.system_id}, {"st", state.started_us}, {"x", state.x},
                           {"p", state.pending},     {"d", state.delivered},   {"f", state.filter}};
    return prefix + base64url_encode(j.dump());
}

tail_state decode_tail_cursor(const std::string& cursor) {
    if (cursor.compare(0, prefix_size, prefix) != 0)
        bad("it does not start with \"t1.\"");
    if (cursor.size() > max_cursor_size)
        bad("too long");
    std::string text;
    if (!base64url_decode(cursor.substr(prefix_size), text))
        bad("not base64url");
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object())
        bad("not a JSON object");
    if (j.size() != 6)
        bad("unexpected keys");
    tail_state s;
    s.system_id = int_member(j, "sys", std::numeric_limits<std::int64_t>::min());
    s.started_us = int_member(j, "st", 0);
    s.x = int_member(j, "x", 1);
    s.delivered = int_member(j, "d", 0);
    if (s.delivered >= s.x)
        bad("\"d\" is not below \"x\"");
    const auto f = j.find("f");
    if (f == j.end() || !f->is_string() || f->get_ref<const std::string&>().size() > 64) {
        bad("\"f\" is not a filter fingerprint");
    }
    s.filter = f->get<std::string>();
    const auto p = j.find("p");
    if (p == j.end() || !p->is_array())
        bad("\"p\" is not an array");
    if (p->size() > max_tail_pending)
        bad("\"p\" has too many entries");
    for (const auto& v : *p) {
        if (!v.is_number_integer())
            bad("\"p\" holds a non-integer");
        if (v.is_number_unsigned() &&
            v.get<std::uint64_t>() >
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            bad("\"p\" entry out of range");
        }
        const auto xid = v.get<std::int64_t>();
        if (xid < 1 || xid >= s.x)
            bad("\"p\" entry not in [1, x)");
        if (!s.pending.empty() && xid <= s.pending.back())
            bad("\"p\" is not sorted and unique");
        s.pending.push_back(xid);
    }
    return s;
}

tail_state advance_tail(const tail_state& state, std::int64_t cut,
                        const std::vector<std::int64_t>& snap_xip, std::int64_t last_delivered) {
    tail_state next = state;
    next.x = std::max(state.x, cut + 1);
    next.pending.clear();
    const auto running = [&](std::int64_t xid) {
        return std::find(snap_xip.begin(), snap_xip.end(), xid) != snap_xip.end();
    };
    for (const auto p : state.pending) {
        if (p > cut || running(p))
            next.pending.push_back(p);
    }
    for (const auto q : snap_xip) {
        if (q >= state.x && q <= cut)
            next.pending.push_back(q);
    }
    std::sort(next.pending.begin(), next.pending.end());
    next.pending.erase(std::unique(next.pending.begin(), next.pending.end()), next.pending.end());
    next.delivered = std::max(state.delivered, last_delivered);
    return next;
}

tail_state after_server_restart(const tail_state& state, std::int64_t new_started_us) {
    tail_state next = state;
    next.started_us = new_started_us;
    next.x = std::min(state.x, state.delivered + 1);
    next.pending.erase(std::remove_if(next.pending.begin(), next.pending.end(),
                                      [&](std::int64_t p) { return p >= next.x; }),
                       next.pending.end());
    return next;
}

}  // namespace spdlog_ext::detail::store
