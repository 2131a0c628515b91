// Internal: process-wide set-up of the network libraries this build links (libcurl's global
// init), so that the engine's exit guard can run it without knowing any transport.
#pragma once

namespace spdlog_ext::detail {

// Once per process, thread-safe (curl_global_init is not, before libcurl 7.84). Every HTTP
// transport calls it; the exit guard too, before registering its exit hook (engine/exit_guard.h).
// A no-op in a build without the HTTP sinks (core/process_init_none.cpp).
void init_network_libraries();

}  // namespace spdlog_ext::detail
