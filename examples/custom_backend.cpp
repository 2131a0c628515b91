// A custom network backend: write only the encoder + transport (spdlog_ext::backend); the engine
// gives it the queue, batching, retries, fallback and stats. Registered under a name, it is
// usable from LOG_BACKENDS with its options read from LOG_STDOUTBATCH_*.
//
//   LOG_BACKENDS=console,stdoutbatch LOG_STDOUTBATCH_BATCH_MAX_RECORDS=3 ./custom_backend
#include <spdlog_ext/spdlog_ext.h>

#include <cstdio>
#include <cstdlib>

namespace {

// Prints each batch as one line: the simplest possible "transport".
class stdout_batch_backend final : public spdlog_ext::backend {
  public:
    spdlog_ext::batch_result write(spdlog_ext::record_span batch,
                                   const spdlog_ext::write_context&) override {
        std::printf("batch of %zu:", batch.size());
        for (const auto& r : batch) {
            std::printf(" [%s]", r.message.c_str());
        }
        std::printf("\n");
        return spdlog_ext::batch_result::delivered();
    }
};

}  // namespace

int main() {
    spdlog_ext::register_backend("stdoutbatch", [](const spdlog_ext::env_options& env) {
        spdlog_ext::engine_config cfg;
        cfg.batch_max_records = 4;
        env.apply_engine(cfg);  // LOG_STDOUTBATCH_BATCH_MAX_RECORDS, ..._OVERFLOW, ...
        return std::make_shared<spdlog_ext::engine_sink>(std::make_unique<stdout_batch_backend>(),
                                                         cfg);
    });
    setenv("LOG_BACKENDS", "stdoutbatch", 0);

    auto log = spdlog_ext::make_logger("custom");
    for (int i = 0; i < 10; ++i) {
        log->info("event {}", i);
    }
    spdlog_ext::shutdown(std::chrono::seconds(2));
    return 0;
}
