// Internal: the backends LOG_BACKENDS knows without register_backend (console, stderr, file,
// null and the network sinks this build has), for the registry's table.
#pragma once

#include <map>
#include <string>

#include "spdlog_ext/registry.h"

namespace spdlog_ext::detail {

std::map<std::string, backend_factory> builtin_backends();

}  // namespace spdlog_ext::detail
