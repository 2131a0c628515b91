#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/metrics.h"
#include "spdlog_ext/timer.h"
#include "support/test_backends.h"

namespace {

struct capture_logger {
    std::shared_ptr<test::capture_sink_mt> sink = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<spdlog::logger> logger = std::make_shared<spdlog::logger>("timer", sink);
};

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

// A timer made while another exception unwinds the stack, and left normally.
struct times_in_destructor {
    spdlog::logger* logger;
    ~times_in_destructor() { spdlog_ext::scoped_timer t(*logger, "cleanup"); }
};

// A sink that always throws, and a logger whose error handler throws too: the worst host.
class throwing_sink final : public spdlog::sinks::base_sink<std::mutex> {
  protected:
    void sink_it_(const spdlog::details::log_msg&) override {
        throw std::runtime_error("sink down");
    }
    void flush_() override {}
};

}  // namespace

TEST_SUITE("timer") {
    TEST_CASE("scoped_timer logs one record with duration_ms and outcome ok") {
        capture_logger c;
        {
            spdlog_ext::scoped_timer t(c.logger, "db.query", spdlog::level::info,
                                       {{"table", "orders"}});
            CHECK(t.active());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            CHECK(c.sink->size() == 0);  // nothing before the scope ends
        }
        const auto got = c.sink->records();
        REQUIRE(got.size() == 1);
        CHECK(starts_with(got[0].message, "db.query took "));
        CHECK(got[0].message.size() > 3);
        CHECK(got[0].message.substr(got[0].message.size() - 3) == " ms");
        REQUIRE(got[0].fields["duration_ms"].is_number_float());
        const double ms = got[0].fields["duration_ms"].get<double>();
        CHECK(ms >= 19.0);
        CHECK(ms < 5000.0);  // generous: a loaded CI machine
        CHECK(got[0].fields["outcome"] == "ok");
        CHECK(got[0].fields["table"] == "orders");
        CHECK_FALSE(got[0].fields.contains("exception"));
        CHECK_FALSE(got[0].fields.contains("laps"));
    }

    TEST_CASE("an exception leaving the scope gives outcome error and still propagates") {
        capture_logger c;
        auto leave_by_exception = [&] {
            spdlog_ext::scoped_timer t(*c.logger, "db.query");
            throw std::runtime_error("deadlock detected");
        };
        CHECK_THROWS_WITH_AS(leave_by_exception(), "deadlock detected", std::runtime_error);
        auto got = c.sink->records();
        REQUIRE(got.size() == 1);
        CHECK(got[0].fields["outcome"] == "error");
        CHECK(starts_with(got[0].message, "db.query failed after "));
        CHECK(got[0].fields["duration_ms"].is_number_float());
        CHECK_FALSE(got[0].fields.contains("exception"));  // a destructor cannot read it

        // fail(e) in a handler adds the text (with nested exceptions), and rethrowing still works.
        auto fail_and_rethrow = [&] {
            spdlog_ext::scoped_timer t(*c.logger, "payment");
            try {
                try {
                    throw std::runtime_error("socket closed");
                } catch (...) {
                    std::throw_with_nested(std::logic_error("charge failed"));
                }
            } catch (const std::exception& e) {
                t.fail(e);
                throw;
            }
        };
        CHECK_THROWS_AS(fail_and_rethrow(), std::logic_error);
        got = c.sink->records();
        REQUIRE(got.size() == 2);
        CHECK(got[1].fields["outcome"] == "error");
        CHECK(got[1].fields["exception"] == "charge failed\ncaused by: socket closed");
    }

    TEST_CASE("a timer made during unwinding and left normally is ok") {
        // uncaught_exceptions() is compared with its value at construction, not just tested.
        capture_logger c;
        try {
            times_in_destructor guard{c.logger.get()};
            throw std::runtime_error("outer");
        } catch (const std::exception&) {
        }
        const auto got = c.sink->records();
        REQUIRE(got.size() == 1);
        CHECK(got[0].message.find("cleanup took ") == 0);
        CHECK(got[0].fields["outcome"] == "ok");
    }

    TEST_CASE("laps are kept in order and capped") {
        capture_logger c;
        {
            spdlog_ext::scoped_timer t(c.logger, "import");
            t.lap("parsed");
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            t.lap("validated");
            t.lap("parsed");  // a repeated name is a new lap
        }
        {
            spdlog_ext::scoped_timer t(c.logger, "loop");
            for (std::size_t i = 0; i < spdlog_ext::max_timer_laps + 8; ++i) {
                t.lap("row " + std::to_string(i));
            }
        }
        const auto got = c.sink->records();
        REQUIRE(got.size() == 2);
        const auto& laps = got[0].fields["laps"];
        REQUIRE(laps.is_array());
        REQUIRE(laps.size() == 3);
        CHECK(laps[0]["name"] == "parsed");
        CHECK(laps[1]["name"] == "validated");
        CHECK(laps[2]["name"] == "parsed");
        CHECK(laps[1]["ms"].get<double>() >= 1.9);
        CHECK(laps[0]["ms"].get<double>() <= laps[1]["ms"].get<double>());
        CHECK(laps[1]["ms"].get<double>() <= laps[2]["ms"].get<double>());
        CHECK(laps[2]["ms"].get<double>() <= got[0].fields["duration_ms"].get<double>());
        CHECK_FALSE(got[0].fields.contains("laps_dropped"));

        const auto& capped = got[1].fields["laps"];
        REQUIRE(capped.size() == spdlog_ext::max_timer_laps);
        CHECK(capped[0]["name"] == "row 0");
        CHECK(capped[spdlog_ext::max_timer_laps - 1]["name"] ==
              "row " + std::to_string(spdlog_ext::max_timer_laps - 1));
        CHECK(got[1].fields["laps_dropped"] == 8);
    }

    TEST_CASE("stop logs at once and only once and cancel logs nothing") {
        capture_logger c;
        {
            spdlog_ext::scoped_timer t(c.logger, "step");
            t.stop();
            CHECK(c.sink->size() == 1);
            CHECK_FALSE(t.active());
            t.stop();
            t.lap("late");  // ignored once stopped
        }
        CHECK(c.sink->size() == 1);
        CHECK_FALSE(c.sink->records()[0].fields.contains("laps"));
        {
            spdlog_ext::scoped_timer t(c.logger, "abandoned");
            t.cancel();
        }
        CHECK(c.sink->size() == 1);
    }

    TEST_CASE("time_call returns values references move-only results and void") {
        capture_logger c;
        CHECK(spdlog_ext::time_call(c.logger, "answer", [] { return 42; }) == 42);

        int target = 1;
        int& ref = spdlog_ext::time_call(*c.logger, "ref", [&]() -> int& { return target; });
        CHECK(&ref == &target);

        std::unique_ptr<std::string> owned = spdlog_ext::time_call(
            c.logger, "load", [] { return std::make_unique<std::string>("payload"); },
            spdlog::level::warn, {{"source", "disk"}});
        REQUIRE(owned);
        CHECK(*owned == "payload");

        bool ran = false;
        spdlog_ext::time_call(c.logger, "side effect", [&] { ran = true; });
        CHECK(ran);

        const auto got = c.sink->records();
        REQUIRE(got.size() == 4);
        CHECK(starts_with(got[0].message, "answer took "));
        CHECK(got[2].fields["source"] == "disk");
        CHECK(starts_with(got[3].message, "side effect took "));
        for (const auto& r : got) {
            CHECK(r.fields["outcome"] == "ok");
        }
    }

    TEST_CASE("time_call logs the exception of a throwing function and rethrows it") {
        capture_logger c;
        auto call = [&] {
            return spdlog_ext::time_call(
                c.logger, "charge", []() -> int { throw std::runtime_error("card declined"); });
        };
        CHECK_THROWS_WITH_AS(call(), "card declined", std::runtime_error);
        CHECK_THROWS_AS(spdlog_ext::time_call(*c.logger, "odd", [] { throw 7; }), int);
        const auto got = c.sink->records();
        REQUIRE(got.size() == 2);
        CHECK(got[0].fields["outcome"] == "error");
        CHECK(got[0].fields["exception"] == "card declined");
        CHECK(starts_with(got[0].message, "charge failed after "));
        CHECK(got[1].fields["outcome"] == "error");
        CHECK_FALSE(got[1].fields.contains("exception"));
    }

    TEST_CASE("a disabled level makes the timer inert") {
        capture_logger c;
        c.logger->set_level(spdlog::level::warn);
        {
            spdlog_ext::scoped_timer t(c.logger, "db.query", spdlog::level::info,
                                       {{"table", "orders"}}, {"db_query"});
            CHECK_FALSE(t.active());
            t.lap("parsed");
            t.fail();
            spdlog_ext::scoped_timer by_reference(*c.logger, "db.query");
            CHECK_FALSE(by_reference.active());
        }
        CHECK(spdlog_ext::time_call(
                  c.logger, "quiet", [] { return 3; }, spdlog::level::debug) == 3);
        std::shared_ptr<spdlog::logger> none;
        {
            spdlog_ext::scoped_timer t(none, "no logger");
            CHECK_FALSE(t.active());
        }
        CHECK(c.sink->size() == 0);
        // Raising the level afterwards does not wake an inert timer.
        spdlog_ext::scoped_timer t(c.logger, "late", spdlog::level::info);
        c.logger->set_level(spdlog::level::trace);
        t.stop();
        CHECK(c.sink->size() == 0);
    }

    TEST_CASE("the metric option logs the point record_metric would") {
        capture_logger c;
        {
            spdlog_ext::scoped_timer t(c.logger, "db.query", spdlog::level::info,
                                       {{"table", "orders"}, {"rows", 3}, {"query", {{"id", 1}}}},
                                       {"db_query"});
            t.lap("parsed");
        }
        const auto got = c.sink->records();
        REQUIRE(got.size() == 2);  // the timer's record, then the point
        CHECK_FALSE(got[0].fields.contains("metric"));
        const double ms = got[0].fields["duration_ms"].get<double>();
        const double lap_ms = got[0].fields["laps"][0]["ms"].get<double>();

        capture_logger expected;
        spdlog_ext::record_metric(expected.logger, "db_query",
                                  {{"name", "db.query"}, {"outcome", "ok"}, {"table", "orders"}},
                                  {{"duration_ms", ms}, {"rows", 3}, {"lap_parsed_ms", lap_ms}});
        const auto want = expected.sink->records();
        REQUIRE(want.size() == 1);
        CHECK(got[1].fields["metric"] == want[0].fields["metric"]);
        CHECK(got[1].message == want[0].message);
        CHECK(got[1].fields["metric"]["fields"]["duration_ms"].is_number_float());
    }

    TEST_CASE("the shared_ptr form keeps the logger alive until the timer ends") {
        auto sink = std::make_shared<test::capture_sink_mt>();
        auto logger = std::make_shared<spdlog::logger>("owned", sink);
        std::weak_ptr<spdlog::logger> weak = logger;
        {
            spdlog_ext::scoped_timer t(logger, "outlives");
            logger.reset();
            CHECK_FALSE(weak.expired());
        }
        CHECK(weak.expired());
        CHECK(sink->size() == 1);
    }

    TEST_CASE("a plain spdlog sink shows the fields through json_formatter") {
        std::ostringstream out;
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        sink->set_formatter(std::make_unique<spdlog_ext::json_formatter>());
        spdlog::logger logger("plain", sink);
        spdlog_ext::time_call(logger, "db.query", [] {}, spdlog::level::info,
                              {{"table", "orders"}});
        const auto line = nlohmann::json::parse(out.str());
        CHECK(starts_with(line["message"].get<std::string>(), "db.query took "));
        CHECK(line["fields"]["table"] == "orders");
        CHECK(line["fields"]["outcome"] == "ok");
        CHECK(line["fields"]["duration_ms"].is_number_float());
    }

    TEST_CASE("a failing logger never escapes the timer") {
        auto logger = std::make_shared<spdlog::logger>("broken", std::make_shared<throwing_sink>());
        logger->set_error_handler(
            [](const std::string& what) { throw std::runtime_error("handler: " + what); });
        // Without the timer's own catch, its noexcept end would call std::terminate here.
        CHECK_NOTHROW(spdlog_ext::scoped_timer(logger, "db.query").stop());
        CHECK_NOTHROW(
            [&] { spdlog_ext::scoped_timer t(*logger, "db.query", spdlog::level::err); }());
        CHECK(spdlog_ext::time_call(logger, "call", [] { return 5; }) == 5);
    }
}
