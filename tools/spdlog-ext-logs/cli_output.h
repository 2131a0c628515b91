// spdlog-ext-logs: how rows and stats are printed: journalctl-like lines (levels coloured only
// when asked) or one JSON object per line.
#pragma once

#include <cstdio>
#include <string>

#include "spdlog_ext/postgres_log_store.h"

namespace spdlog_ext_cli {

struct output_style {
    bool json = false;
    bool color = false;
    bool utc = false;  // human times in UTC (default: local time)
};

// --color auto|always|never: auto colours only a terminal, and never when NO_COLOR is set.
bool want_color(const std::string& mode, std::FILE* stream);

// "2026-11-28 14:03:07.123456" in local time (or UTC).
std::string format_time(spdlog_ext::log_time time, bool utc);

// One row: a JSON line (row.to_json()), or "time LEVEL logger[host] message  key=value ..." with
// the exception indented below. Control characters in stored text are escaped, so that a log
// record cannot drive the terminal.
void print_row(const spdlog_ext::log_row& row, const output_style& style, std::FILE* out);

void print_stats(const spdlog_ext::log_stats& stats, const output_style& style, std::FILE* out);

}  // namespace spdlog_ext_cli
