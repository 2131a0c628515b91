#include "engine/exit_guard.h"


#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/openssl_exit_order.h"
#include "core/process_init.h"
#include "engine/engine_core.h"

namespace spdlog_ext::detail {

namespace {

std::atomic<bool> exit_done{false};

// Never destroyed: the hook and late workers use it while static destructors run.
struct live_engines {
    std::mutex mu;
    std::vector<std::weak_ptr<engine_core>> cores;
    std::size_t prune_at = 64;
};
live_engines& engines() {
    static auto* const state = new live_engines;
    return *state;
}

void stop_every_engine() noexcept {
    std::vector<std::shared_ptr<engine_core>> cores;
    {
        std::lock_guard<std::mutex> lock(engines().mu);
        for (auto& weak : engines().cores) {
            if (auto core = weak.lock()) {
                cores.push_back(std::move(core));
            }
        }
        engines().cores.clear();
    }
    // Ask them all first, so that they drain in parallel, each within its own deadline.
    for (auto& core : cores) {
        core->request_stop(core->config().shutdown_timeout);
    }
    for (auto& core : cores) {
        try {
            core->shutdown(core->config().shutdown_timeout);
        } catch (...) {
        }
    }
    exit_done.store(true);
}

void install_exit_hook() {
    init_network_libraries();
    init_openssl_before_exit_hook();
    std::atexit([] { stop_every_engine(); });
}

}  // namespace

void track_for_exit(const std::shared_ptr<engine_core>& core) {
    static std::once_flag once;
    std::call_once(once, install_exit_hook);
    auto& state = engines();
    std::lock_guard<std::mutex> lock(state.mu);
    if (state.cores.size() >= state.prune_at) {
        state.cores.erase(std::remove_if(state.cores.begin(), state.cores.end(),
                                         [](const auto& w) { return w.expired(); }),
                          state.cores.end());
        state.prune_at = std::max<std::size_t>(64, state.cores.size() * 2);
    }
    state.cores.push_back(core);
}

bool process_exit_done() noexcept {
    return exit_done.load(std::memory_order_relaxed);
}

}  // namespace spdlog_ext::detail
