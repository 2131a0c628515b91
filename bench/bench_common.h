// Helpers shared by the benchmarks: timers, medians, environment, child processes.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAS_TSC 1
#endif

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
using tick_type = std::uint64_t;

inline double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

inline std::string env_or_empty(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

inline double median(std::vector<double> v) {
    if (v.empty()) {
        return 0.0;
    }
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

inline std::uint64_t ticks() {
#ifdef BENCH_HAS_TSC
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
#endif
}

inline double ns_per_tick() {
#ifdef BENCH_HAS_TSC
    const auto t0 = clock_type::now();
    const auto c0 = ticks();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto c1 = ticks();
    const auto t1 = clock_type::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(c1 - c0);
#else
    return 1.0;
#endif
}

inline double timer_cost(double tick_ns) {
    std::vector<std::uint64_t> d(100000);
    for (auto& x : d) {
        const auto c0 = ticks();
        x = ticks() - c0;
    }
    std::sort(d.begin(), d.end());
    return d[d.size() / 2] * tick_ns;
}

// The full path of `program` found in $PATH, or empty.
inline std::string find_in_path(const char* program) {
    std::istringstream dirs(env_or_empty("PATH"));
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const std::filesystem::path p = std::filesystem::path(dir.empty() ? "." : dir) / program;
        if (::access(p.c_str(), X_OK) == 0) {
            return p.string();
        }
    }
    return {};
}

// Runs argv (no shell) and returns its exit status (-1: could not start or killed).
inline int run_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
        return -1;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace
