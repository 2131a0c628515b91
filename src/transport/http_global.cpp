// init_network_libraries() of a build with the HTTP sinks: libcurl's global init, once.
#include <curl/curl.h>

#include "core/process_init.h"

namespace spdlog_ext::detail {

void init_network_libraries() {
    static const bool done = [] {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return true;
    }();
    (void)done;
}

}  // namespace spdlog_ext::detail
