// Internal: the LOG_LEVELS_FILE source: one spec in a text file, re-read when it changes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "config/levels/level_source.h"

namespace spdlog_ext::detail {

std::unique_ptr<level_source> make_file_level_source(std::string path,
                                                     std::chrono::milliseconds check_every);

// The spec in a file's text: lines joined with ',' after dropping '#' comments and blank lines
// ("info\n# db is noisy\ndb=warn\n" → "info,db=warn"). Pure, for tests.
std::string spec_from_file_text(const std::string& text);

}  // namespace spdlog_ext::detail
