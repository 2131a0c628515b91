// Runs a program of the build (spdlog-ext-logs, log_viewer) as a child with its own environment
// changes, stdout and stderr in files; waits with a deadline or signals it. For the CLI and
// log viewer tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace proc_test {

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Environment changes: a value sets a variable, nullopt removes it.
using env_changes = std::map<std::string, std::optional<std::string>>;

class child {
  public:
    child(const std::string& program, const std::vector<std::string>& args, const env_changes& env,
          const std::string& name)
        : out_(std::filesystem::temp_directory_path() /
               (name + "." + std::to_string(::getpid()) + ".out")),
          err_(std::filesystem::temp_directory_path() /
               (name + "." + std::to_string(::getpid()) + ".err")) {
        std::vector<std::string> env_strings;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string entry = *e;
            const std::string key = entry.substr(0, entry.find('='));
            if (env.count(key) == 0) {
                env_strings.push_back(entry);
            }
        }
        for (const auto& [key, value] : env) {
            if (value) {
                env_strings.push_back(key + "=" + *value);
            }
        }
        std::vector<char*> envp;
        for (auto& s : env_strings)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_strings{program};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_strings)
            argv.push_back(s.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
        posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0600);
        const int rc =
            posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            throw std::runtime_error("posix_spawn " + program + ": " + std::strerror(rc));
        }
    }
    ~child() {
        if (pid_ > 0 && !exit_code_) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        std::error_code ignored;
        std::filesystem::remove(out_, ignored);
        std::filesystem::remove(err_, ignored);
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    // Exit code (128 + N for signal N), or nullopt if still running after `limit`.
    std::optional<int> wait(std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!exit_code_) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            } else if (std::chrono::steady_clock::now() > end) {
                break;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        }
        return exit_code_;
    }
    void signal(int sig) { ::kill(pid_, sig); }

    std::string out() const { return read_file(out_); }
    std::string err() const { return read_file(err_); }

  private:
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::filesystem::path out_, err_;
};

struct result {
    int exit_code = -1;
    std::string out, err;
};

// Runs to completion (killed after 60 s: a hang fails the test with -1).
inline result run(const std::string& program, const std::vector<std::string>& args,
                  const env_changes& env = {}, const std::string& name = "proc_test") {
    child c(program, args, env, name);
    result r;
    r.exit_code = c.wait(std::chrono::seconds(60)).value_or(-1);
    r.out = c.out();
    r.err = c.err();
    return r;
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty())
            lines.push_back(line);
    }
    return lines;
}

}  // namespace proc_test
