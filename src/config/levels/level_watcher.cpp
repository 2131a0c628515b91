// The watcher thread. It waits in poll() on a wake pipe and the sources' descriptors until a
// source is due, asks the sources, and applies a changed spec through spdlog's registry.
//
// Exit safety (see docs/lifecycle.md, the engine's exit_guard): every watcher is stopped by an
// exit hook registered after spdlog's registry exists (so it runs before the registry's static
// destructor) and after OpenSSL's own exit cleanup (libpq may use it on this thread). Stopping
// closes the apply gate first: once stop() returns, the thread never calls into spdlog again, even
// when it is still stuck in a source (a connection attempt) and is detached after a second.
#include "config/levels/level_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <spdlog/details/registry.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "config/levels/file_level_source.h"
#include "config/levels/level_apply.h"
#include "core/openssl_exit_order.h"
#include "core/warnings.h"

#if defined(__GLIBC__)
#include <errno.h>  // program_invocation_short_name
#endif

namespace spdlog_ext {

namespace detail {

struct level_watcher_state {
    level_watcher_options options;
    std::vector<std::unique_ptr<level_source>> sources;  // used by the thread only
    std::vector<std::optional<level_reading>> readings;  // the thread only
    level_baseline baseline;

    std::mutex mu;  // guards the members below
    std::vector<std::weak_ptr<spdlog::logger>> attached;
    std::optional<effective_levels> current;  // nullopt: only the baseline applies
    std::string current_text;
    std::string last_rejected;  // reported once until a valid spec comes

    std::mutex apply_mu;  // the gate: held while calling into spdlog; closed by stop()
    bool closed = false;

    std::atomic<bool> stop_requested{false};
    int wake[2] = {-1, -1};

    std::mutex stop_mu;  // one stop at a time; guards `thread`
    std::thread thread;
    std::mutex done_mu;
    std::condition_variable done_cv;
    bool done = false;

    ~level_watcher_state() {
        for (int fd : wake) {
            if (fd >= 0)
                ::close(fd);
        }
    }
};

namespace {

constexpr auto stop_wait = std::chrono::seconds(1);

// Never destroyed: the exit hook runs while static destructors run.
struct live_watchers {
    std::mutex mu;
    std::vector<std::weak_ptr<level_watcher_state>> states;
};
live_watchers& watchers() {
    static auto* const all = new live_watchers;
    return *all;
}

void report(level_watcher_state& s, const std::string& text, const std::string& error) {
    if (text == s.last_rejected)
        return;
    s.last_rejected = text;
    std::string shown = text.substr(0, 200);
    for (char& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    }
    warn("runtime levels: ignoring the spec '" + shown + (text.size() > 200 ? "...': " : "': ") +
         error + " (the previous levels stay)");
    if (s.options.on_change) {
        try {
            s.options.on_change(text, error);
        } catch (...) {
        }
    }
}

void apply_through_gate(level_watcher_state& s, const effective_levels& levels) {
    std::vector<std::weak_ptr<spdlog::logger>> attached;
    {
        std::lock_guard<std::mutex> lock(s.mu);
        attached = s.attached;
    }
    std::lock_guard<std::mutex> gate(s.apply_mu);
    if (s.closed)
        return;
    try {
        apply_levels(levels, attached);
    } catch (...) {  // allocation failure: keep running with the old levels
    }
}

// Picks the winning reading, validates it and applies it when it differs from the current one.
void evaluate(level_watcher_state& s) {
    const level_reading* chosen = nullptr;
    std::string from;
    for (std::size_t i = 0; i < s.sources.size(); ++i) {
        if (s.readings[i] && s.readings[i]->present) {
            chosen = &*s.readings[i];
            from = s.sources[i]->name();
            break;
        }
    }
    const std::string text = chosen ? chosen->text : std::string();
    std::string error = chosen ? chosen->error : std::string();
    std::optional<level_spec> spec;
    if (error.empty())
        spec = parse_level_spec(text, &error);
    if (!spec) {
        report(s, text, error + " in " + from);
        return;
    }
    s.last_rejected.clear();
    const std::string canonical = spec->to_string();
    const effective_levels levels = overlay(s.baseline, *spec);
    {
        std::lock_guard<std::mutex> lock(s.mu);
        if (canonical == s.current_text)
            return;
        // Stored before the registry is updated: a logger registered meanwhile reads it
        // (apply_current_to) or is updated by set_levels.
        s.current = canonical.empty() ? std::nullopt : std::optional<effective_levels>(levels);
        s.current_text = canonical;
    }
    apply_through_gate(s, levels);
    if (s.options.on_change) {
        try {
            s.options.on_change(canonical, "");
        } catch (...) {
        }
    }
}

void run(const std::shared_ptr<level_watcher_state>& state) {
    auto& s = *state;
    s.readings.resize(s.sources.size());
    std::vector<bool> readable(s.sources.size(), true);  // everything is checked once at start
    while (!s.stop_requested.load()) {
        const auto now = level_source::clock::now();
        bool changed = false;
        for (std::size_t i = 0; i < s.sources.size() && !s.stop_requested.load(); ++i) {
            if (!readable[i] && now < s.sources[i]->next_due())
                continue;
            auto reading = s.sources[i]->check(now);
            if (reading && (!s.readings[i] || !(*s.readings[i] == *reading))) {
                s.readings[i] = std::move(reading);
                changed = true;
            }
        }
        if (changed && !s.stop_requested.load())
            evaluate(s);

        std::vector<pollfd> fds;
        fds.push_back(pollfd{s.wake[0], POLLIN, 0});
        auto next = level_source::clock::now() + std::chrono::seconds(60);
        for (const auto& source : s.sources) {
            fds.push_back(pollfd{source->wait_fd(), POLLIN, 0});  // -1 is ignored by poll()
            next = std::min(next, source->next_due());
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            next - level_source::clock::now());
        const int timeout = static_cast<int>(
            std::max<std::int64_t>(0, std::min<std::int64_t>(wait.count() + 1, 60000)));
        const int n = ::poll(fds.data(), fds.size(), timeout);
        for (std::size_t i = 0; i < s.sources.size(); ++i) {
            readable[i] = n > 0 && (fds[i + 1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        }
        if (n > 0 && fds[0].revents != 0) {
            char buf[64];
            while (::read(s.wake[0], buf, sizeof buf) > 0) {
            }
        }
    }
}

void stop_state(const std::shared_ptr<level_watcher_state>& state,
                std::chrono::steady_clock::time_point deadline) {
    auto& s = *state;
    {
        std::lock_guard<std::mutex> gate(s.apply_mu);
        s.closed = true;
    }
    s.stop_requested.store(true);
    if (s.wake[1] >= 0) {
        const char c = 'x';
        (void)!::write(s.wake[1], &c, 1);
    }
    std::lock_guard<std::mutex> lock(s.stop_mu);
    if (!s.thread.joinable())
        return;
    if (s.thread.get_id() == std::this_thread::get_id()) {  // stop() from on_change
        s.thread.detach();
        return;
    }
    std::unique_lock<std::mutex> done_lock(s.done_mu);
    const bool finished = s.done_cv.wait_until(done_lock, deadline, [&] { return s.done; });
    done_lock.unlock();
    if (finished) {
        s.thread.join();
    } else {
        s.thread.detach();  // stuck in a source; the closed gate keeps it away from spdlog
    }
}

void stop_every_watcher() noexcept {
    std::vector<std::shared_ptr<level_watcher_state>> live;
    {
        std::lock_guard<std::mutex> lock(watchers().mu);
        for (auto& weak : watchers().states) {
            if (auto s = weak.lock())
                live.push_back(std::move(s));
        }
        watchers().states.clear();
    }
    const auto deadline = std::chrono::steady_clock::now() + stop_wait;
    for (auto& s : live) {  // ask them all first
        s->stop_requested.store(true);
        if (s->wake[1] >= 0) {
            const char c = 'x';
            (void)!::write(s->wake[1], &c, 1);
        }
    }
    for (auto& s : live) {
        try {
            stop_state(s, deadline);
        } catch (...) {
        }
    }
}

void install_exit_hook() {
    // Exit handlers and static destructors run in reverse order: spdlog's registry (a function
    // static) and OpenSSL's cleanup must come into existence before the hook is registered.
    (void)spdlog::details::registry::instance();
    detail::init_openssl_before_exit_hook();
    std::atexit([] { stop_every_watcher(); });
}

}  // namespace

void register_exit_hook_after_first_use() {
    static std::once_flag again;
    std::call_once(again, [] { std::atexit([] { stop_every_watcher(); }); });
}

std::string default_level_service() {
#if defined(__GLIBC__)
    if (program_invocation_short_name != nullptr)
        return program_invocation_short_name;
#endif
    return "";
}

std::string default_level_host() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0)
        return buf;
    return "";
}

std::unique_ptr<level_watcher> level_watcher_access::start(
    level_watcher_options options, std::vector<std::unique_ptr<level_source>> sources) {
    static std::once_flag once;
    std::call_once(once, install_exit_hook);
    auto state = std::make_shared<level_watcher_state>();
    if (::pipe2(state->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        throw std::system_error(errno, std::generic_category(), "level_watcher: pipe");
    }
    if (options.service.empty())
        options.service = default_level_service();
    if (options.host.empty())
        options.host = default_level_host();
    state->options = std::move(options);
    state->sources = std::move(sources);
    state->baseline = capture_baseline();
    {
        std::lock_guard<std::mutex> lock(watchers().mu);
        auto& all = watchers().states;
        all.erase(std::remove_if(all.begin(), all.end(), [](const auto& w) { return w.expired(); }),
                  all.end());
        all.push_back(state);
    }
    {
        std::lock_guard<std::mutex> stopping(state->stop_mu);  // the exit hook may stop it now
        state->thread = std::thread([state] {
            try {
                run(state);
            } catch (...) {  // out of memory: the levels stay as they are
            }
            std::lock_guard<std::mutex> lock(state->done_mu);
            state->done = true;
            state->done_cv.notify_all();
        });
    }
    return std::unique_ptr<level_watcher>(new level_watcher(std::move(state)));
}

void level_watcher_access::reapply(level_watcher& watcher) {
    auto& s = *watcher.state_;
    std::optional<effective_levels> levels;
    {
        std::lock_guard<std::mutex> lock(s.mu);
        levels = s.current;
    }
    if (levels)
        apply_through_gate(s, *levels);
}

void level_watcher_access::apply_current_to(level_watcher& watcher, spdlog::logger& logger) {
    auto& s = *watcher.state_;
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.current)
        logger.set_level(s.current->for_logger(logger.name()));
}

}  // namespace detail

level_watcher::level_watcher(std::shared_ptr<detail::level_watcher_state> state)
    : state_(std::move(state)) {}

level_watcher::~level_watcher() {
    stop();
}

std::unique_ptr<level_watcher> level_watcher::start(level_watcher_options options) {
    std::vector<std::unique_ptr<detail::level_source>> sources;
    if (!options.file.empty()) {
        sources.push_back(detail::make_file_level_source(options.file, options.file_check));
    }
    return detail::level_watcher_access::start(std::move(options), std::move(sources));
}

std::string level_watcher::current_spec() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->current_text;
}

void level_watcher::attach(std::weak_ptr<spdlog::logger> logger) {
    std::shared_ptr<spdlog::logger> alive = logger.lock();
    if (!alive)
        return;
    std::lock_guard<std::mutex> lock(state_->mu);
    auto& list = state_->attached;
    list.erase(std::remove_if(list.begin(), list.end(), [](const auto& w) { return w.expired(); }),
               list.end());
    list.push_back(std::move(logger));
    if (state_->current)
        alive->set_level(state_->current->for_logger(alive->name()));
}

void level_watcher::stop() {
    detail::stop_state(state_, std::chrono::steady_clock::now() + detail::stop_wait);
}

}  // namespace spdlog_ext
