// Checked with stat() every check_every: a change of inode (an editor's rename over the file),
// size, mtime or ctime triggers a re-read. The text is compared too, so touching the file changes
// nothing.
#include "config/levels/file_level_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace spdlog_ext::detail {

std::string spec_from_file_text(const std::string& text) {
    std::string out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        line = line.substr(0, line.find('#'));
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos)
            continue;
        const auto last = line.find_last_not_of(" \t\r");
        out += out.empty() ? "" : ",";
        out += line.substr(first, last - first + 1);
    }
    return out;
}

namespace {

constexpr std::size_t max_file_bytes = 64 * 1024;  // a spec with comments; not a log file

struct file_identity {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    long long mtime_ns = 0, ctime_ns = 0;
    bool operator==(const file_identity& o) const {
        return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size &&
               mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
    }
};

file_identity identify(const std::string& path) {
    struct stat st {};
    file_identity id;
    if (::stat(path.c_str(), &st) != 0)
        return id;
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    id.ctime_ns = static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
    return id;
}

class file_level_source final : public level_source {
  public:
    file_level_source(std::string path, std::chrono::milliseconds every)
        : path_(std::move(path)), every_(std::max(every, std::chrono::milliseconds(10))) {}

    std::string name() const override { return "LOG_LEVELS_FILE " + path_; }

    std::optional<level_reading> check(clock::time_point now) override {
        due_ = now + every_;
        const file_identity id = identify(path_);
        if (checked_ && id == last_)
            return std::nullopt;
        level_reading reading;
        if (id.exists) {
            std::ifstream in(path_, std::ios::binary);
            if (!in)
                return std::nullopt;  // not readable now: keep what we have, retry next time
            std::string text(max_file_bytes + 1, '\0');
            in.read(&text[0], static_cast<std::streamsize>(text.size()));
            text.resize(static_cast<std::size_t>(in.gcount()));
            reading.present = true;
            if (text.size() > max_file_bytes) {
                reading.text = "(" + std::to_string(id.size) + " bytes)";
                reading.error = "the file is larger than 64 KiB";
            } else {
                reading.text = spec_from_file_text(text);
            }
        }
        checked_ = true;
        last_ = id;
        return reading;
    }

    clock::time_point next_due() const override { return due_; }

  private:
    std::string path_;
    std::chrono::milliseconds every_;
    clock::time_point due_{};
    bool checked_ = false;
    file_identity last_;
};

}  // namespace

std::unique_ptr<level_source> make_file_level_source(std::string path,
                                                     std::chrono::milliseconds check_every) {
    return std::make_unique<file_level_source>(std::move(path), check_every);
}

}  // namespace spdlog_ext::detail
