// The cost of a scoped_timer and time_call: disabled (the level is off for the logger) and
// enabled, against a plain logger->info on the same logger (spdlog's null_sink_mt, so the sink
// costs nothing), with the heap allocations per timer counted by a replaced operator new.
//
//   bench_timer [timers=200000]
//
// One thread; the median of SPDLOG_EXT_BENCH_RUNS (default 5) runs, in ns per timer.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <spdlog_ext/timer.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "bench_common.h"

// The replaced new/delete pair over malloc/free is correct; GCC's check sees only the inlined
// free() after an operator new.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

struct measurement {
    double ns_per_op;
    double allocations_per_op;
};

measurement measure(int ops, const std::function<void(int)>& body) {
    const char* runs_env = std::getenv("SPDLOG_EXT_BENCH_RUNS");
    const int runs = runs_env != nullptr ? std::max(1, std::atoi(runs_env)) : 5;
    std::vector<double> ns;
    long allocated = 0;
    for (int r = 0; r < runs; ++r) {
        const long before = allocations.load();
        const auto t0 = clock_type::now();
        body(ops);
        ns.push_back(seconds_since(t0) * 1e9 / ops);
        allocated = allocations.load() - before;
    }
    return {median(ns), static_cast<double>(allocated) / ops};
}

void print(const char* what, const measurement& m) {
    std::printf("%-52s %8.1f ns  %5.2f allocations\n", what, m.ns_per_op, m.allocations_per_op);
}

}  // namespace

int main(int argc, char** argv) {
    const int ops = argc > 1 ? std::atoi(argv[1]) : 200000;
    auto logger =
        std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    volatile int sink_value = 0;

    std::printf("per timer, median of runs, %d timers per run, one thread\n", ops);
    logger->set_level(spdlog::level::warn);  // info is disabled
    measure(ops, [&](int n) {  // warm-up (the first run pays for page faults and clock ramp-up)
        for (int i = 0; i < n; ++i) {
            sink_value = spdlog_ext::time_call(logger, "f", [i] { return i; });
        }
    });
    print("disabled: scoped_timer(logger, name)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(logger, "db.query");
                  t.lap("parsed");
              }
          }));
    print("disabled: scoped_timer(*logger, name, info, {1 field})", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(*logger, "db.query", spdlog::level::info,
                                             {{"table", "orders"}});
              }
          }));
    print("disabled: time_call(logger, name, fn)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  sink_value = spdlog_ext::time_call(logger, "f", [i] { return i; });
              }
          }));

    logger->set_level(spdlog::level::info);
    print("enabled: logger->info(\"db.query took {} ms\", 1.5)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  logger->info("db.query took {:.3f} ms", 1.5);
              }
          }));
    print("enabled: scoped_timer(logger, name)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(logger, "db.query");
              }
          }));
    print("enabled: scoped_timer(*logger, name, info, {1 field})", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(*logger, "db.query", spdlog::level::info,
                                             {{"table", "orders"}});
              }
          }));
    print("enabled: the same + 2 laps", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(*logger, "db.query", spdlog::level::info,
                                             {{"table", "orders"}});
                  t.lap("parsed");
                  t.lap("fetched");
              }
          }));
    print("enabled: the same + metric (a second record)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  spdlog_ext::scoped_timer t(*logger, "db.query", spdlog::level::info,
                                             {{"table", "orders"}}, {"db_query"});
              }
          }));
    print("enabled: time_call(logger, name, fn)", measure(ops, [&](int n) {
              for (int i = 0; i < n; ++i) {
                  sink_value = spdlog_ext::time_call(logger, "f", [i] { return i; });
              }
          }));
    return 0;
}
