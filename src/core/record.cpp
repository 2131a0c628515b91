#include "spdlog_ext/record.h"

#include <spdlog/details/os.h>
#include <spdlog/version.h>

#include <atomic>
#include <cstdio>

#include "core/limits.h"
#include "core/mdc_support.h"
#include "core/thread_context.h"

#if defined(__linux__) || defined(__APPLE__) || defined(__unix__)
#include <pthread.h>
#include <unistd.h>
#endif

namespace spdlog_ext {

namespace {
void warn_fields_unreachable_once() {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
        std::fputs(
            "spdlog_ext: a record was logged on one thread and formatted on another (spdlog "
            "async logger?): its structured fields live in the logging thread and are NOT "
            "attached. Use spdlog_ext's engine sinks on a synchronous logger instead: they are "
            "already asynchronous. (This warning is printed once.)\n",
            stderr);
    }
}

std::size_t heap_size(const std::string& s) noexcept {
    // Strings within the small-string buffer cost nothing beyond sizeof(record).
    return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

}  // namespace

namespace {
// Fields are capped at capture (core/limits.h); below that depth a tree from elsewhere counts
// as a string rather than being recursed into without bound.
std::size_t approx_bytes_at(const nlohmann::json& j, std::size_t depth) noexcept {
    switch (j.type()) {
        case nlohmann::json::value_t::object: {
            if (depth > detail::max_field_depth) {
                return 64;
            }
            std::size_t n = 48;
            for (auto it = j.begin(); it != j.end(); ++it) {  // items() copies array indices
                n += 48 + it.key().size() + approx_bytes_at(it.value(), depth + 1);
            }
            return n;
        }
        case nlohmann::json::value_t::array: {
            if (depth > detail::max_field_depth) {
                return 64;
            }
            std::size_t n = 24;
            for (const auto& value : j) {
                n += approx_bytes_at(value, depth + 1);
            }
            return n;
        }
        case nlohmann::json::value_t::string:
            return 16 + 32 + j.get_ref<const std::string&>().size();
        default:
            return 16;
    }
}
}  // namespace

std::size_t approx_json_bytes(const nlohmann::json& j) noexcept {
    return approx_bytes_at(j, 1);
}
record record::capture(const spdlog::details::log_msg& msg) {
    record r;
    r.time = msg.time;
    r.level = msg.level;
    r.logger_name.assign(msg.logger_name.data(), msg.logger_name.size());
    r.message.assign(msg.payload.data(), msg.payload.size());
    r.thread_id = msg.thread_id;
    const auto info = detail::capture_context(msg);
    if (info.thread_name != nullptr) {
        r.thread_name = *info.thread_name;
    }
    if (!msg.source.empty()) {
        r.source_file = msg.source.filename != nullptr ? msg.source.filename : "";
        r.source_line = msg.source.line;
        r.source_function = msg.source.funcname != nullptr ? msg.source.funcname : "";
    }
    r.fields = fields_of(msg);
    return r;
}

spdlog::details::log_msg record::to_log_msg() const {
    spdlog::source_loc loc;
    if (has_source()) {
        loc = spdlog::source_loc{source_file.c_str(), source_line, source_function.c_str()};
    }
    spdlog::details::log_msg msg(time, loc, logger_name, level, message);
    msg.thread_id = thread_id;
    return msg;
}

std::string record::exception() const {
    if (fields.is_object()) {
        auto it = fields.find(exception_field);
        if (it != fields.end()) {
            // Any JSON value: dumped with invalid UTF-8 replaced (strict dump() would throw).
            return it->is_string()
                       ? it->get<std::string>()
                       : it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    }
    return {};
}

std::size_t record::approx_bytes() const noexcept {
    std::size_t n = sizeof(record) + heap_size(logger_name) + heap_size(message) +
                    heap_size(thread_name) + heap_size(source_file) + heap_size(source_function);
    if (!fields.is_null()) {
        n += approx_json_bytes(fields);
    }
    return n;
}

int process_id() noexcept {
    static const int pid = static_cast<int>(spdlog::details::os::pid());
    return pid;
}

const std::string& host_name() {
    static const std::string name = [] {
#if defined(__unix__) || defined(__APPLE__)
        char buf[256] = {0};
        if (gethostname(buf, sizeof buf - 1) == 0 && buf[0] != '\0') {
            return std::string(buf);
        }
#endif
        return std::string("localhost");
    }();
    return name;
}

const std::string& current_thread_name() {
    return detail::thread_name(detail::context());
}

void set_thread_name(const std::string& name) {
#if defined(__linux__)
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    const_cast<std::string&>(current_thread_name()) = name.substr(0, 15);
#elif defined(__APPLE__)
    pthread_setname_np(name.c_str());
    const_cast<std::string&>(current_thread_name()) = name;
#else
    const_cast<std::string&>(current_thread_name()) = name;
#endif
}

nlohmann::json fields_of(const spdlog::details::log_msg& msg) {
    const auto info = detail::capture_context(msg);
    if (const record* current = detail::context().current_record) {
        return current->fields;
    }
    if (!info.same_thread) {
        warn_fields_unreachable_once();
        return nullptr;
    }
    nlohmann::json out;  // null: no fields, the common and cheap case
    if (thread_has_fields()) {
        out = current_thread_fields();
    }
#ifdef SPDLOG_EXT_HAS_MDC
    for (const auto& [key, value] : spdlog::mdc::get_context()) {
        if (out.is_null()) {
            out = nlohmann::json::object();
        }
        if (!out.contains(key)) {  // scoped fields win over MDC entries of the same name
            out[key] = value;
        }
    }
#endif
    return out;
}

record_scope::record_scope(const record& r) noexcept : previous_(detail::context().current_record) {
    detail::context().current_record = &r;
}

record_scope::~record_scope() {
    detail::context().current_record = previous_;
}

}  // namespace spdlog_ext
