// The engine under pressure: shedding records below shed_level above the queue's watermark, and
// urgent records that close the batch at once (engine_config::shed_*, urgent_level).
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/env_options.h"
#include "support/env_guard.h"
#include "support/test_backends.h"
#include "support/wait.h"

using namespace std::chrono_literals;
using spdlog_ext::batch_result;
using level = spdlog::level::level_enum;

namespace {

struct pressure_fixture {
    std::shared_ptr<test::backend_log> seen = std::make_shared<test::backend_log>();
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<test::gate> gate = std::make_shared<test::gate>();

    spdlog_ext::engine_config config() const {
        spdlog_ext::engine_config cfg;
        cfg.name = "test";
        cfg.fallback = fallback;
        cfg.batch_max_delay = 5ms;
        cfg.retry_initial = 1ms;
        cfg.retry_max_delay = 10ms;
        cfg.error_handler = [](const std::string&) {};
        return cfg;
    }

    // The backend holds every write at the gate until the test opens it: a backend that stalls.
    std::shared_ptr<spdlog_ext::engine_sink> make_stalled(spdlog_ext::engine_config cfg) {
        auto g = gate;
        return std::make_shared<spdlog_ext::engine_sink>(
            std::make_unique<test::scripted_backend>(seen,
                                                     [g](spdlog_ext::record_span, int) {
                                                         g->wait();
                                                         return batch_result::delivered();
                                                     }),
            std::move(cfg));
    }
    std::shared_ptr<spdlog_ext::engine_sink> make(spdlog_ext::engine_config cfg) {
        return std::make_shared<spdlog_ext::engine_sink>(
            std::make_unique<test::scripted_backend>(seen), std::move(cfg));
    }
};

// The mixed stream: "<level> #<i>"; one record in 25 at warn or above (warn, err, critical
// in turn), the others trace/debug/info.
level level_of(int i) {
    if (i % 25 == 24) {
        const level high[] = {level::warn, level::err, level::critical};
        return high[(i / 25) % 3];
    }
    const level low[] = {level::trace, level::debug, level::info};
    return low[i % 3];
}

int count_prefix(const std::vector<std::string>& messages, const std::string& prefix) {
    int n = 0;
    for (const auto& m : messages) {
        n += m.rfind(prefix, 0) == 0 ? 1 : 0;
    }
    return n;
}

using test::wait_until;

}  // namespace

TEST_SUITE("engine") {
    TEST_CASE("shedding: a 10x overload sheds only the levels below shed_level - none above lost") {
        // A stalled backend; the queue holds 1000 records, 10000 are logged. Above 50% the
        // trace/debug/info records are shed; the 400 warn/err/critical records fit the room left.
        pressure_fixture f;
        auto cfg = f.config();
        cfg.queue_max_records = 1000;
        cfg.batch_max_records = 100;
        cfg.shed_level = level::warn;
        cfg.shed_watermark = 0.5;
        cfg.urgent_level = level::off;  // batches by size only: the count of writes is stable
        auto sink = f.make_stalled(cfg);
        spdlog::logger logger("pressure", sink);
        logger.set_level(level::trace);
        constexpr int logged = 10000;
        std::uint64_t logged_by_level[6] = {};
        for (int i = 0; i < logged; ++i) {
            const level l = level_of(i);
            ++logged_by_level[l];
            logger.log(l, "{} #{}", spdlog::level::to_string_view(l), i);
        }
        auto s = sink->stats();
        CHECK(s.queue_depth >= 500);
        CHECK(s.queue_depth < 1000);  // the overflow policy never had to act
        f.gate->release();
        REQUIRE(sink->flush_for(10s));
        sink->shutdown(5s);  // writes the shed summary
        s = sink->stats();
        const auto delivered = f.seen->delivered_copy();

        // Every record at or above shed_level delivered; none went to the overflow policy.
        CHECK(count_prefix(delivered, "warning #") == int(logged_by_level[level::warn]));
        CHECK(count_prefix(delivered, "error #") == int(logged_by_level[level::err]));
        CHECK(count_prefix(delivered, "critical #") == int(logged_by_level[level::critical]));
        CHECK(logged_by_level[level::warn] + logged_by_level[level::err] +
                  logged_by_level[level::critical] ==
              400);
        CHECK(s.fallback == 0);

        // The accounting: shed is part of dropped, per level exact.
        CHECK(s.enqueued == logged);
        CHECK(s.delivered + s.fallback + s.dropped + s.queue_depth == s.enqueued);
        CHECK(s.delivered == delivered.size());
        CHECK(s.dropped == s.shed);
        CHECK(s.shed > 8000);
        std::uint64_t shed_sum = 0;
        for (int l = 0; l < 6; ++l) {
            const auto name = spdlog::level::to_string_view(level(l));
            const int got = count_prefix(delivered, std::string(name.data(), name.size()) + " #");
            CAPTURE(l);
            CHECK(s.shed_by_level[l] == logged_by_level[l] - std::uint64_t(got));
            shed_sum += s.shed_by_level[l];
        }
        CHECK(shed_sum == s.shed);
        CHECK(s.shed_by_level[level::warn] + s.shed_by_level[level::err] +
                  s.shed_by_level[level::critical] ==
              0);
        const auto j = s.to_json();
        CHECK(j["shed"] == s.shed);
        CHECK(j["shed_by_level"]["debug"] == s.shed_by_level[level::debug]);
        CHECK(j["shed_by_level"]["warning"] == 0);

        // One summary to the fallback (not one record per shed record), with the levels.
        const auto fb = f.fallback->records();
        REQUIRE(fb.size() == 1);
        const std::string& summary = fb[0].message;
        CHECK(summary.find(std::to_string(s.shed) + " record(s) shed") != std::string::npos);
        CHECK(summary.find("50%") != std::string::npos);
        CHECK(summary.find("debug " + std::to_string(s.shed_by_level[level::debug])) !=
              std::string::npos);
        CHECK(summary.find("info ") != std::string::npos);
    }

    TEST_CASE("shedding: at 100% the records at or above shed_level meet the overflow policy") {
        // Room for 100 records: 20 above the 80% watermark. 60 errors arrive after it.
        pressure_fixture f;
        auto cfg = f.config();
        cfg.queue_max_records = 100;
        cfg.batch_max_records = 1;
        cfg.shed_level = level::err;
        auto sink = f.make_stalled(cfg);
        spdlog::logger logger("full", sink);
        for (int i = 0; i < 100; ++i) {
            logger.info("info #{}", i);
        }
        for (int i = 0; i < 60; ++i) {
            logger.error("error #{}", i);
        }
        f.gate->release();
        REQUIRE(sink->flush_for(10s));
        const auto s = sink->stats();
        CHECK(s.shed == 20);  // info records 80..99
        CHECK(s.shed_by_level[level::info] == 20);
        CHECK(s.fallback == 40);  // 20 errors fitted, 40 met the policy (fallback)
        CHECK(s.delivered == 100);
        CHECK(s.enqueued == 160);
        CHECK(s.delivered + s.fallback + s.dropped + s.queue_depth == s.enqueued);
        const auto fb = f.fallback->records();
        REQUIRE(fb.size() >= 40);
        CHECK(fb[0].message == "error #20");
        CHECK(fb[0].fields["fallback_reason"] == "queue full");
    }

    TEST_CASE("shedding: the byte watermark counts too") {
        pressure_fixture f;
        auto cfg = f.config();
        cfg.queue_max_bytes = 100 * 1024;
        cfg.batch_max_records = 1;
        cfg.shed_level = level::warn;
        cfg.shed_watermark = 0.5;
        auto sink = f.make_stalled(cfg);
        spdlog::logger logger("bytes", sink);
        const std::string kib(1000, 'x');
        for (int i = 0; i < 80; ++i) {
            logger.info("info {} #{}", kib, i);
        }
        logger.warn("warn {}", kib);
        auto s = sink->stats();
        CHECK(s.queue_bytes <= 50 * 1024 + 1200);
        CHECK(s.shed > 25);
        CHECK(s.shed == s.shed_by_level[level::info]);
        f.gate->release();
        REQUIRE(sink->flush_for(10s));
        s = sink->stats();
        CHECK(s.delivered == 81 - s.shed);
        CHECK(count_prefix(f.seen->delivered_copy(), "warn ") == 1);
        CHECK(s.delivered + s.fallback + s.dropped + s.queue_depth == s.enqueued);
    }

    TEST_CASE("shedding off (default): the overload meets the overflow policy as before") {
        pressure_fixture f;
        auto cfg = f.config();
        cfg.queue_max_records = 1000;
        cfg.batch_max_records = 100;
        cfg.overflow = spdlog_ext::overflow_policy::drop_newest;
        CHECK(cfg.shed_level == level::off);
        auto sink = f.make_stalled(cfg);
        spdlog::logger logger("off", sink);
        logger.set_level(level::trace);
        for (int i = 0; i < 10000; ++i) {
            logger.log(level_of(i), "r #{}", i);
        }
        f.gate->release();
        REQUIRE(sink->flush_for(10s));
        sink->shutdown(5s);
        const auto s = sink->stats();
        CHECK(s.shed == 0);
        for (auto n : s.shed_by_level) {
            CHECK(n == 0);
        }
        CHECK(s.delivered == 1000);
        CHECK(s.dropped == 9000);
        CHECK(s.delivered + s.fallback + s.dropped + s.queue_depth == s.enqueued);
        const auto fb = f.fallback->records();
        REQUIRE(fb.size() == 1);
        CHECK(fb[0].message.find("9000 record(s) dropped") != std::string::npos);
    }

    TEST_CASE("shed_watermark outside 0 to 1 is a config_error naming the variable") {
        pressure_fixture f;
        for (double bad : {0.0, -0.5, 1.01}) {
            auto cfg = f.config();
            cfg.shed_watermark = bad;
            try {
                f.make(cfg);
                FAIL("expected config_error");
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_TEST_SHED_WATERMARK");
            }
        }
    }

    TEST_CASE("LOG_<BACKEND>_SHED_LEVEL - SHED_WATERMARK - URGENT_LEVEL") {
        test::env_guard env{{"LOG_PRESS_SHED_LEVEL", "Warn"},
                            {"LOG_PRESS_SHED_WATERMARK", "0.75"},
                            {"LOG_PRESS_URGENT_LEVEL", "error"}};
        spdlog_ext::engine_config cfg;
        CHECK(cfg.shed_level == level::off);
        CHECK(cfg.shed_watermark == doctest::Approx(0.8));
        CHECK(cfg.urgent_level == level::critical);
        spdlog_ext::env_options("press").apply_engine(cfg);
        CHECK(cfg.shed_level == level::warn);
        CHECK(cfg.shed_watermark == doctest::Approx(0.75));
        CHECK(cfg.urgent_level == level::err);
        env.set("LOG_PRESS_SHED_WATERMARK", " 90% ");
        env.set("LOG_PRESS_URGENT_LEVEL", "off");
        spdlog_ext::env_options("press").apply_engine(cfg);
        CHECK(cfg.shed_watermark == doctest::Approx(0.9));
        CHECK(cfg.urgent_level == level::off);
        env.set("LOG_PRESS_SHED_WATERMARK", "1");
        spdlog_ext::env_options("press").apply_engine(cfg);
        CHECK(cfg.shed_watermark == doctest::Approx(1.0));

        for (const char* bad : {"0", "1.5", "0,8", "abc", "", "%", "-0.5", "120%"}) {
            env.set("LOG_PRESS_SHED_WATERMARK", bad);
            try {
                spdlog_ext::env_options("press").apply_engine(cfg);
                FAIL("expected config_error for " << bad);
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_PRESS_SHED_WATERMARK");
                CHECK(std::string(e.what()).find("(0, 1]") != std::string::npos);
            }
        }
        env.set("LOG_PRESS_SHED_WATERMARK", "0.5");
        for (const char* variable : {"LOG_PRESS_SHED_LEVEL", "LOG_PRESS_URGENT_LEVEL"}) {
            env.set(variable, "loud");
            try {
                spdlog_ext::env_options("press").apply_engine(cfg);
                FAIL("expected config_error");
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == variable);
                CHECK(std::string(e.what()).find("critical") != std::string::npos);
            }
            env.set(variable, "warn");
        }
    }

    TEST_CASE("urgent: a critical record is sent at once with the records before it") {
        pressure_fixture f;
        auto cfg = f.config();
        cfg.batch_max_delay = 5s;
        auto sink = f.make(cfg);
        spdlog::logger logger("urgent", sink);
        logger.info("ordinary #1");
        std::this_thread::sleep_for(300ms);
        CHECK(f.seen->delivered_copy().empty());  // waits for the batch delay
        logger.warn("ordinary #2");
        const auto t0 = std::chrono::steady_clock::now();
        logger.critical("urgent #3");
        REQUIRE(wait_until([&] { return f.seen->delivered_copy().size() == 3; }, 3s));
        const auto latency = std::chrono::steady_clock::now() - t0;
        MESSAGE("urgent record delivered after "
                << std::chrono::duration<double, std::milli>(latency).count() << " ms");
        CHECK(latency < 200ms);
        CHECK(f.seen->delivered_copy() ==
              std::vector<std::string>{"ordinary #1", "ordinary #2", "urgent #3"});
        {
            std::lock_guard<std::mutex> lock(f.seen->mu);
            CHECK(f.seen->batch_sizes == std::vector<std::size_t>{3});
        }
        // After it, ordinary records wait again.
        logger.info("ordinary #4");
        std::this_thread::sleep_for(300ms);
        CHECK(f.seen->delivered_copy().size() == 3);
        const auto s = sink->stats();
        CHECK(s.delivered == 3);
        CHECK(s.queue_depth == 1);
    }

    TEST_CASE("urgent: URGENT_LEVEL off - and a lower level - and min_write_interval still holds") {
        pressure_fixture f;
        SUBCASE("off: a critical record waits like any other") {
            auto cfg = f.config();
            cfg.batch_max_delay = 5s;
            cfg.urgent_level = level::off;
            auto sink = f.make(cfg);
            spdlog::logger logger("off", sink);
            logger.critical("critical #1");
            std::this_thread::sleep_for(300ms);
            CHECK(f.seen->delivered_copy().empty());
        }
        SUBCASE("err: an error is urgent - a warning is not") {
            auto cfg = f.config();
            cfg.batch_max_delay = 5s;
            cfg.urgent_level = level::err;
            auto sink = f.make(cfg);
            spdlog::logger logger("err", sink);
            logger.warn("warn #1");
            std::this_thread::sleep_for(300ms);
            CHECK(f.seen->delivered_copy().empty());
            logger.error("error #2");
            CHECK(wait_until([&] { return f.seen->delivered_copy().size() == 2; }, 200ms));
        }
        SUBCASE("min_write_interval: the next urgent write waits for its slot") {
            auto cfg = f.config();
            cfg.batch_max_delay = 5s;
            cfg.min_write_interval = 400ms;
            auto sink = f.make(cfg);
            spdlog::logger logger("paced", sink);
            logger.critical("urgent #1");
            REQUIRE(wait_until([&] { return f.seen->delivered_copy().size() == 1; }, 2s));
            logger.critical("urgent #2");
            REQUIRE(wait_until([&] { return f.seen->delivered_copy().size() == 2; }, 3s));
            std::lock_guard<std::mutex> lock(f.seen->mu);
            REQUIRE(f.seen->write_times.size() == 2);
            CHECK(f.seen->write_times[1] - f.seen->write_times[0] >= 390ms);
            CHECK(f.seen->write_times[1] - f.seen->write_times[0] < 2s);
        }
    }
}
