// The `file` backend: JSON lines (json_formatter) into a file, rotated by size and/or by ISO week.
//
//   spdlog_ext::jsonl_file_config cfg;
//   cfg.path = "logs/app.jsonl";
//   cfg.weekly = true;              // logs/app_2026-W47.jsonl, a new file each ISO week
//   cfg.max_size = 50 * 1024 * 1024;  // then app_2026-W47.1.jsonl ... (0 = no size rotation)
//   auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_mt>(cfg);
// Manual: docs/sinks/file.md.
#pragma once

#include <spdlog/details/file_helper.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <cstddef>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>

namespace spdlog_ext {

struct jsonl_file_config {
    // The file to write. Parent directories are created. With `weekly`, the ISO week is inserted
    // before the extension (logs/app.jsonl -> logs/app_2026-W47.jsonl).
    std::string path = "logs/app.jsonl";
    // A new file each ISO week, named <stem>_<YYYY>-W<ww><ext> (ISO 8601 week-numbering year),
    // chosen by each record's event time: a record whose week differs from the current file's
    // switches files (appending when that week's file already exists).
    bool weekly = false;
    // Rotate when the current file would exceed this many bytes; 0 disables size rotation.
    // Rotation happens between lines: a line is never split, and a single line longer than
    // max_size is written whole into a fresh file.
    std::size_t max_size = 0;
    // With size rotation: how many rotated files to keep (<stem>.1<ext> is the newest, the oldest
    // beyond max_files is deleted). 0 keeps none: the file is truncated when full.
    std::size_t max_files = 5;
    // Timestamps (and the week of weekly files) in UTC instead of local time.
    bool utc = false;
};

// The file the sink writes to for an event at `time` (the week part only when cfg.weekly), before
// any size rotation: logs/app.jsonl, or logs/app_2026-W47.jsonl.
std::string jsonl_file_name_for(const jsonl_file_config& cfg, std::time_t time);

// The ISO 8601 week of `time` (local time, or UTC when `utc`) as "YYYY-Www", e.g. "2020-W53".
std::string iso_week_key(std::time_t time, bool utc);

// A file sink writing one line per record. Its formatter is a json_formatter (UTC when cfg.utc);
// set_formatter()/set_pattern() replace it as with any spdlog sink (size rotation then counts the
// bytes of whatever the formatter produces). The file is opened on the first record.
// Throws spdlog::spdlog_ex when cfg.path is empty or its directory cannot be created.
template <typename Mutex>
class jsonl_file_sink final : public spdlog::sinks::base_sink<Mutex> {
  public:
    explicit jsonl_file_sink(jsonl_file_config cfg);
    ~jsonl_file_sink() override;

    // The file being written now (empty before the first record).
    std::string current_file() const;
    const jsonl_file_config& config() const noexcept { return cfg_; }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;

  private:
    void open_for_(std::time_t event_time, int week);
    void rotate_by_size_();

    jsonl_file_config cfg_;
    spdlog::details::file_helper file_;
    std::string current_path_;  // empty while no file is open; guarded by path_mutex_
    mutable Mutex path_mutex_;  // lets current_file() read current_path_ from any thread
    int file_week_ = 0;         // ISO week of the open file as YYYYWW (0 unless cfg.weekly)
    std::time_t last_time_;     // the last event second seen, and its ISO week (a cache)
    int last_week_ = 0;
    std::size_t current_size_ = 0;
    spdlog::memory_buf_t buffer_;  // reused for each formatted line
};

using jsonl_file_sink_mt = jsonl_file_sink<std::mutex>;
using jsonl_file_sink_st = jsonl_file_sink<spdlog::details::null_mutex>;

// Defined (explicitly instantiated) in the library for these two mutex types.
extern template class jsonl_file_sink<std::mutex>;
extern template class jsonl_file_sink<spdlog::details::null_mutex>;

}  // namespace spdlog_ext
