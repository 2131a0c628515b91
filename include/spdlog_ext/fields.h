// Structured fields: key/value pairs attached to log records, typed as JSON values.
//
//   spdlog_ext::scoped_fields f{{"user_id", 123}, {"ip", "10.0.0.1"}};
//   logger->info("login");                        // carries user_id and ip
//   spdlog_ext::log(logger, spdlog::level::warn, {{"order", 42}}, "late by {} s", 3);
//
// Fields live in a thread-local stack: they are captured on the thread that logs, at the moment
// it logs. Inner scopes shadow outer ones with the same key.
// Manual: docs/fields-and-formatting.md.
#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <exception>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace spdlog_ext {

using field = std::pair<std::string, nlohmann::json>;
using field_list = std::vector<field>;

// The name of the field that holds a record's exception text; sinks map it to their own place.
inline constexpr const char* exception_field = "exception";

// Pushes fields onto this thread's stack for its lifetime. Not copyable or movable: it must be
// destroyed on the thread that created it, in reverse order of creation (like a lock_guard).
namespace detail {
struct field_snapshot;
}

class scoped_fields {
  public:
    scoped_fields(std::initializer_list<field> fields);
    explicit scoped_fields(field_list fields);
    ~scoped_fields();
    scoped_fields(const scoped_fields&) = delete;
    scoped_fields& operator=(const scoped_fields&) = delete;

  private:
    void publish();

    std::size_t count_;
    // Every field visible in this scope, merged once here so that a logging call only takes a
    // reference to it (records share it until their sink is done with them).
    std::shared_ptr<const detail::field_snapshot> snapshot_;
    const std::shared_ptr<const detail::field_snapshot>* previous_ = nullptr;
};

// This thread's current fields as a JSON object (later scopes win); empty object when none.
nlohmann::json current_thread_fields();

// True when this thread has any scoped fields (cheap: no copy).
bool thread_has_fields() noexcept;

// Text of an exception and the exceptions nested in it (std::nested_exception), one per line.
std::string describe_exception(const std::exception& e);

// Logs one message with extra fields that apply to this call only.
template <typename... Args>
void log(spdlog::logger& logger, spdlog::level::level_enum level, field_list fields,
         spdlog::format_string_t<Args...> fmt, Args&&... args) {
    if (!logger.should_log(level)) {
        return;
    }
    scoped_fields scope(std::move(fields));
    logger.log(level, fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void log(const std::shared_ptr<spdlog::logger>& logger, spdlog::level::level_enum level,
         field_list fields, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    log(*logger, level, std::move(fields), fmt, std::forward<Args>(args)...);
}

// Logs `e` (with its nested exceptions) in the record's exception field.
template <typename... Args>
void log_exception(spdlog::logger& logger, spdlog::level::level_enum level, const std::exception& e,
                   spdlog::format_string_t<Args...> fmt, Args&&... args) {
    if (!logger.should_log(level)) {
        return;
    }
    scoped_fields scope({{exception_field, describe_exception(e)}});
    logger.log(level, fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void log_exception(const std::shared_ptr<spdlog::logger>& logger, spdlog::level::level_enum level,
                   const std::exception& e, spdlog::format_string_t<Args...> fmt, Args&&... args) {
    log_exception(*logger, level, e, fmt, std::forward<Args>(args)...);
}

}  // namespace spdlog_ext
