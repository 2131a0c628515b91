// Internal: the library's warning channel (spdlog_ext::set_warning_handler, default stderr). It
// lives in core so that every layer can warn (the registry about broken backends, a sink about an
// unknown DD_SITE or plain http) without including a layer above it.
#pragma once

#include <functional>
#include <string>

namespace spdlog_ext::detail {

// One line to the handler set by set_warning_handler(), else to stderr. Never throws into the
// caller: when the handler throws, the warning is printed on stderr instead.
void warn(const std::string& message);

// Replaces the handler (an empty one means stderr); spdlog_ext::set_warning_handler forwards here.
void set_warning_handler(std::function<void(const std::string&)> handler);

}  // namespace spdlog_ext::detail
