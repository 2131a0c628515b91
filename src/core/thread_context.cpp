#include "core/thread_context.h"
#include "core/mdc_support.h"

#include <spdlog/details/os.h>

#if defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace spdlog_ext::detail {

namespace {
thread_local thread_context tls_context;  // trivial: no guard, no registration

// Frees what the context allocated when the thread ends.
struct context_owner {
    ~context_owner() {
        delete tls_context.fields;
        tls_context.fields = nullptr;
        delete tls_context.name;
        tls_context.name = nullptr;
    }
};
void own_context() {
    thread_local context_owner owner;
    (void)owner;
}

std::string read_os_thread_name() {
#if defined(__linux__) || defined(__APPLE__)
    char buf[64] = {0};
    if (pthread_getname_np(pthread_self(), buf, sizeof buf) == 0) {
        return buf;
    }
#endif
    return {};
}
}  // namespace

thread_context& context() noexcept {
    return tls_context;
}

field_list& field_stack() {
    if (tls_context.fields == nullptr) {
        own_context();
        tls_context.fields = new field_list();
    }
    return *tls_context.fields;
}

const std::string& thread_name(thread_context& c) {
    if (c.name == nullptr) {
        own_context();
        c.name = new std::string(read_os_thread_name());
    }
    return *c.name;
}

capture_info capture_context(const spdlog::details::log_msg& msg) noexcept {
    thread_context& c = tls_context;
    if (c.thread_id == 0) {
        c.thread_id = spdlog::details::os::thread_id();
    }
    capture_info info;
    info.same_thread = msg.thread_id == c.thread_id;
    if (info.same_thread) {
        try {
            info.thread_name = &thread_name(c);
        } catch (...) {  // out of memory: go without the name
        }
        bool mdc = false;
#ifdef SPDLOG_EXT_HAS_MDC
        mdc = !spdlog::mdc::get_context().empty();
#endif
        info.may_have_fields =
            c.current_record != nullptr || mdc || (c.fields != nullptr && !c.fields->empty());
        if (c.current_record == nullptr && !mdc && c.snapshot != nullptr && *c.snapshot) {
            info.snapshot = c.snapshot;
        }
    } else {
        info.may_have_fields = true;  // let fields_of() decide (and warn about async loggers)
    }
    return info;
}

}  // namespace spdlog_ext::detail
