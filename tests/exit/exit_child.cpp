// A child process for the exit tests: an ordinary program that logs through an engine sink and
// leaves the way programs do, without spdlog_ext::shutdown().
//
//   exit_child HOW API COUNT RUN_ID
//     HOW    return          return from main
//            exit            std::exit(0) from a nested call
//            spdlog_shutdown spdlog::shutdown(), then return
//     API    make_logger     spdlog_ext::make_logger (sinks from LOG_BACKENDS)
//            postgres        spdlog_ext::postgres_logger_mt with postgres_config::from_env()
//            datadog         spdlog_ext::datadog_logger_mt with datadog_config::from_env()
//     COUNT  records to log, each with the fields {"run_id": RUN_ID, "seq": i}
//
// Every record must reach the backend or the fallback (stderr), and the exit code must be 0.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "spdlog_ext/features.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/registry.h"
#if SPDLOG_EXT_WITH_POSTGRES
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#endif
#if SPDLOG_EXT_WITH_HTTP
#include "spdlog_ext/sinks/datadog_http_sink.h"
#endif

namespace {

[[noreturn]] void leave_with_exit() {
    std::exit(0);
}

std::shared_ptr<spdlog::logger> make(const std::string& api) {
    if (api == "make_logger") {
        return spdlog_ext::make_logger("app");
    }
#if SPDLOG_EXT_WITH_POSTGRES
    if (api == "postgres") {
        return spdlog_ext::postgres_logger_mt("app", spdlog_ext::postgres_config::from_env());
    }
#endif
#if SPDLOG_EXT_WITH_HTTP
    if (api == "datadog") {
        return spdlog_ext::datadog_logger_mt("app", spdlog_ext::datadog_config::from_env());
    }
#endif
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: exit_child HOW API COUNT RUN_ID\n");
        return 2;
    }
    const std::string how = argv[1];
    const std::string api = argv[2];
    const int count = std::atoi(argv[3]);
    const std::string run_id = argv[4];
    auto log = make(api);
    if (!log || (how != "return" && how != "exit" && how != "spdlog_shutdown")) {
        std::fprintf(stderr, "exit_child: unknown HOW or API: %s %s\n", how.c_str(), api.c_str());
        return 2;
    }
    for (int i = 0; i < count; ++i) {
        spdlog_ext::log(log, spdlog::level::info, {{"run_id", run_id}, {"seq", i}},
                        "exit test record {}", i);
    }
    if (how == "exit") {
        leave_with_exit();
    }
    if (how == "spdlog_shutdown") {
        spdlog::shutdown();
    }
    return 0;
}
