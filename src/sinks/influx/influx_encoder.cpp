#include "sinks/influx/influx_encoder.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/levels.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/metrics.h"

namespace spdlog_ext::detail {

namespace {
using json = nlohmann::json;

// Keys InfluxDB reserves (`time`, `_...`) or that our own tags/fields use get a prefix.
bool reserved_key(std::string_view key) {
    if (key.empty()) {
        return false;
    }
    if (key.front() == '_') {
        return true;
    }
    switch (key.size()) {
        case 4:
            return key == "time" || key == "host";
        case 5:
            return key == "level";
        case 6:
            return key == "logger";
        case 7:
            return key == "service" || key == "message";
        default:
            return false;
    }
}

std::string_view safe_key(std::string_view key, std::string_view prefix, bool taken,
                          std::string& scratch, std::uint64_t* renamed) {
    if (!taken) {
        return key;
    }
    if (renamed != nullptr) {
        ++*renamed;
    }
    scratch.assign(prefix);
    scratch.append(key);
    return scratch;
}

// The key just written at out[from, end): if an earlier key of the same line reads the same
// (distinct keys can become one once escaped — invalid UTF-8 → U+FFFD, a trailing backslash →
// ＼ — or renamed: `message` → field_message beside a real field_message), it gets _2, _3, ...:
// InfluxDB 1.x keeps only the last of repeated fields (the others are lost unseen) and refuses
// a line with a repeated tag (400 "duplicate tags"). Returns true when it was renamed.
bool make_key_unique(line_keys& keys, std::string& out, std::size_t from) {
    if (keys.insert(out, from)) {
        return false;
    }
    const std::string base = out.substr(from);
    const std::size_t end = out.size();
    std::uint64_t n = keys.next_suffix(base);
    do {
        out.resize(end);
        out += '_';
        append_uint(out, n++);
    } while (!keys.insert(out, from));
    keys.set_next_suffix(base, n);
    return true;
}

// Appends " key=value" pieces: returns false (and appends nothing) for a value that cannot be a
// field (NaN/Inf, null). `keys`: the line's field keys so far.
bool append_field(std::string& out, std::string_view key, const json& value, bool first,
                  bool unsigned_integers, line_keys& keys, std::uint64_t* renamed,
                  std::uint64_t* nan_dropped) {
    switch (value.type()) {
        case json::value_t::null:
        case json::value_t::discarded:
            return false;
        case json::value_t::number_float:
            if (!std::isfinite(value.get<double>())) {
                if (nan_dropped != nullptr) {
                    ++*nan_dropped;
                }
                return false;
            }
            break;
        default:
            break;
    }
    out += first ? ' ' : ',';
    const std::size_t key_start = out.size();
    append_field_key(out, key);
    if (make_key_unique(keys, out, key_start) && renamed != nullptr) {
        ++*renamed;
    }
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
}  // namespace

bool written_as_metric(const record& r) {
    if (!r.fields.is_object()) {
        return false;
    }
    static const std::string key(metric_field);  // no std::string built per record
    const auto it = r.fields.find(key);
    // An empty measurement would make an unparsable line: such a record is written as a log.
    return it != r.fields.end() && it->is_object() && it->contains("measurement") &&
           (*it)["measurement"].is_string() &&
           !(*it)["measurement"].get_ref<const std::string&>().empty() && it->contains("fields") &&
           (*it)["fields"].is_object();
}

void line_keys::clear() {
    spans_.clear();
    set_.clear();
    suffixes_.clear();
}

bool line_keys::insert(const std::string& out, std::size_t from) {
    const std::string_view key(out.data() + from, out.size() - from);
    if (set_.empty()) {
        for (const auto& [offset, size] : spans_) {
            if (std::string_view(out.data() + offset, size) == key) {
                return false;
            }
        }
        if (spans_.size() < linear_limit) {
            spans_.emplace_back(from, key.size());
            return true;
        }
        set_.reserve(2 * linear_limit);
        for (const auto& [offset, size] : spans_) {
            set_.emplace(out.data() + offset, size);
        }
    }
    return set_.emplace(key).second;
}

std::uint64_t line_keys::next_suffix(const std::string& base) const {
    const auto it = suffixes_.find(base);
    return it == suffixes_.end() ? 2 : it->second;
}

void line_keys::set_next_suffix(std::string base, std::uint64_t n) {
    suffixes_[std::move(base)] = n;
}

line_encoder::line_encoder(line_protocol_options options) : options_(std::move(options)) {
    // An empty tag key, or the same key twice, would make every line unparsable.
    auto& names = options_.tag_fields;
    std::vector<std::string> unique;
    for (auto& name : names) {
        if (!name.empty() && std::find(unique.begin(), unique.end(), name) == unique.end()) {
            unique.push_back(std::move(name));
        }
    }
    names = std::move(unique);
    host_tag_ = tag_pair("host", options_.hostname);
    service_tag_ = tag_pair("service", options_.service);
}

void line_encoder::append_sorted_tags(std::string& out) {
    std::sort(tags_.begin(), tags_.end());
    line_keys_.clear();
    for (const auto& [key, value] : tags_) {
        out += ',';
        const std::size_t key_start = out.size();
        append_tag(out, key);
        make_key_unique(line_keys_, out, key_start);
        out += '=';
        append_tag(out, value);
    }
}

void line_encoder::encode_record(const record& r, std::size_t index, std::string& out) {
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
                    std::string scratch;
                    tags_.emplace_back(
                        std::string(safe_key(name, "tag_", reserved_key(name), scratch, nullptr)),
                        std::move(value));
                }
            }
        }
    }
    std::uint64_t series = 0;
    series_clock::series_state* state = nullptr;
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
                std::fill(std::begin(last_series_), std::end(last_series_), 0);
                std::fill(std::begin(last_state_), std::end(last_state_), nullptr);
            }
            out += last_logger_escaped_;
        }
        out += service_tag_;
        // The series hash of (level, logger) is the same line after line: computed once.
        const std::size_t level = static_cast<std::size_t>(r.level) & 7;
        std::uint64_t& cached = last_series_[level];
        if (cached == 0 || r.logger_name.empty()) {
            cached = std::hash<std::string_view>()(std::string_view(out).substr(start)) | 1;
            last_state_[level] = &clock_.state_of(cached);
        }
        series = cached;
        state = last_state_[level];
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
        series = std::hash<std::string_view>()(std::string_view(out).substr(start)) | 1;
    }
    bool first = false;
    const std::int64_t ts =
        clock_.timestamp_of(index, series, state, ns_since_epoch(r.time), first);
    // Counted the first time this record is encoded only.
    std::uint64_t* renamed = first ? &stats_.renamed_keys : nullptr;
    std::uint64_t* nan_dropped = first ? &stats_.nan_fields_dropped : nullptr;

    // Fields: the message, then the structured fields with their types.
    constexpr std::string_view message_key = "message";
    out += ' ';
    line_keys_.clear();
    out += message_key;
    line_keys_.insert(out, out.size() - message_key.size());
    out += '=';
    append_string_value(out, r.message);
    if (r.fields.is_object()) {
        std::string scratch;
        // Iterators, not items(): its proxy builds strings per element.
        for (auto it = r.fields.begin(); it != r.fields.end(); ++it) {
            const std::string& key = it.key();
            const nlohmann::json& value = it.value();
            if (key.empty() || (!options_.tag_fields.empty() &&
                                std::find(options_.tag_fields.begin(), options_.tag_fields.end(),
                                          key) != options_.tag_fields.end())) {
                continue;
            }
            const std::string_view name =
                safe_key(key, "field_", reserved_key(key), scratch, renamed);
            append_field(out, name, value, false, options_.unsigned_integers, line_keys_, renamed,
                         nan_dropped);
        }
    }
    out += ' ';
    append_int(out, ts);
    out += '\n';
}

bool line_encoder::encode_metric(const record& r, std::size_t index, std::string& out) {
    const json& m = r.fields[metric_field];
    const std::size_t start = out.size();
    append_measurement(out, m["measurement"].get_ref<const std::string&>());
    tags_.clear();
    if (m.contains("tags") && m["tags"].is_object()) {
        std::string scratch;
        for (const auto& [key, value] : m["tags"].items()) {
            std::string text = tag_text(value);
            if (!key.empty() && !text.empty()) {
                const bool taken = key == "time" || key.front() == '_';
                tags_.emplace_back(std::string(safe_key(key, "tag_", taken, scratch, nullptr)),
                                   std::move(text));
            }
        }
    }
    append_sorted_tags(out);
    const std::uint64_t series =
        std::hash<std::string_view>()(std::string_view(out).substr(start)) | 1;  // as cached
    // Only a point with a field has a timestamp: look before taking one.
    bool any = false;
    for (const auto& [key, value] : m["fields"].items()) {
        any = any || (!key.empty() && !value.is_null() &&
                      !(value.is_number_float() && !std::isfinite(value.get<double>())));
    }
    if (!any) {
        out.resize(start);
        return false;
    }
    bool first_time = false;
    const std::int64_t ts =
        clock_.timestamp_of(index, series, nullptr, ns_since_epoch(r.time), first_time);
    bool first = true;
    std::string scratch;
    line_keys_.clear();
    for (const auto& [key, value] : m["fields"].items()) {
        if (key.empty()) {
            continue;
        }
        const bool taken = key == "time" || key.front() == '_';
        const std::string_view name =
            safe_key(key, "field_", taken, scratch, first_time ? &stats_.renamed_keys : nullptr);
        if (append_field(out, name, value, first, options_.unsigned_integers, line_keys_,
                         first_time ? &stats_.renamed_keys : nullptr,
                         first_time ? &stats_.nan_fields_dropped : nullptr)) {
            first = false;
        }
    }
    out += ' ';
    append_int(out, ts);
    out += '\n';
    return true;
}

std::size_t line_encoder::encode(record_span batch, std::string& out, std::uint64_t source_id,
                                 std::size_t source_offset, std::vector<std::size_t>* skipped) {
    if (measurement_.empty()) {
        append_measurement(measurement_, options_.measurement);
    }
    clock_.begin_source(source_id, source_offset, batch.size());
    out.clear();
    out.reserve(batch.size() * 256);
    if (skipped != nullptr) {
        skipped->clear();
    }
    std::size_t lines = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const record& r = batch[i];
        if (written_as_metric(r)) {
            if (!encode_metric(r, source_offset + i, out)) {
                if (skipped != nullptr) {
                    skipped->push_back(i);
                }
                continue;
            }
        } else {
            encode_record(r, source_offset + i, out);
        }
        ++lines;
    }
    stats_.timestamps_shifted = clock_.timestamps_shifted();
    if (clock_.forget_if_full()) {  // the cached states are gone with it
        std::fill(std::begin(last_series_), std::end(last_series_), 0);
        std::fill(std::begin(last_state_), std::end(last_state_), nullptr);
    }
    return lines;
}

}  // namespace spdlog_ext::detail
