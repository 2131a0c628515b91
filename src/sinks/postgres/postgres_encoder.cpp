#include "sinks/postgres/postgres_encoder.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/levels.h"
#include "core/text.h"
#include "core/utf8.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/json_formatter.h"

namespace spdlog_ext::detail {

namespace {

// PostgreSQL text cannot hold NUL, and jsonb refuses \u0000: replace both, and repair UTF-8.
void sanitize_json(nlohmann::json& j) {
    if (j.is_string()) {
        utf8::sanitize_in_place(j.get_ref<std::string&>(), utf8::nul_policy::replace);
    } else if (j.is_array()) {
        for (auto& v : j) {
            sanitize_json(v);
        }
    } else if (j.is_object()) {
        nlohmann::json clean = nlohmann::json::object();
        for (auto& [key, value] : j.items()) {
            sanitize_json(value);
            clean[utf8::sanitize(key, utf8::nul_policy::replace)] = std::move(value);
        }
        j = std::move(clean);
    }
}

// True when a string or key in `j` holds NUL or invalid UTF-8 (the common answer is no, and
// then the fields are dumped as they are, without a copy).
bool json_needs_cleaning(const nlohmann::json& j) {
    const auto dirty = [](const std::string& s) {
        return s.find('\0') != std::string::npos || !utf8::is_valid(s);
    };
    if (j.is_string()) {
        return dirty(j.get_ref<const std::string&>());
    }
    if (j.is_array()) {
        for (const auto& v : j) {
            if (json_needs_cleaning(v)) {
                return true;
            }
        }
    } else if (j.is_object()) {
        for (const auto& [key, value] : j.items()) {
            if (dirty(key) || json_needs_cleaning(value)) {
                return true;
            }
        }
    }
    return false;
}

void encode_row(const record& r, copy_text_encoder::row_text& out) {
    out.timestamp = format_rfc3339(r.time, json_time_zone::utc);
    out.logger = copy_clean_text(r.logger_name);
    out.tid = std::to_string(r.thread_id);
    out.has_thread_name = !r.thread_name.empty();
    if (out.has_thread_name) {
        out.thread_name = copy_clean_text(r.thread_name);
    }
    out.message = copy_clean_text(r.message);
    out.has_exception = false;
    out.has_extra = false;
    if (r.fields.is_object() && !r.fields.empty()) {
        const auto exception = r.fields.find(exception_field);
        if (exception == r.fields.end() && !json_needs_cleaning(r.fields)) {
            out.has_extra = true;  // the common case: dump as is
            out.extra = r.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else {
            nlohmann::json extra = r.fields;
            auto it = extra.find(exception_field);
            if (it != extra.end()) {
                out.exception = copy_clean_text(r.exception());
                out.has_exception = true;
                extra.erase(it);
            }
            out.has_extra = !extra.empty();
            if (out.has_extra) {
                sanitize_json(extra);
                out.extra = extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            }
        }
    }
    out.has_source = r.has_source();
    if (out.has_source) {
        out.function = copy_clean_text(r.source_function);
        out.pathname = copy_clean_text(r.source_file);
        out.filename = base_name(out.pathname);
        out.module = file_stem(out.pathname);
        out.lineno = std::to_string(r.source_line);
    }
}

}  // namespace

std::string copy_clean_text(const std::string& s) {
    return utf8::sanitize(s, utf8::nul_policy::replace);
}

// Appends `text` as one COPY text-format field (backslash escapes for \ \n \r \t).
void append_copy_field(std::string& out, std::string_view text) {
    std::size_t plain = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const char* esc = c == '\\'   ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : nullptr;
        if (esc != nullptr) {
            out.append(text.data() + plain, i - plain);
            out.append(esc, 2);
            plain = i + 1;
        }
    }
    out.append(text.data() + plain, text.size() - plain);
}

copy_text_encoder::copy_text_encoder(std::string pid_text, const std::string& host)
    : pid_text_(std::move(pid_text)), host_text_(copy_clean_text(host)) {}

void copy_text_encoder::encode(record_span batch, std::string& out) {
    out.clear();
    encode_some(batch, 0, out, std::string::npos);
}

// One line per record, fields separated by tabs, \N for NULL.
std::size_t copy_text_encoder::encode_some(record_span batch, std::size_t next, std::string& out,
                                           std::size_t min_bytes) {
    const auto field = [&out](bool present, const std::string& text) {
        if (present) {
            append_copy_field(out, text);
        } else {
            out += "\\N";
        }
        out += '\t';
    };
    for (; next < batch.size() && out.size() < min_bytes; ++next) {
        const record& r = batch[next];
        encode_row(r, row_);
        field(true, row_.timestamp);
        // spdlog does log at level off; the table's CHECK allows only the six real levels.
        out += detail::level_upper(std::min(r.level, spdlog::level::critical));
        out += '\t';
        field(true, row_.logger);
        field(true, pid_text_);
        field(true, row_.tid);
        field(row_.has_thread_name, row_.thread_name);
        field(true, host_text_);
        field(true, row_.message);
        field(row_.has_exception, row_.exception);
        field(row_.has_source, row_.function);
        field(row_.has_source, row_.module);
        field(row_.has_source, row_.filename);
        field(row_.has_source, row_.lineno);
        field(row_.has_source, row_.pathname);
        field(row_.has_extra, row_.extra);
        out.back() = '\n';  // the last field ends the line instead
    }
    return next;
}

}  // namespace spdlog_ext::detail
