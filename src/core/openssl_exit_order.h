// Internal: exit hooks (the engines' drain, the level watchers' stop) must run before OpenSSL's
// own exit-time cleanup, and exit handlers run in reverse order of registration.
#pragma once

#include <dlfcn.h>

#include <cstdint>

namespace spdlog_ext::detail {

// Initialises OpenSSL, wherever it comes from (libcurl, libpq), so that its cleanup is registered
// now, before the caller's hook, and therefore runs after it. Looked up at run time because the
// library links OpenSSL only through libcurl and libpq; absent, there is nothing to protect.
inline void init_openssl_before_exit_hook() {
    using init_fn = int (*)(std::uint64_t, const void*);
    if (void* sym = ::dlsym(RTLD_DEFAULT, "OPENSSL_init_ssl")) {
        reinterpret_cast<init_fn>(sym)(0, nullptr);
    }
}

}  // namespace spdlog_ext::detail
