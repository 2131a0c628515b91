// A record: an owned copy of what sinks need from spdlog's log_msg (which only borrows its
// strings), plus the process/host/thread context and the structured fields of the call.
// Manual: docs/fields-and-formatting.md.
#pragma once

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace spdlog_ext {

struct record {
    spdlog::log_clock::time_point time{};  // event time (when the logging call ran)
    spdlog::level::level_enum level{spdlog::level::info};
    std::string logger_name;
    std::string message;  // the payload, as formatted by the logging call
    std::size_t thread_id{0};
    std::string thread_name;  // empty where the OS gives none
    std::string source_file;  // empty when the call carried no source location
    int source_line{0};
    std::string source_function;
    nlohmann::json fields;  // a JSON object, or null when the call had no fields

    // Copies `msg` and the fields visible to it (see fields_of()).
    static record capture(const spdlog::details::log_msg& msg);

    // A log_msg that borrows from this record, for formatters and other spdlog sinks.
    spdlog::details::log_msg to_log_msg() const;

    bool has_source() const noexcept { return source_line > 0 || !source_file.empty(); }
    // The `exception` field as text, empty when absent.
    std::string exception() const;
    // Approximate heap + inline size, used for the engine's byte limits.
    std::size_t approx_bytes() const noexcept;
};

// Approximate memory held by a JSON value (for queue byte limits).
std::size_t approx_json_bytes(const nlohmann::json& j) noexcept;

// Process-wide context, computed once.
int process_id() noexcept;
const std::string& host_name();
// The calling thread's OS name (cached per thread; set_thread_name() updates the cache).
const std::string& current_thread_name();
// Sets the calling thread's OS name (Linux keeps 15 bytes) and the cached copy.
void set_thread_name(const std::string& name);

// The fields that belong to `msg`: the record's own while a record is being formatted or
// written (record_scope), else the logging thread's scoped fields (and spdlog::mdc where
// available). When `msg` was produced on another thread (spdlog's async loggers), the
// caller's thread-local fields are out of reach: this returns null rather than the wrong
// fields, and warns once on stderr.
nlohmann::json fields_of(const spdlog::details::log_msg& msg);

// While alive, fields_of() on this thread answers with `r`'s fields: used when an engine
// worker formats a stored record, or hands it to a fallback sink.
class record_scope {
  public:
    explicit record_scope(const record& r) noexcept;
    ~record_scope();
    record_scope(const record_scope&) = delete;
    record_scope& operator=(const record_scope&) = delete;

  private:
    const record* previous_;
};

}  // namespace spdlog_ext
