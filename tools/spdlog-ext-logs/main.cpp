// spdlog-ext-logs: step 0 placeholder (the CLI work replaces it).
#include <cstdio>

#include "spdlog_ext/postgres_log_store.h"

int main() {
    std::fputs("spdlog-ext-logs: not implemented yet\n", stderr);
    return 1;
}
