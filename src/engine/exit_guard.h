// Internal: engine sinks stay safe when a program exits without spdlog_ext::shutdown().
//
// Ordinary programs return from main, call std::exit, or call only spdlog::shutdown(). Exit
// handlers and static destructors then run in the reverse order of their registration, and
// OpenSSL registers its own cleanup with atexit when it is first initialised: a worker still
// delivering over TLS after that cleanup crashes the process. So the first engine sink
// initialises the TLS libraries (libcurl, OpenSSL), then registers an exit hook, which therefore
// runs before their cleanup. The hook stops every live engine sink within its shutdown_timeout
// (what is left goes to the fallback, counted). See docs/lifecycle.md.
#pragma once

#include <memory>

namespace spdlog_ext::detail {

class engine_core;

// Called by every engine when it starts. Not keeping it alive.
void track_for_exit(const std::shared_ptr<engine_core>& core);

// True once the exit hook has finished. The TLS libraries may be gone then: a worker that
// outlived its deadline must not open a connection any more.
bool process_exit_done() noexcept;

}  // namespace spdlog_ext::detail
