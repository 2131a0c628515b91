// Runs a test's child program (an ordinary program built with the suite) and reads what it left.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>  // environ

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace test {

struct child_result {
    int exit_code = -1;  // 128 + N when killed by signal N (as the shell reports it)
    std::string err;     // its stderr
};

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

// Runs `command` (already quoted) through sh with stdout discarded and stderr kept in
// `err_file`; the child inherits this process's environment.
inline child_result run_child(const std::string& command, const std::string& err_file) {
    child_result r;
    const int status =
        std::system(("exec " + command + " >/dev/null 2>" + shell_quote(err_file)).c_str());
    if (status != -1 && WIFEXITED(status)) {
        r.exit_code = WEXITSTATUS(status);
    } else if (status != -1 && WIFSIGNALED(status)) {
        r.exit_code = 128 + WTERMSIG(status);
    }
    std::ifstream in(err_file);
    std::stringstream text;
    text << in.rdbuf();
    r.err = text.str();
    return r;
}

// The non-blocking sibling of run_child: starts `command` (already quoted) through sh the same
// way and returns its pid (-1 when it could not start); wait_child collects it.
inline pid_t spawn_child(const std::string& command, const std::string& err_file) {
    const std::string line = "exec " + command + " >/dev/null 2>" + shell_quote(err_file);
    const char* argv[] = {"sh", "-c", line.c_str(), nullptr};
    pid_t pid = -1;
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), ::environ) !=
        0) {
        return -1;
    }
    return pid;
}

// Waits for a child of spawn_child and reads its stderr from `err_file`.
inline child_result wait_child(pid_t pid, const std::string& err_file) {
    child_result r;
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid) {
        if (WIFEXITED(status)) {
            r.exit_code = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            r.exit_code = 128 + WTERMSIG(status);
        }
    }
    std::ifstream in(err_file);
    std::stringstream text;
    text << in.rdbuf();
    r.err = text.str();
    return r;
}

// Lines of `text` that contain every one of `needles`.
inline std::size_t count_lines_with(const std::string& text,
                                    std::initializer_list<std::string> needles) {
    std::size_t n = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        bool all = true;
        for (const auto& needle : needles) {
            all = all && line.find(needle) != std::string::npos;
        }
        n += all ? 1 : 0;
    }
    return n;
}

}  // namespace test
