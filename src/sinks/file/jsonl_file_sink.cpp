#include "spdlog_ext/sinks/jsonl_file_sink.h"

#include <spdlog/common.h>
#include <spdlog/details/os.h>

#include <cerrno>
#include <exception>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "spdlog_ext/json_formatter.h"

namespace spdlog_ext {

namespace {

#ifdef _WIN32
constexpr const char* folder_separators = "/\\";
#else
constexpr const char* folder_separators = "/";
#endif

// "logs/app.jsonl" -> ("logs/app", ".jsonl"); no extension -> (path, ""). A leading dot (hidden
// file) is not an extension. Same rules as spdlog::details::file_helper::split_by_extension.
std::pair<std::string, std::string> split_extension(const std::string& path) {
    const auto dot = path.rfind('.');
    if (dot == std::string::npos || dot == 0 || dot == path.size() - 1) {
        return {path, std::string()};
    }
    const auto folder = path.find_last_of(folder_separators);
    if (folder != std::string::npos && folder >= dot - 1) {
        return {path, std::string()};
    }
    return {path.substr(0, dot), path.substr(dot)};
}

// <stem>.<index><ext>; index 0 is the file itself.
std::string rotated_name(const std::string& path, std::size_t index) {
    if (index == 0) {
        return path;
    }
    auto [stem, ext] = split_extension(path);
    return stem + "." + std::to_string(index) + ext;
}

spdlog::filename_t to_filename(const std::string& path) {
#ifdef SPDLOG_WCHAR_FILENAMES
    return std::filesystem::u8path(path).wstring();
#else
    return path;
#endif
}

std::tm calendar_time(std::time_t time, bool utc) {
    return utc ? spdlog::details::os::gmtime(time) : spdlog::details::os::localtime(time);
}

// (year - year / 4 ...) % 7 == weekday of 31 December of `year`, 0 = Sunday.
int dec31_weekday(long year) {
    const long y = year;
    return static_cast<int>((y + y / 4 - y / 100 + y / 400) % 7);
}

int iso_weeks_in_year(long year) {
    // A year has 53 ISO weeks when it ends on a Thursday, or is a leap year ending on a Friday.
    return dec31_weekday(year) == 4 || dec31_weekday(year - 1) == 3 ? 53 : 52;
}

// ISO 8601 week-numbering year and week of a calendar date.
void iso_week(const std::tm& tm, long& year, int& week) {
    year = static_cast<long>(tm.tm_year) + 1900;
    const int weekday = (tm.tm_wday + 6) % 7 + 1;  // Monday = 1 ... Sunday = 7
    week = (tm.tm_yday + 1 - weekday + 10) / 7;
    if (week < 1) {
        --year;
        week = iso_weeks_in_year(year);
    } else if (week > iso_weeks_in_year(year)) {
        ++year;
        week = 1;
    }
}

// The ISO week of `time` as YYYYWW, e.g. 202053.
int iso_week_number(std::time_t time, bool utc) {
    long year = 0;
    int week = 0;
    iso_week(calendar_time(time, utc), year, week);
    return static_cast<int>(year * 100 + week);
}

}  // namespace

std::string iso_week_key(std::time_t time, bool utc) {
    long year = 0;
    int week = 0;
    iso_week(calendar_time(time, utc), year, week);
    std::string key = std::to_string(year);
    if (year >= 0 && year < 1000) {
        key.insert(0, 4 - key.size(), '0');
    }
    key += "-W";
    key += static_cast<char>('0' + week / 10);
    key += static_cast<char>('0' + week % 10);
    return key;
}

std::string jsonl_file_name_for(const jsonl_file_config& cfg, std::time_t time) {
    if (!cfg.weekly) {
        return cfg.path;
    }
    auto [stem, ext] = split_extension(cfg.path);
    return stem + "_" + iso_week_key(time, cfg.utc) + ext;
}

template <typename Mutex>
jsonl_file_sink<Mutex>::jsonl_file_sink(jsonl_file_config cfg)
    : spdlog::sinks::base_sink<Mutex>(
          std::make_unique<json_formatter>(cfg.utc ? json_time_zone::utc : json_time_zone::local)),
      cfg_(std::move(cfg)),
      last_time_(std::numeric_limits<std::time_t>::min()) {
    if (cfg_.path.empty()) {
        spdlog::throw_spdlog_ex("jsonl_file_sink: the file path is empty");
    }
    // Create the directory now, so that a path that cannot work fails at configuration time.
    const std::filesystem::path dir = std::filesystem::path(cfg_.path).parent_path();
    if (!dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec && !std::filesystem::is_directory(dir)) {
            spdlog::throw_spdlog_ex("jsonl_file_sink: cannot create directory " + dir.string() +
                                    ": " + ec.message());
        }
    }
}

template <typename Mutex>
jsonl_file_sink<Mutex>::~jsonl_file_sink() = default;

template <typename Mutex>
std::string jsonl_file_sink<Mutex>::current_file() const {
    std::lock_guard<Mutex> lock(path_mutex_);
    return current_path_;
}

template <typename Mutex>
void jsonl_file_sink<Mutex>::sink_it_(const spdlog::details::log_msg& msg) {
    const std::time_t event_time = spdlog::log_clock::to_time_t(msg.time);
    int week = 0;
    if (cfg_.weekly) {
        if (event_time != last_time_) {
            last_week_ = iso_week_number(event_time, cfg_.utc);
            last_time_ = event_time;
        }
        week = last_week_;
    }
    if (current_path_.empty() || week != file_week_) {
        open_for_(event_time, week);
    }

    buffer_.clear();
    this->formatter_->format(msg, buffer_);

    // Rotate between lines only: the line goes whole into one file, even when it alone is larger
    // than max_size.
    std::exception_ptr rotation_error;
    if (cfg_.max_size > 0 && current_size_ > 0 && current_size_ + buffer_.size() > cfg_.max_size) {
        try {
            rotate_by_size_();
        } catch (const spdlog::spdlog_ex&) {
            if (current_path_.empty()) {
                throw;  // no file to write to
            }
            rotation_error = std::current_exception();  // write the line first, then report
        }
    }
    file_.write(buffer_);
    current_size_ += buffer_.size();
    if (rotation_error) {
        std::rethrow_exception(rotation_error);
    }
}

template <typename Mutex>
void jsonl_file_sink<Mutex>::flush_() {
    if (!current_path_.empty()) {
        file_.flush();
    }
}

template <typename Mutex>
void jsonl_file_sink<Mutex>::open_for_(std::time_t event_time, int week) {
    std::string path = jsonl_file_name_for(cfg_, event_time);
    {
        std::lock_guard<Mutex> lock(path_mutex_);
        current_path_.clear();  // closed until the open below succeeds
    }
    file_.open(to_filename(path), false);  // appends; throws spdlog_ex on failure
    current_size_ = file_.size();
    file_week_ = week;
    std::lock_guard<Mutex> lock(path_mutex_);
    current_path_ = std::move(path);
}

template <typename Mutex>
void jsonl_file_sink<Mutex>::rotate_by_size_() {
    // Like spdlog's rotating_file_sink: app.jsonl -> app.1.jsonl -> app.2.jsonl ... up to
    // max_files; the oldest is overwritten. Unlike it, when a rename fails the current file is
    // kept (appended to) rather than truncated, so no line is lost; the error is reported.
    using spdlog::details::os::path_exists;
    using spdlog::details::os::remove_if_exists;
    using spdlog::details::os::rename;

    const std::string base = current_path_;
    file_.close();
    std::string failure;
    int failure_errno = 0;
    for (std::size_t i = cfg_.max_files; i > 0; --i) {
        const spdlog::filename_t src = to_filename(rotated_name(base, i - 1));
        if (!path_exists(src)) {
            continue;
        }
        const spdlog::filename_t target = to_filename(rotated_name(base, i));
        (void)remove_if_exists(target);  // std::rename does not replace on Windows
        if (rename(src, target) != 0) {
            failure_errno = errno;
            failure = "jsonl_file_sink: failed renaming " + rotated_name(base, i - 1) + " to " +
                      rotated_name(base, i);
            break;
        }
    }
    const bool rotated = failure.empty();
    try {
        file_.open(to_filename(base), rotated);  // truncate only when base was moved away
    } catch (...) {
        std::lock_guard<Mutex> lock(path_mutex_);
        current_path_.clear();
        throw;
    }
    current_size_ = rotated ? 0 : file_.size();
    if (!rotated) {
        spdlog::throw_spdlog_ex(failure, failure_errno);
    }
}

template class jsonl_file_sink<std::mutex>;
template class jsonl_file_sink<spdlog::details::null_mutex>;

}  // namespace spdlog_ext
