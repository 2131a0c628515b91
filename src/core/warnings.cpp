#include "core/warnings.h"

#include <cstdio>
#include <mutex>

namespace spdlog_ext::detail {

namespace {

struct warning_channel {
    std::mutex mu;  // its own lock: warnings come from any thread, also under the registry's
    std::function<void(const std::string&)> handler;
};

warning_channel& channel() {
    static warning_channel c;
    return c;
}

}  // namespace

void warn(const std::string& message) {
    std::function<void(const std::string&)> handler;
    {
        std::lock_guard<std::mutex> lock(channel().mu);
        handler = channel().handler;
    }
    if (handler) {
        try {
            handler(message);
            return;
        } catch (...) {
            // printed below: a warning is never lost, and never throws into the caller
        }
    }
    std::fprintf(stderr, "spdlog_ext: %s\n", message.c_str());
}

void set_warning_handler(std::function<void(const std::string&)> handler) {
    std::lock_guard<std::mutex> lock(channel().mu);
    channel().handler = std::move(handler);
}

}  // namespace spdlog_ext::detail
