#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <stdexcept>
#include <thread>

#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "support/test_backends.h"

TEST_SUITE("fields") {
    TEST_CASE("scoped fields nest + shadow and unwind") {
        CHECK_FALSE(spdlog_ext::thread_has_fields());
        {
            spdlog_ext::scoped_fields outer{{"user_id", 123}, {"ip", "10.0.0.1"}};
            {
                spdlog_ext::scoped_fields inner{{"user_id", 456}, {"ratio", 0.5}};
                const auto j = spdlog_ext::current_thread_fields();
                CHECK(j["user_id"] == 456);
                CHECK(j["ip"] == "10.0.0.1");
                CHECK(j["ratio"].is_number_float());
            }
            const auto j = spdlog_ext::current_thread_fields();
            CHECK(j["user_id"] == 123);
            CHECK(j["user_id"].is_number_integer());
            CHECK_FALSE(j.contains("ratio"));
        }
        CHECK_FALSE(spdlog_ext::thread_has_fields());
        CHECK(spdlog_ext::current_thread_fields().empty());
    }

    TEST_CASE("fields are per thread") {
        spdlog_ext::scoped_fields mine{{"owner", "main"}};
        nlohmann::json other;
        std::thread t([&] { other = spdlog_ext::current_thread_fields(); });
        t.join();
        CHECK(other.empty());
        CHECK(spdlog_ext::current_thread_fields()["owner"] == "main");
    }

    TEST_CASE("records capture typed fields + the per-call form and exceptions") {
        auto sink = std::make_shared<test::capture_sink_mt>();
        auto logger = std::make_shared<spdlog::logger>("fields", sink);
        spdlog_ext::scoped_fields scope{{"request", {{"id", 9}, {"path", "/x"}}}};
        spdlog_ext::log(logger, spdlog::level::warn, {{"order", 42}, {"tags", {"a", "b"}}},
                        "order {} late", 42);
        logger->info("plain");
        try {
            try {
                throw std::runtime_error("socket closed");
            } catch (...) {
                std::throw_with_nested(std::logic_error("payment failed"));
            }
        } catch (const std::exception& e) {
            spdlog_ext::log_exception(logger, spdlog::level::err, e, "checkout {}", "aborted");
        }
        auto got = sink->records();
        REQUIRE(got.size() == 3);
        CHECK(got[0].message == "order 42 late");
        CHECK(got[0].fields["order"].is_number_integer());
        CHECK(got[0].fields["tags"] == nlohmann::json::array({"a", "b"}));
        CHECK(got[0].fields["request"]["id"] == 9);
        CHECK_FALSE(got[1].fields.contains("order"));  // per-call fields end with the call
        CHECK(got[1].fields["request"]["path"] == "/x");
        CHECK(got[2].fields["exception"] == "payment failed\ncaused by: socket closed");
    }

    TEST_CASE("record capture copies everything and round-trips to a log_msg") {
        spdlog_ext::set_thread_name("capture-test");
        spdlog::details::log_msg msg(spdlog::source_loc{"file.cpp", 12, "fn"}, "lg",
                                     spdlog::level::err, "payload");
        auto r = spdlog_ext::record::capture(msg);
        CHECK(r.logger_name == "lg");
        CHECK(r.message == "payload");
        CHECK(r.level == spdlog::level::err);
        CHECK(r.time == msg.time);
        CHECK(r.thread_name == "capture-test");
        CHECK(r.source_file == "file.cpp");
        CHECK(r.source_line == 12);
        CHECK(r.fields.is_null());
        auto back = r.to_log_msg();
        CHECK(std::string(back.payload.data(), back.payload.size()) == "payload");
        CHECK(back.source.line == 12);
        CHECK(back.thread_id == msg.thread_id);
        CHECK(spdlog_ext::process_id() > 0);
        CHECK_FALSE(spdlog_ext::host_name().empty());
    }

    TEST_CASE("a message formatted on another thread gets no fields rather than wrong ones") {
        spdlog_ext::scoped_fields mine{{"secret_scope", 1}};
        spdlog::details::log_msg msg("lg", spdlog::level::info, "x");
        nlohmann::json seen = 1;
        std::thread t([&] {
            spdlog_ext::scoped_fields theirs{{"wrong", true}};
            seen = spdlog_ext::fields_of(msg);  // as spdlog's async pool thread would
        });
        t.join();
        CHECK(seen.is_null());
        CHECK(spdlog_ext::fields_of(msg)["secret_scope"] == 1);
    }

    TEST_CASE("an exception field that is not a string is shown even with invalid UTF-8") {
        // Found by fuzz_copy_text: dump() threw type_error 316 inside the encoders (the COPY and
        // Datadog encoders and the Slack message all read the exception through this).
        spdlog_ext::record r;
        r.fields = {{"exception", {{"what", std::string("bad \x88 byte")}, {"code", 7}}}};
        std::string text;
        CHECK_NOTHROW(text = r.exception());
        CHECK(text.find("\"code\":7") != std::string::npos);
        CHECK(text.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD for the bad byte
    }
}
