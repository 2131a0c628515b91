// Internal: the PostgreSQL encoder. Records become rows of COPY's text format (one line per
// record, tab-separated columns in copy_columns order, \N for NULL, backslash escapes), with
// NUL replaced and UTF-8 repaired since the server's text and jsonb cannot hold them. Separate
// from the libpq backend so that tests and fuzzers can call it without a server.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "spdlog_ext/engine/backend.h"

namespace spdlog_ext::detail {

// Columns written by COPY, in this order; `id` and `created_at` are filled by the server.
inline constexpr std::array<const char*, 15> copy_columns = {
    "timestamp",   "level",    "logger_name", "process_id", "thread_id",
    "thread_name", "hostname", "message",     "exception",  "function_name",
    "module",      "filename", "lineno",      "pathname",   "extra_data"};

// `s` as PostgreSQL text can hold it: valid UTF-8, NUL replaced by U+FFFD.
std::string copy_clean_text(const std::string& s);

// Appends `text` as one COPY text-format field (backslash escapes for \ \n \r \t).
void append_copy_field(std::string& out, std::string_view text);

class copy_text_encoder {
  public:
    // `pid_text` and `host_text` fill the process_id and hostname columns of every row; the
    // host is cleaned here.
    copy_text_encoder(std::string pid_text, const std::string& host);

    // Replaces `out` with the batch as COPY text.
    void encode(record_span batch, std::string& out);

    // Appends the rows of batch[next..] to `out` until it holds at least `min_bytes` (whole rows
    // only) or the batch ends; returns the index of the first row left. Lets the backend stream
    // a batch to the server while it encodes the rest: the chunks joined are encode()'s text.
    std::size_t encode_some(record_span batch, std::size_t next, std::string& out,
                            std::size_t min_bytes);

    // A row's fields as COPY wants them: text, or absent for NULL.
    struct row_text {
        std::string timestamp, logger, thread_name, message, exception, function, module, filename,
            lineno, pathname, extra, tid;
        bool has_thread_name = false, has_exception = false, has_source = false, has_extra = false;
    };

  private:
    std::string pid_text_;
    std::string host_text_;
    row_text row_;  // scratch, reused across records
};

}  // namespace spdlog_ext::detail
