// A writer process for the live-tail tests: an ordinary program that logs COUNT records through
// postgres_batch_sink (postgres_config::from_env(): LOG_POSTGRES_URL, LOG_POSTGRES_TABLE_PREFIX,
// LOG_POSTGRES_BATCH_MAX_DELAY, ...), each with the fields {"run": RUN, "writer": WRITER,
// "seq": i}, sleeping PAUSE_US microseconds after each, then flushes and returns from main.
// Records the sink could not store go to its fallback (stderr) with those fields.
//
//   log_writer_child COUNT RUN WRITER PAUSE_US
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "spdlog_ext/fields.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: log_writer_child COUNT RUN WRITER PAUSE_US\n");
        return 2;
    }
    const int count = std::atoi(argv[1]);
    const std::string run = argv[2];
    const int writer = std::atoi(argv[3]);
    const auto pause = std::chrono::microseconds(std::atoi(argv[4]));
    auto log = spdlog_ext::postgres_logger_mt("writer", spdlog_ext::postgres_config::from_env());
    for (int i = 0; i < count; ++i) {
        spdlog_ext::log(log, spdlog::level::info, {{"run", run}, {"writer", writer}, {"seq", i}},
                        "writer {} record {}", writer, i);
        if (pause.count() > 0) {
            std::this_thread::sleep_for(pause);
        }
    }
    log->flush();
    return 0;
}
