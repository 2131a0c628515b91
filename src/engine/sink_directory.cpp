#include "engine/sink_directory.h"

#include <mutex>
#include <typeinfo>

#if defined(__GNUG__)
#include <cxxabi.h>

#include <cstdlib>
#endif

namespace spdlog_ext::detail {

namespace {

struct directory_entry {
    std::uint64_t id;
    std::weak_ptr<engine_core> core;
    std::chrono::system_clock::time_point created;
};

struct directory {
    std::mutex mu;
    std::uint64_t next_id = 1;
    std::vector<directory_entry> entries;
};

directory& the_directory() {
    // Never destroyed: sinks owned by static objects leave it during static destruction.
    static auto* d = new directory;
    return *d;
}

}  // namespace

std::uint64_t join_sink_directory(const std::shared_ptr<engine_core>& core) {
    auto& d = the_directory();
    const auto created = std::chrono::system_clock::now();
    std::lock_guard<std::mutex> lock(d.mu);
    const std::uint64_t id = d.next_id++;
    d.entries.push_back({id, core, created});
    return id;
}

void leave_sink_directory(std::uint64_t id) noexcept {
    auto& d = the_directory();
    try {
        std::lock_guard<std::mutex> lock(d.mu);
        for (auto it = d.entries.begin(); it != d.entries.end(); ++it) {
            if (it->id == id) {
                d.entries.erase(it);  // moves weak_ptrs: no allocation, no throw
                return;
            }
        }
    } catch (...) {
        // A failing mutex: the entry stays, expired, and live_sinks() skips it.
    }
}

std::vector<live_sink> live_sinks() {
    auto& d = the_directory();
    std::vector<live_sink> out;
    std::lock_guard<std::mutex> lock(d.mu);
    out.reserve(d.entries.size());
    for (const auto& e : d.entries) {
        if (auto core = e.core.lock()) {
            out.push_back({e.id, std::move(core), e.created});
        }
    }
    return out;
}

std::string backend_kind_of(const std::type_info& type) {
    std::string name = type.name();
#if defined(__GNUG__)
    int status = 0;
    char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    if (status == 0 && demangled != nullptr) {
        name = demangled;
    }
    std::free(demangled);
#endif
    if (const auto angle = name.find('<'); angle != std::string::npos) {
        name.resize(angle);
    }
    if (const auto colons = name.rfind("::"); colons != std::string::npos) {
        name.erase(0, colons + 2);
    }
    if (const auto space = name.rfind(' '); space != std::string::npos) {
        name.erase(0, space + 1);  // MSVC: "class x"
    }
    const std::string suffix = "_backend";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        name.resize(name.size() - suffix.size());
    }
    return name;
}

}  // namespace spdlog_ext::detail
