// Runs tests/integration/levels_child.cpp in the background and reads its status: the runtime
// levels tests (test_levels.cpp) and the CLI's `level set` test share it.
//
//   levels_test::child c("name");           // the child inherits this process's environment
//   auto ms = c.wait_for({{"db", "debug"}}, 2s);   // time until it reports these levels
//   c.leave("return"); REQUIRE(c.wait_exit(5s) == 0);
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include "support/child_process.h"

#ifndef SPDLOG_EXT_LEVELS_CHILD
#error "SPDLOG_EXT_LEVELS_CHILD (the levels_child program) must be defined"
#endif

namespace levels_test {

using status_words = std::map<std::string, std::string>;

class child {
  public:
    explicit child(const std::string& name)
        : base_(std::filesystem::temp_directory_path() /
                ("spdlog_ext_levels_" + name + "_" + std::to_string(::getpid()))) {
        cleanup();
        const std::string command =
            test::shell_quote(SPDLOG_EXT_LEVELS_CHILD) + " " + test::shell_quote(status_path());
        const std::string err = base_.string() + ".err";
        result_ = std::async(std::launch::async,
                             [command, err] { return test::run_child(command, err); });
    }
    ~child() {
        if (result_.valid()) {
            leave("return");
            if (result_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
                const auto words = status();  // hung: do not hang the test run too
                if (words.count("pid"))
                    ::kill(std::stoi(words.at("pid")), SIGKILL);
            }
        }
        cleanup();
    }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    std::string status_path() const { return base_.string() + ".status"; }

    // The last status line's words (empty before the first one).
    status_words status() const {
        std::ifstream in(status_path());
        status_words words;
        std::string word;
        while (in >> word) {
            const auto eq = word.find('=');
            if (eq != std::string::npos)
                words[word.substr(0, eq)] = word.substr(eq + 1);
        }
        return words;
    }

    // Waits until every key has its value; returns how long it took, or nullopt after `limit`.
    std::optional<std::chrono::milliseconds> wait_for(const status_words& want,
                                                      std::chrono::milliseconds limit) const {
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            const auto now = std::chrono::steady_clock::now();
            const auto words = status();
            bool all = !words.empty();
            for (const auto& kv : want) {
                const auto it = words.find(kv.first);
                all = all && it != words.end() && it->second == kv.second;
            }
            if (all)
                return std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
            if (now - start > limit)
                return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    }

    long long ticks() const {
        const auto words = status();
        const auto it = words.find("ticks");
        return it == words.end() ? -1 : std::stoll(it->second);
    }

    void make_late() const { std::ofstream(base_.string() + ".status.make_late") << "1\n"; }
    void leave(const std::string& how) const {
        std::ofstream(base_.string() + ".status.leave.tmp") << how << "\n";
        std::filesystem::rename(base_.string() + ".status.leave.tmp",
                                base_.string() + ".status.leave");
    }
    // The exit code (128 + N for signal N), or -2 when it is still running after `limit`.
    int wait_exit(std::chrono::milliseconds limit) {
        if (result_.wait_for(limit) != std::future_status::ready)
            return -2;
        last_ = result_.get();
        return last_.exit_code;
    }
    // The child's stderr so far (after wait_exit: all of it).
    std::string err() const {
        std::ifstream in(base_.string() + ".err");
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

  private:
    void cleanup() const {
        std::error_code ec;
        for (const char* suffix : {".status", ".status.tmp", ".status.make_late", ".status.leave",
                                   ".status.leave.tmp", ".err"}) {
            std::filesystem::remove(base_.string() + suffix, ec);
        }
    }

    std::filesystem::path base_;
    std::future<test::child_result> result_;
    test::child_result last_;
};

}  // namespace levels_test
