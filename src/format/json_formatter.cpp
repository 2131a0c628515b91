#include "spdlog_ext/json_formatter.h"

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/details/os.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/civil_time.h"
#include "core/limits.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext {

namespace {

// ---- time -------------------------------------------------------------------------------------

using spdlog_ext::detail::days_from_civil;

struct civil_time {
    std::int64_t year;
    unsigned month, day, hour, minute, second;
};

constexpr civil_time civil_from_seconds(std::int64_t secs) noexcept {
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    const detail::civil_date date = detail::civil_from_days(days);
    const auto r = static_cast<unsigned>(rem);
    return civil_time{date.year, date.month, date.day, r / 3600, r % 3600 / 60, r % 60};
}

// Local civil time at `secs` and its offset from UTC in seconds; false when the C library
// cannot represent it.
bool local_civil(std::int64_t secs, civil_time& out, std::int64_t& offset) noexcept {
    if (secs < static_cast<std::int64_t>(std::numeric_limits<std::time_t>::min()) ||
        secs > static_cast<std::int64_t>(std::numeric_limits<std::time_t>::max())) {
        return false;
    }
    const auto tt = static_cast<std::time_t>(secs);
    std::tm tm{};
#ifdef _WIN32
    if (localtime_s(&tm, &tt) != 0) {
        return false;
    }
#else
    if (localtime_r(&tt, &tm) == nullptr) {
        return false;
    }
#endif
    out.year = static_cast<std::int64_t>(tm.tm_year) + 1900;
    out.month = static_cast<unsigned>(tm.tm_mon + 1);
    out.day = static_cast<unsigned>(tm.tm_mday);
    out.hour = static_cast<unsigned>(tm.tm_hour);
    out.minute = static_cast<unsigned>(tm.tm_min);
    out.second = static_cast<unsigned>(tm.tm_sec > 59 ? 59 : tm.tm_sec);  // no leap seconds
    const std::int64_t local_secs = days_from_civil(out.year, out.month, out.day) * 86400 +
                                    out.hour * 3600 + out.minute * 60 + out.second;
    offset = local_secs - secs;
    return true;
}

inline char* put2(char* p, unsigned v) noexcept {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
    return p + 2;
}

// Writes "YYYY-MM-DDTHH:MM:SS" into `buf` (>= 32 bytes); returns its length.
std::size_t put_datetime(char* buf, const civil_time& t) noexcept {
    char* p = buf;
    if (t.year >= 0 && t.year <= 9999) {
        const auto y = static_cast<unsigned>(t.year);
        p = put2(p, y / 100);
        p = put2(p, y % 100);
    } else {  // outside RFC 3339's range: still print something readable
        p = std::to_chars(p, buf + 20, t.year).ptr;
    }
    *p++ = '-';
    p = put2(p, t.month);
    *p++ = '-';
    p = put2(p, t.day);
    *p++ = 'T';
    p = put2(p, t.hour);
    *p++ = ':';
    p = put2(p, t.minute);
    *p++ = ':';
    p = put2(p, t.second);
    return static_cast<std::size_t>(p - buf);
}

// Writes "+hh:mm" (6 bytes) into `buf`. RFC 3339 offsets have no seconds: they are dropped.
void put_offset(char* buf, std::int64_t offset_secs) noexcept {
    buf[0] = offset_secs < 0 ? '-' : '+';
    const auto abs_minutes =
        static_cast<unsigned>((offset_secs < 0 ? -offset_secs : offset_secs) / 60);
    put2(buf + 1, abs_minutes / 60 % 100);
    buf[3] = ':';
    put2(buf + 4, abs_minutes % 60);
}

// Splits a time point into whole seconds (floor) and microseconds [0, 1e6).
void split_time(spdlog::log_clock::time_point time, std::int64_t& secs, unsigned& micros) noexcept {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
    secs = us / 1000000;
    std::int64_t rem = us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        --secs;
    }
    micros = static_cast<unsigned>(rem);
}

// Datetime and offset of second `secs` in `zone`.
void second_parts(std::int64_t secs, json_time_zone zone, char* datetime, std::size_t& size,
                  char* offset) noexcept {
    civil_time t{};
    std::int64_t off = 0;
    if (zone != json_time_zone::local || !local_civil(secs, t, off)) {
        t = civil_from_seconds(secs);
        off = 0;
    }
    size = put_datetime(datetime, t);
    put_offset(offset, off);
}

// Writes ".uuuuuu" (7 bytes).
void put_micros(char* p, unsigned micros) noexcept {
    p[0] = '.';
    for (int i = 6; i >= 1; --i) {
        p[i] = static_cast<char>('0' + micros % 10);
        micros /= 10;
    }
}

// ---- JSON writing -----------------------------------------------------------------------------

inline void append(spdlog::memory_buf_t& dest, std::string_view s) {
    dest.append(s.data(), s.data() + s.size());
}

inline void append(spdlog::memory_buf_t& dest, const char* literal) {
    append(dest, std::string_view(literal));
}

template <typename Int>
void append_int(spdlog::memory_buf_t& dest, Int value) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, value);
    dest.append(buf, res.ptr);
}

// `s` (valid UTF-8) as a JSON string.
void append_quoted_valid(spdlog::memory_buf_t& dest, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    dest.push_back('"');
    const char* run = s.data();
    const char* const end = s.data() + s.size();
    for (const char* p = run; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        dest.append(run, p);
        run = p + 1;
        switch (c) {
            case '"':
                append(dest, "\\\"");
                break;
            case '\\':
                append(dest, "\\\\");
                break;
            case '\b':
                append(dest, "\\b");
                break;
            case '\f':
                append(dest, "\\f");
                break;
            case '\n':
                append(dest, "\\n");
                break;
            case '\r':
                append(dest, "\\r");
                break;
            case '\t':
                append(dest, "\\t");
                break;
            default: {
                const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                dest.append(esc, esc + 6);
                break;
            }
        }
    }
    dest.append(run, end);
    dest.push_back('"');
}

// Any bytes as a JSON string: invalid UTF-8 becomes U+FFFD.
void append_quoted(spdlog::memory_buf_t& dest, std::string_view s) {
    if (utf8::is_valid(s)) {
        append_quoted_valid(dest, s);
    } else {
        append_quoted_valid(dest, utf8::sanitize(s));
    }
}

// `depth`: of `j` (the fields object is 1). Fields are capped at capture (core/limits.h); a
// deeper tree from elsewhere is written as the marker rather than recursed into without bound.
void append_json(spdlog::memory_buf_t& dest, const nlohmann::json& j, std::size_t depth = 1) {
    using value_t = nlohmann::json::value_t;
    if (j.is_structured() && depth > detail::max_field_depth) {
        append_quoted(dest, std::string(detail::depth_marker));
        return;
    }
    switch (j.type()) {
        case value_t::null:
        case value_t::discarded:
            append(dest, "null");
            break;
        case value_t::boolean:
            append(dest, j.get<bool>() ? "true" : "false");
            break;
        case value_t::number_integer:
            append_int(dest, j.get<std::int64_t>());
            break;
        case value_t::number_unsigned:
            append_int(dest, j.get<std::uint64_t>());
            break;
        case value_t::string:
            append_quoted(dest, j.get_ref<const std::string&>());
            break;
        case value_t::object: {
            dest.push_back('{');
            bool first = true;
            for (const auto& [key, value] : j.items()) {
                if (!first) {
                    dest.push_back(',');
                }
                first = false;
                append_quoted(dest, key);
                dest.push_back(':');
                append_json(dest, value, depth + 1);
            }
            dest.push_back('}');
            break;
        }
        case value_t::array: {
            dest.push_back('[');
            bool first = true;
            for (const auto& value : j) {
                if (!first) {
                    dest.push_back(',');
                }
                first = false;
                append_json(dest, value, depth + 1);
            }
            dest.push_back(']');
            break;
        }
        default:  // floating point (non-finite becomes null), binary
            append(dest, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            break;
    }
}

inline std::string_view view(spdlog::string_view_t s) noexcept {
    return std::string_view(s.data(), s.size());
}

}  // namespace

json_formatter::json_formatter(json_time_zone zone, std::string eol)
    : zone_(zone), eol_(std::move(eol)), cached_second_(std::numeric_limits<std::int64_t>::min()) {}

void json_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
    std::int64_t secs = 0;
    unsigned micros = 0;
    split_time(msg.time, secs, micros);
    if (secs != cached_second_ || cached_datetime_size_ == 0) {
        second_parts(secs, zone_, cached_datetime_, cached_datetime_size_, cached_offset_);
        cached_second_ = secs;
    }

    append(dest, "{\"timestamp\":\"");
    dest.append(cached_datetime_, cached_datetime_ + cached_datetime_size_);
    char frac[7];
    put_micros(frac, micros);
    dest.append(frac, frac + 7);
    dest.append(cached_offset_, cached_offset_ + 6);

    append(dest, "\",\"level\":");
    append_quoted(dest, view(spdlog::level::to_string_view(msg.level)));
    append(dest, ",\"logger\":");
    append_quoted(dest, view(msg.logger_name));
    append(dest, ",\"message\":");
    append_quoted(dest, view(msg.payload));
    append(dest, ",\"thread_id\":");
    append_int(dest, static_cast<std::uint64_t>(msg.thread_id));
    if (msg.thread_id == spdlog::details::os::thread_id()) {
        const std::string& name = current_thread_name();
        if (!name.empty()) {
            append(dest, ",\"thread_name\":");
            append_quoted(dest, name);
        }
    }
    append(dest, ",\"pid\":");
    append_int(dest, process_id());
    append(dest, ",\"host\":");
    append_quoted(dest, host_name());

    if (!msg.source.empty()) {
        append(dest, ",\"source\":{\"file\":");
        append_quoted(dest, msg.source.filename != nullptr ? msg.source.filename : "");
        append(dest, ",\"line\":");
        append_int(dest, msg.source.line);
        append(dest, ",\"function\":");
        append_quoted(dest, msg.source.funcname != nullptr ? msg.source.funcname : "");
        dest.push_back('}');
    }

    nlohmann::json fields = fields_of(msg);
    if (fields.is_object() && !fields.empty()) {
        auto it = fields.find(exception_field);
        if (it != fields.end()) {
            append(dest, ",\"exception\":");
            if (it->is_string()) {
                append_quoted(dest, it->get_ref<const std::string&>());
            } else {
                append_quoted(dest,
                              it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            }
            fields.erase(it);
        }
        if (!fields.empty()) {
            append(dest, ",\"fields\":");
            append_json(dest, fields);
        }
    }

    dest.push_back('}');
    append(dest, eol_);
}

std::unique_ptr<spdlog::formatter> json_formatter::clone() const {
    return std::make_unique<json_formatter>(zone_, eol_);
}

std::string format_rfc3339(spdlog::log_clock::time_point time, json_time_zone zone) {
    std::int64_t secs = 0;
    unsigned micros = 0;
    split_time(time, secs, micros);
    char datetime[32];
    std::size_t size = 0;
    char offset[8];
    second_parts(secs, zone, datetime, size, offset);
    std::string out(datetime, size);
    char frac[7];
    put_micros(frac, micros);
    out.append(frac, 7);
    out.append(offset, 6);
    return out;
}

}  // namespace spdlog_ext
