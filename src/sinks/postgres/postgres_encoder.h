// Internal: the PostgreSQL encoder. Records become rows of COPY's text format (one line per
// record, tab-separated columns in copy_columns order, \N for NULL, backslash escapes), with
// NUL replaced and UTF-8 repaired since the server's text and jsonb cannot hold them. Separate
// from the libpq backend so that tests and fuzzers can call it without a server.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace spdlog_ext::detail {

// Columns written by COPY, in this order (then the promoted columns, postgres_config::columns);
// `id` and `created_at` are filled by the server.
inline constexpr std::array<const char*, 15> copy_columns = {
    "timestamp",   "level",    "logger_name", "process_id", "thread_id",
    "thread_name", "hostname", "message",     "exception",  "function_name",
    "module",      "filename", "lineno",      "pathname",   "extra_data"};

// Which of the columns that are NULL for most records a batch's COPY lists: a batch without
// exceptions or source locations leaves them out (the server then fills NULL without reading
// six \N per row: ~4 % of its COPY work). copy_columns_for() gives the list.
struct copy_shape {
    bool exception = true;  // the exception column
    bool source = true;     // function_name, module, filename, lineno, pathname
    // 0..3: an index for a table of the four column lists.
    std::size_t index() const noexcept { return (exception ? 1u : 0u) | (source ? 2u : 0u); }
    static copy_shape of_index(std::size_t i) noexcept { return {(i & 1u) != 0, (i & 2u) != 0}; }
};
// The copy_columns of `shape`, in order.
std::vector<const char*> copy_columns_for(copy_shape shape);
// The narrowest shape that holds every record of `batch`.
copy_shape copy_shape_of(record_span batch);

// `s` as PostgreSQL text can hold it: valid UTF-8, NUL replaced by U+FFFD.
std::string copy_clean_text(const std::string& s);

// Appends `text` as one COPY text-format field (backslash escapes for \ \n \r \t).
void append_copy_field(std::string& out, std::string_view text);

// A field's value as a promoted column of `type` takes it: COPY text (unescaped) in `out` and
// true, or false when it does not fit (the server would refuse it, or it would change). A JSON
// null is not passed here (it is SQL NULL).
bool promoted_column_text(const nlohmann::json& value, postgres_column_type type, std::string& out);

class copy_text_encoder {
  public:
    // `pid_text` and `host_text` fill the process_id and hostname columns of every row; the
    // host is cleaned here. `columns`: the promoted columns, written after extra_data.
    copy_text_encoder(std::string pid_text, const std::string& host,
                      std::vector<postgres_column> columns = {});

    // Replaces `out` with the batch as COPY text.
    void encode(record_span batch, std::string& out);

    // Appends the rows of batch[next..] to `out` until it holds at least `min_bytes` (whole rows
    // only) or the batch ends; returns the index of the first row left. Lets the backend stream
    // a batch to the server while it encodes the rest: the chunks joined are encode()'s text.
    // next == 0 starts a batch (the mismatch counts restart).
    // `shape`: the columns written (the same for every call of one batch; copy_shape_of(batch)
    // or wider).
    std::size_t encode_some(record_span batch, std::size_t next, std::string& out,
                            std::size_t min_bytes, copy_shape shape = {});

    // Per promoted column, the values of the last batch encoded that did not fit its type (they
    // stayed in extra_data).
    const std::vector<std::uint64_t>& last_mismatches() const noexcept { return mismatches_; }

    // A row's fields as COPY wants them: text, or absent for NULL.
    struct row_text {
        std::string timestamp, logger, thread_name, message, exception, function, module, filename,
            lineno, pathname, extra, tid;
        bool has_thread_name = false, has_exception = false, has_source = false, has_extra = false;
        std::vector<std::string> promoted;  // per promoted column, its text when has_promoted
        std::vector<char> has_promoted;
    };

  private:
    std::string pid_text_;
    std::string host_text_;
    std::vector<postgres_column> columns_;
    std::vector<std::uint64_t> mismatches_;
    row_text row_;  // scratch, reused across records
};

}  // namespace spdlog_ext::detail
