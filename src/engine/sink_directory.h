// Internal: the process-wide list of live engine-backed sinks, for health() and
// prometheus_text(). Holds each sink's core weakly; engine_sink registers itself when built
// and leaves when destroyed, off the logging path.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

namespace spdlog_ext::detail {

class engine_core;

struct live_sink {
    std::uint64_t id = 0;  // unique for the life of the process
    std::shared_ptr<engine_core> core;
    std::chrono::system_clock::time_point created;
};

// Returns the id to pass to leave_sink_directory.
std::uint64_t join_sink_directory(const std::shared_ptr<engine_core>& core);
void leave_sink_directory(std::uint64_t id) noexcept;
// The sinks alive now, in order of creation. The references are taken under the directory's
// lock and released by the caller: a sink destroyed meanwhile finishes its shutdown as usual,
// and its (stopped) core goes away with the last reference.
std::vector<live_sink> live_sinks();

// "spdlog_ext::detail::datadog_backend" → "datadog": the backend's class name without
// namespaces and a "_backend" suffix.
std::string backend_kind_of(const std::type_info& type);

}  // namespace spdlog_ext::detail
