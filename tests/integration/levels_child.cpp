// A child process for the runtime levels tests: an ordinary program whose loggers come from
// make_logger (LOG_BACKENDS, and LOG_POSTGRES_LEVELS / LOG_LEVELS_FILE start the level watcher),
// that keeps logging and reports its effective levels until told to leave.
//
//   levels_child STATUS_FILE
//
// Every ~5 ms it logs one record on each of its loggers ("app", "db") and rewrites STATUS_FILE
// (atomically, by rename) with one line of key=value words:
//   pid=4242 app=info db=debug late=- late_initial=- ticks=123 max_log_us=45
// (late: the logger "late", "-" until made; late_initial: its level when it was made; max_log_us:
// the slowest log call so far, in microseconds.) It reacts to files next to STATUS_FILE:
//   STATUS_FILE.make_late    make the logger "late" with make_logger (once)
//   STATUS_FILE.leave        contains return | exit | spdlog_shutdown: leave that way
// The level watcher is still running when it leaves; the exit code must be 0 and it must not hang.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "spdlog_ext/registry.h"

namespace {

bool exists(const std::string& path) {
    return std::ifstream(path).good();
}

std::string level_name(const std::shared_ptr<spdlog::logger>& logger) {
    if (!logger)
        return "-";
    const auto name = spdlog::level::to_string_view(logger->level());
    return std::string(name.data(), name.size());
}

[[noreturn]] void leave_with_exit() {
    std::exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: levels_child STATUS_FILE\n");
        return 2;
    }
    const std::string status = argv[1];
    auto app = spdlog_ext::make_logger("app");
    auto db = spdlog_ext::make_logger("db");
    std::shared_ptr<spdlog::logger> late;
    std::string late_initial = "-";
    long long max_log_us = 0;
    for (long long tick = 0;; ++tick) {
        const auto t0 = std::chrono::steady_clock::now();
        app->info("tick {}", tick);
        db->debug("tick {}", tick);
        if (late)
            late->info("tick {}", tick);
        const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - t0);
        max_log_us = std::max<long long>(max_log_us, took.count());

        if (!late && exists(status + ".make_late")) {
            late = spdlog_ext::make_logger("late");
            late_initial = level_name(late);
        }
        {
            std::ofstream out(status + ".tmp", std::ios::trunc);
            out << "pid=" << ::getpid() << " app=" << level_name(app) << " db=" << level_name(db)
                << " late=" << level_name(late) << " late_initial=" << late_initial
                << " ticks=" << tick << " max_log_us=" << max_log_us << "\n";
        }
        std::rename((status + ".tmp").c_str(), status.c_str());

        std::string how;
        std::ifstream(status + ".leave") >> how;
        if (how == "exit")
            leave_with_exit();
        if (how == "spdlog_shutdown") {
            spdlog::shutdown();
            return 0;
        }
        if (how == "return")
            return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}
