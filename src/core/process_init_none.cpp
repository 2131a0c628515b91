// init_network_libraries() of a build without the HTTP sinks: no network library to set up.
#include "core/process_init.h"

namespace spdlog_ext::detail {

void init_network_libraries() {}

}  // namespace spdlog_ext::detail
