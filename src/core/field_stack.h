// Internal: the thread-local stack behind scoped_fields.
#pragma once

#include "spdlog_ext/fields.h"

namespace spdlog_ext::detail {
field_list& thread_field_stack() noexcept;
}  // namespace spdlog_ext::detail
