#include "sinks/influx/line_protocol.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "core/levels.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/metrics.h"

namespace spdlog_ext::detail {

namespace {
using json = nlohmann::json;

constexpr std::string_view replacement = "\uFFFD";
constexpr std::string_view fullwidth_backslash = "\uFF3C";  // for a name's trailing '\'

// Bytes that need a look in names: controls, backslash, the separators, and non-ASCII (UTF-8
// validation). Everything else is copied as is.
struct name_table {
    bool attention[256] = {};
    constexpr name_table(bool escape_equals) {
        for (int c = 0; c < 0x20; ++c) {
            attention[c] = true;
        }
        for (int c = 0x7f; c < 256; ++c) {
            attention[c] = true;
        }
        attention[static_cast<unsigned char>(',')] = true;
        attention[static_cast<unsigned char>(' ')] = true;
        attention[static_cast<unsigned char>('\\')] = true;
        attention[static_cast<unsigned char>('=')] = escape_equals;
    }
};
constexpr name_table measurement_table(false);
constexpr name_table key_table(true);

// In tags and measurements a backslash is literal unless it escapes the next character, so
// only a trailing one is a problem; field keys are scanned differently by InfluxDB (a run of
// backslashes before a separator is paired up), so there any backslash before a separator goes.
void append_name(std::string& out, std::string_view name, const name_table& table,
                 bool escape_equals, bool field_key) {
    bool simple = true;
    for (char c : name) {
        if (table.attention[static_cast<unsigned char>(c)]) {
            simple = false;
            break;
        }
    }
    if (simple) {
        out.append(name);
        return;
    }
    const std::string valid = utf8::sanitize(name);
    for (std::size_t i = 0; i < valid.size(); ++i) {
        const char c = valid[i];
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += replacement;  // a raw newline would end the line; no escape exists for it
        } else if (c == ',' || c == ' ' || (escape_equals && c == '=')) {
            out += '\\';
            out += c;
        } else if (c == '\\' && (i + 1 == valid.size() ||
                                 (field_key && (valid[i + 1] == ',' || valid[i + 1] == ' ' ||
                                                valid[i + 1] == '=' || valid[i + 1] == '"')))) {
            out += fullwidth_backslash;  // cannot be parsed back as a backslash
        } else {
            out += c;
        }
    }
}

// Keys InfluxDB reserves (`time`, `_...`) or that our own tags/fields use get a prefix.
std::string_view safe_key(std::string_view key, std::string_view prefix, bool taken,
                          std::string& scratch, std::uint64_t& renamed) {
    if (!taken && key != "time" && (key.empty() || key.front() != '_')) {
        return key;
    }
    ++renamed;
    scratch.assign(prefix);
    scratch.append(key);
    return scratch;
}

std::int64_t ns_since_epoch(spdlog::log_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Appends " key=value" pieces: returns false (and appends nothing) for a value that cannot be a
// field (NaN/Inf, null).
bool append_field(std::string& out, std::string_view key, const json& value, bool first,
                  bool unsigned_integers, std::uint64_t& nan_dropped) {
    switch (value.type()) {
        case json::value_t::null:
        case json::value_t::discarded:
            return false;
        case json::value_t::number_float:
            if (!std::isfinite(value.get<double>())) {
                ++nan_dropped;
                return false;
            }
            break;
        default:
            break;
    }
    out += first ? ' ' : ',';
    append_field_key(out, key);
    out += '=';
    switch (value.type()) {
        case json::value_t::boolean:
            out += value.get<bool>() ? "true" : "false";
            break;
        case json::value_t::number_integer:
            append_int(out, value.get<std::int64_t>());
            out += 'i';
            break;
        case json::value_t::number_unsigned: {
            const auto u = value.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                append_uint(out, u);
                out += 'i';
            } else if (unsigned_integers) {
                append_uint(out, u);
                out += 'u';
            } else {
                append_float(out, static_cast<double>(u));
            }
            break;
        }
        case json::value_t::number_float:
            append_float(out, value.get<double>());
            break;
        case json::value_t::string:
            append_string_value(out, value.get_ref<const std::string&>());
            break;
        default:  // objects, arrays, binary: their JSON text
            append_string_value(out, value.dump(-1, ' ', false, json::error_handler_t::replace));
            break;
    }
    return true;
}

std::string tag_text(const json& value) {
    return value.is_string() ? value.get<std::string>()
                             : value.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_metric(const record& r) {
    if (!r.fields.is_object()) {
        return false;
    }
    const auto it = r.fields.find(metric_field);
    return it != r.fields.end() && it->is_object() && it->contains("measurement") &&
           (*it)["measurement"].is_string() && it->contains("fields") &&
           (*it)["fields"].is_object();
}
}  // namespace

void append_measurement(std::string& out, std::string_view name) {
    if (!name.empty() && name.front() == '#') {
        out += "\uFF03";  // a line starting with '#' is a comment: the point would vanish
        name.remove_prefix(1);
    }
    append_name(out, name, measurement_table, false, false);
}

void append_tag(std::string& out, std::string_view text) {
    append_name(out, text, key_table, true, false);
}

void append_field_key(std::string& out, std::string_view key) {
    append_name(out, key, key_table, true, true);
}

void append_string_value(std::string& out, std::string_view value) {
    out += '"';
    bool simple = true;
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\' || (u < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
            u >= 0x7f) {
            simple = false;
            break;
        }
    }
    if (simple) {
        out.append(value);
    } else {
        const std::string valid = utf8::sanitize(value);
        for (char c : valid) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f) {
                out += replacement;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

void append_float(std::string& out, double value) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip
    out.append(buf, r.ptr);
}

std::size_t line_encoder::count_hash::operator()(const count_key& k) const noexcept {
    return std::hash<std::string>()(k.logger) ^ (std::hash<std::int64_t>()(k.interval) * 31) ^
           static_cast<std::size_t>(k.level);
}

line_encoder::line_encoder(line_protocol_options options) : options_(std::move(options)) {
    if (!options_.hostname.empty()) {
        host_tag_ = ",host=";
        append_tag(host_tag_, options_.hostname);
    }
    if (!options_.service.empty()) {
        service_tag_ = ",service=";
        append_tag(service_tag_, options_.service);
    }
}

void line_encoder::append_sorted_tags(std::string& out) {
    std::sort(tags_.begin(), tags_.end());
    for (const auto& [key, value] : tags_) {
        out += ',';
        append_tag(out, key);
        out += '=';
        append_tag(out, value);
    }
}

std::int64_t line_encoder::unique_time(std::uint64_t series, std::int64_t ts) {
    auto it = series_.find(series);
    if (it == series_.end()) {
        it = series_.emplace(series, series_state{}).first;
        undo_.emplace(series, series_state{});  // count 0 with last 0: "did not exist"
        undo_[series].count = std::numeric_limits<std::size_t>::max();
    } else if (undo_.find(series) == undo_.end()) {
        undo_.emplace(series, it->second);
    }
    series_state& s = it->second;
    const std::int64_t wanted = ts;
    if (s.count > 0 && ts <= s.last) {
        const auto behind = static_cast<std::uint64_t>(s.last) - static_cast<std::uint64_t>(ts);
        if (behind < static_cast<std::uint64_t>(same_time_window_ns) &&
            s.last < std::numeric_limits<std::int64_t>::max()) {
            // Same instant as (or just before) the newest point: right after it, so a burst of
            // equal timestamps becomes t, t+1, t+2, ... and nothing is overwritten.
            ts = s.last + 1;
        } else {
            // An older time (a backfilled metric): only move off the recent points it hits.
            const std::size_t n = std::min(s.count, series_state::ring_size);
            for (std::size_t i = 0; i < n; ++i) {
                if (s.recent[i] == ts && ts < std::numeric_limits<std::int64_t>::max()) {
                    ++ts;
                    i = static_cast<std::size_t>(-1);  // check again from the start
                }
            }
        }
    }
    if (ts != wanted) {
        ++pending_stats_.timestamps_shifted;
    }
    s.recent[s.count++ % series_state::ring_size] = ts;
    s.last = std::max(s.last, ts);
    return ts;
}

void line_encoder::encode_record(const record& r, std::string& out) {
    const std::size_t start = out.size();
    out += measurement_;
    // Tags, sorted by key: the built-in ones are already in order (host < level < logger <
    // service); tag fields are merged in.
    tags_.clear();
    if (!options_.tag_fields.empty() && r.fields.is_object()) {
        for (const auto& name : options_.tag_fields) {
            const auto it = r.fields.find(name);
            if (it != r.fields.end() && !it->is_null()) {
                std::string value = tag_text(*it);
                if (!value.empty()) {
                    const bool taken =
                        name == "host" || name == "level" || name == "logger" || name == "service";
                    std::string scratch;
                    tags_.emplace_back(std::string(safe_key(name, "tag_", taken, scratch,
                                                            pending_stats_.renamed_keys)),
                                       std::move(value));
                }
            }
        }
    }
    if (tags_.empty()) {
        out += host_tag_;
        out += ",level=";
        out += level_lower(r.level);
        if (!r.logger_name.empty()) {
            out += ",logger=";
            if (r.logger_name != last_logger_) {
                last_logger_ = r.logger_name;
                last_logger_escaped_.clear();
                append_tag(last_logger_escaped_, r.logger_name);
            }
            out += last_logger_escaped_;
        }
        out += service_tag_;
    } else {
        if (!options_.hostname.empty()) {
            tags_.emplace_back("host", options_.hostname);
        }
        tags_.emplace_back("level", level_lower(r.level));
        if (!r.logger_name.empty()) {
            tags_.emplace_back("logger", r.logger_name);
        }
        if (!options_.service.empty()) {
            tags_.emplace_back("service", options_.service);
        }
        append_sorted_tags(out);
    }
    const std::uint64_t series = std::hash<std::string_view>()(std::string_view(out).substr(start));

    // Fields: the message, then the structured fields with their types.
    out += " message=";
    append_string_value(out, r.message);
    if (r.fields.is_object()) {
        std::string scratch;
        for (const auto& [key, value] : r.fields.items()) {
            if (key.empty() || std::find(options_.tag_fields.begin(), options_.tag_fields.end(),
                                         key) != options_.tag_fields.end()) {
                continue;
            }
            const std::string_view name =
                safe_key(key, "field_", key == "message", scratch, pending_stats_.renamed_keys);
            append_field(out, name, value, false, options_.unsigned_integers,
                         pending_stats_.nan_fields_dropped);
        }
    }
    out += ' ';
    append_int(out, unique_time(series, ns_since_epoch(r.time)));
    out += '\n';
}

void line_encoder::encode_metric(const record& r, std::string& out, bool& produced) {
    const json& m = r.fields[metric_field];
    const std::size_t start = out.size();
    append_measurement(out, m["measurement"].get_ref<const std::string&>());
    tags_.clear();
    if (m.contains("tags") && m["tags"].is_object()) {
        std::string scratch;
        for (const auto& [key, value] : m["tags"].items()) {
            std::string text = tag_text(value);
            if (!key.empty() && !text.empty()) {
                tags_.emplace_back(
                    std::string(safe_key(key, "tag_", false, scratch, pending_stats_.renamed_keys)),
                    std::move(text));
            }
        }
    }
    append_sorted_tags(out);
    const std::uint64_t series = std::hash<std::string_view>()(std::string_view(out).substr(start));
    bool first = true;
    std::string scratch;
    for (const auto& [key, value] : m["fields"].items()) {
        if (key.empty()) {
            continue;
        }
        const std::string_view name =
            safe_key(key, "field_", false, scratch, pending_stats_.renamed_keys);
        if (append_field(out, name, value, first, options_.unsigned_integers,
                         pending_stats_.nan_fields_dropped)) {
            first = false;
        }
    }
    if (first) {  // no field left: no point
        out.resize(start);
        produced = false;
        return;
    }
    out += ' ';
    append_int(out, unique_time(series, ns_since_epoch(r.time)));
    out += '\n';
    produced = true;
}

void line_encoder::encode_level_counts(std::string& out) {
    std::string measurement;
    append_measurement(measurement, options_.level_counts_measurement);
    for (const auto& [key, n] : pending_) {
        const auto committed = counts_.find(key);
        const std::uint64_t total = n + (committed == counts_.end() ? 0 : committed->second);
        out += measurement;
        out += host_tag_;
        out += ",level=";
        out += level_lower(static_cast<spdlog::level::level_enum>(key.level));
        if (!key.logger.empty()) {
            out += ",logger=";
            append_tag(out, key.logger);
        }
        out += service_tag_;
        out += " count=";
        append_uint(out, total);
        out += "i ";
        append_int(out, key.interval);
        out += '\n';
    }
}

std::size_t line_encoder::encode(record_span batch, std::string& out,
                                 std::vector<std::size_t>* line_records,
                                 std::vector<std::size_t>* skipped) {
    rollback();  // an encode that was neither committed nor rolled back counts for nothing
    if (measurement_.empty()) {
        append_measurement(measurement_, options_.measurement);
    }
    out.clear();
    if (line_records != nullptr) {
        line_records->clear();
    }
    if (skipped != nullptr) {
        skipped->clear();
    }
    std::size_t lines = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const record& r = batch[i];
        if (is_metric(r)) {
            bool produced = false;
            encode_metric(r, out, produced);
            if (!produced) {
                if (skipped != nullptr) {
                    skipped->push_back(i);
                }
                continue;
            }
        } else {
            encode_record(r, out);
            if (options_.level_counts_interval_ns > 0) {
                const std::int64_t t = ns_since_epoch(r.time);
                const std::int64_t interval = options_.level_counts_interval_ns;
                const std::int64_t start = (t >= 0 ? t : t - interval + 1) / interval * interval;
                ++pending_[count_key{start, static_cast<int>(r.level), r.logger_name}];
            }
        }
        ++lines;
        if (line_records != nullptr) {
            line_records->push_back(i);
        }
    }
    if (!pending_.empty()) {
        const std::size_t before = out.size();
        encode_level_counts(out);
        for (std::size_t p = before; p < out.size(); ++p) {
            if (out[p] == '\n') {
                ++lines;
                if (line_records != nullptr) {
                    line_records->push_back(batch.size() - 1);
                }
            }
        }
    }
    return lines;
}

void line_encoder::commit() {
    undo_.clear();
    for (const auto& [key, n] : pending_) {
        counts_[key] += n;
    }
    pending_.clear();
    stats_.nan_fields_dropped += pending_stats_.nan_fields_dropped;
    stats_.renamed_keys += pending_stats_.renamed_keys;
    stats_.timestamps_shifted += pending_stats_.timestamps_shifted;
    pending_stats_ = {};
    // Bounded memory: forget the oldest state. A series seen again starts afresh (only a
    // same-nanosecond clash with a forgotten point could then overwrite it).
    if (series_.size() > max_series) {
        series_.clear();
    }
    if (counts_.size() > max_count_keys) {
        std::int64_t newest = std::numeric_limits<std::int64_t>::min();
        for (const auto& [key, n] : counts_) {
            newest = std::max(newest, key.interval);
        }
        const std::int64_t horizon = newest - 100 * options_.level_counts_interval_ns;
        for (auto it = counts_.begin(); it != counts_.end();) {
            it = it->first.interval < horizon ? counts_.erase(it) : std::next(it);
        }
    }
}

void line_encoder::rollback() {
    for (auto& [key, saved] : undo_) {
        if (saved.count == std::numeric_limits<std::size_t>::max()) {
            series_.erase(key);
        } else {
            series_[key] = saved;
        }
    }
    undo_.clear();
    pending_.clear();
    pending_stats_ = {};
}

}  // namespace spdlog_ext::detail
