// Test doubles for the engine: a scriptable backend and a sink that captures what it receives.
// (These stand in for *our own* plug-in interface, not for a real server.)
#pragma once

#include <doctest/doctest.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "spdlog_ext/engine/backend.h"
#include "spdlog_ext/record.h"

namespace test {

// What the scripted backend saw; shared so a test can read it after the sink is gone.
struct backend_log {
    std::mutex mu;
    std::vector<std::string> delivered;  // messages, in delivery order
    std::vector<std::size_t> batch_sizes;
    std::vector<std::chrono::steady_clock::time_point> write_times;
    std::atomic<int> writes{0};
    std::atomic<int> interrupts{0};
    std::atomic<bool> in_write{false};
    std::vector<spdlog_ext::write_context> contexts;
    std::vector<std::size_t> context_sizes;

    std::vector<std::string> delivered_copy() {
        std::lock_guard<std::mutex> lock(mu);
        return delivered;
    }
};

// A backend whose answer to each write is decided by `script` (default: deliver all).
class scripted_backend final : public spdlog_ext::backend {
  public:
    using script_fn = std::function<spdlog_ext::batch_result(spdlog_ext::record_span, int call)>;

    explicit scripted_backend(std::shared_ptr<backend_log> log, script_fn script = nullptr)
        : log_(std::move(log)), script_(std::move(script)) {}

    spdlog_ext::batch_result write(spdlog_ext::record_span batch,
                                   const spdlog_ext::write_context& context) override {
        const int call = log_->writes.fetch_add(1);
        log_->in_write = true;
        {
            std::lock_guard<std::mutex> lock(log_->mu);
            log_->contexts.push_back(context);
            log_->context_sizes.push_back(batch.size());
            log_->batch_sizes.push_back(batch.size());
            log_->write_times.push_back(std::chrono::steady_clock::now());
        }
        auto result = script_ ? script_(batch, call) : spdlog_ext::batch_result::delivered();
        using outcome = spdlog_ext::batch_result::outcome;
        if (result.kind == outcome::delivered || result.kind == outcome::partial) {
            std::set<std::size_t> refused;
            for (const auto& r : result.rejected) {
                refused.insert(r.index);
            }
            std::lock_guard<std::mutex> lock(log_->mu);
            for (std::size_t i = 0; i < batch.size(); ++i) {
                if (refused.count(i) == 0) {
                    log_->delivered.push_back(batch[i].message);
                }
            }
        }
        log_->in_write = false;
        return result;
    }

    void interrupt() noexcept override {
        log_->interrupts.fetch_add(1);
        if (on_interrupt) {
            on_interrupt();
        }
    }

    std::function<void()> on_interrupt;

  private:
    std::shared_ptr<backend_log> log_;
    script_fn script_;
};

// A gate a backend can wait at until the test opens it (or an interrupt does).
struct gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;

    void wait() {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard<std::mutex> lock(mu);
            open = true;
        }
        cv.notify_all();
    }
};

// A sink that keeps every record it receives (message, level, fields).
struct captured {
    std::string message;
    std::string logger;
    nlohmann::json fields;
};

template <typename Mutex>
class capture_sink final : public spdlog::sinks::base_sink<Mutex> {
  public:
    std::vector<captured> records() {
        std::lock_guard<Mutex> lock(this->mutex_);
        return records_;
    }
    std::size_t size() {
        std::lock_guard<Mutex> lock(this->mutex_);
        return records_.size();
    }
    std::function<void(const spdlog::details::log_msg&)>
        on_log;  // runs outside the lock? no: inside

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        records_.push_back({std::string(msg.payload.data(), msg.payload.size()),
                            std::string(msg.logger_name.data(), msg.logger_name.size()),
                            spdlog_ext::fields_of(msg)});
        if (on_log) {
            on_log(msg);
        }
    }
    void flush_() override {}

  private:
    std::vector<captured> records_;
};

using capture_sink_mt = capture_sink<std::mutex>;

}  // namespace test

// Failed CHECKs on lists of messages print them (doctest shows {?} otherwise).
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
    static String convert(const std::vector<std::string>& v) {
        std::string out = "{";
        for (std::size_t i = 0; i < v.size(); ++i) {
            out += (i > 0 ? ", \"" : "\"") + v[i] + "\"";
        }
        return String((out + "}").c_str());
    }
};
}  // namespace doctest
