// Internal: the per-thread state behind fields, thread names and record_scope. One
// constant-initialised thread_local, so the logging call reads it without init guards.
#pragma once

#include <spdlog/details/log_msg.h>

#include <cstddef>
#include <memory>
#include <string>

#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"

namespace spdlog_ext::detail {

// The merged fields of the innermost scoped_fields, with their size for the queue's byte limit.
struct field_snapshot {
    nlohmann::json fields;
    std::size_t bytes = 0;
};

struct thread_context {
    std::size_t thread_id = 0;               // spdlog's id of this thread; 0 until first use
    field_list* fields = nullptr;            // the scoped_fields stack, allocated on first push
    std::string* name = nullptr;             // the OS thread name, read on first use
    const record* current_record = nullptr;  // set by record_scope
    // The innermost scoped_fields' snapshot (owned by that scoped_fields), or null.
    const std::shared_ptr<const field_snapshot>* snapshot = nullptr;
};

thread_context& context() noexcept;
field_list& field_stack();                          // allocates on first use
const std::string& thread_name(thread_context& c);  // reads the OS name on first use

// What the logging call needs to know about the calling thread, in one call.
struct capture_info {
    bool same_thread = false;                  // the message was made on this thread
    const std::string* thread_name = nullptr;  // set when same_thread
    bool may_have_fields = false;              // false: fields_of(msg) would be null
    // Set when the fields are exactly the scoped fields' snapshot (no record_scope, no MDC):
    // then a reference to it is all a record needs.
    const std::shared_ptr<const field_snapshot>* snapshot = nullptr;
};
capture_info capture_context(const spdlog::details::log_msg& msg) noexcept;

}  // namespace spdlog_ext::detail
