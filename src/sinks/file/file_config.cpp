#include "sinks/file/file_config.h"

namespace spdlog_ext::detail {

jsonl_file_config file_config_from(const env_options& env) {
    jsonl_file_config cfg;
    cfg.path = env.get_string("PATH", cfg.path);
    if (cfg.path.empty()) {
        env.fail("PATH", "is empty: give a file path such as logs/app.jsonl");
    }
    cfg.weekly = env.get_bool("WEEKLY", cfg.weekly);
    cfg.max_size = env.get_bytes("MAX_SIZE", cfg.max_size);
    cfg.max_files = env.get_size("MAX_FILES", cfg.max_files);
    cfg.utc = env.get_bool("UTC", cfg.utc);
    return cfg;
}

}  // namespace spdlog_ext::detail
