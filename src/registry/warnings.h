// Internal: the registry's warning channel (spdlog_ext::set_warning_handler, default stderr), for
// the sinks' configuration warnings too (an unknown DD_SITE).
#pragma once

#include <string>

namespace spdlog_ext::detail {

// One line to the warning handler set by set_warning_handler(), else to stderr. Never throws
// into the caller for a handler that does (the warning is then printed on stderr).
void registry_warn(const std::string& message);

}  // namespace spdlog_ext::detail
