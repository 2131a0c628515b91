// datadog_http_sink against a fake Datadog intake that validates every request strictly
// (tests/support/fake_datadog_intake.h): read-back of items, Datadog's limits, faults, Retry-After,
// 413/400/401/403, HTTPS with a private CA, secrets and configuration.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sinks/datadog/datadog_encoder.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "support/env_guard.h"
#include "support/fake_datadog_intake.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"
#include "support/test_tls.h"

using namespace std::chrono_literals;
using nlohmann::json;
using test::intake_fault;

namespace {

using test::check_accounting;
using test::error_log;

constexpr const char* good_key = "test-api-key";
const std::string truncation_marker = "\xe2\x80\xa6[truncated by spdlog_ext]";  // …[truncated...]

using test::env_guard;

// Every Datadog / LOG_DATADOG_* variable the sink may read, unset for a test.
env_guard clean_datadog_env() {
    return env_guard{{"DD_API_KEY", nullptr},
                     {"DD_SITE", nullptr},
                     {"DD_SERVICE", nullptr},
                     {"DD_ENV", nullptr},
                     {"DD_VERSION", nullptr},
                     {"DD_TAGS", nullptr},
                     {"DD_HOSTNAME", nullptr},
                     {"LOG_DATADOG_URL", nullptr},
                     {"LOG_DATADOG_SOURCE", nullptr},
                     {"LOG_DATADOG_GZIP", nullptr},
                     {"LOG_DATADOG_CA_BUNDLE", nullptr},
                     {"LOG_DATADOG_BATCH_MAX_DELAY", nullptr},
                     {"LOG_DATADOG_FALLBACK", nullptr}};
}

struct dd_fixture {
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<error_log> errors = std::make_shared<error_log>();

    spdlog_ext::datadog_config config(const test::fake_datadog_intake& intake,
                                      const std::string& api_key = good_key) const {
        spdlog_ext::datadog_config cfg;
        cfg.api_key = api_key;
        cfg.url = intake.url();
        cfg.service = "checkout";
        cfg.hostname = "test-host";
        cfg.timeout = 500ms;
        cfg.connect_timeout = 500ms;
        cfg.engine.batch_max_delay = 20ms;
        cfg.engine.retry_initial = 20ms;
        cfg.engine.retry_max_delay = 500ms;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& line) { errs->add(line); };
        return cfg;
    }

    std::vector<std::string> fallback_reasons() const {
        std::vector<std::string> out;
        for (const auto& r : fallback->records()) {
            out.push_back(r.fields.value("fallback_reason", std::string("<none>")));
        }
        return out;
    }
};

void check_no_violations(const test::fake_datadog_intake& intake) {
    const auto v = intake.violations();
    for (std::size_t i = 0; i < v.size() && i < 5; ++i) {
        MESSAGE("protocol violation: " << v[i]);
    }
    CHECK(v.size() == 0);
}

std::map<std::string, json> items_by_message(const std::vector<json>& items) {
    std::map<std::string, json> out;
    for (const auto& item : items) {
        out[item.value("message", std::string())] = item;
    }
    return out;
}

std::int64_t ms_since_epoch(spdlog::log_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::vector<std::string> split_tags(const std::string& tags) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= tags.size()) {
        const auto comma = tags.find(',', start);
        const auto end = comma == std::string::npos ? tags.size() : comma;
        out.push_back(tags.substr(start, end - start));
        if (comma == std::string::npos) {
            break;
        }
        start = comma + 1;
    }
    return out;
}

std::string lower(std::string s) {
    for (char& c : s) {
        c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    }
    return s;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("datadog") {
    TEST_CASE(
        "items read back exactly - typed fields and timestamps and tags and logger and error") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        cfg.env = "staging";
        cfg.version = "1.2.3";
        cfg.tags = "team:core,region:eu";
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        sink->set_level(spdlog::level::trace);

        const auto t0 = spdlog::log_clock::time_point(std::chrono::milliseconds(1700000000123));
        const json ctx = {{"a", 1}, {"b", {{"c", "d"}, {"e", json::array({true, nullptr})}}}};
        const json list = json::array({1, "two", 3.5, json::object({{"k", "v"}})});

        // A: typed fields and a source location, logged from a named thread.
        std::thread([&] {
            spdlog_ext::set_thread_name("dd-writer");
            spdlog_ext::scoped_fields fields{
                {"count", 42},  {"neg", -7},   {"big", 9007199254740993LL},  // 2^53 + 1
                {"ratio", 0.1}, {"ok", true},  {"user", "alice \xc3\xa9\"quoted\""},
                {"ctx", ctx},   {"list", list}};
            spdlog::details::log_msg msg(t0, spdlog::source_loc{"src/app/main.cpp", 77, "do_work"},
                                         "app", spdlog::level::warn, "typed fields");
            sink->log(msg);
        }).join();

        // B: every level, explicit event times, no source location, no fields.
        const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
            {spdlog::level::trace, "debug"}, {spdlog::level::debug, "debug"},
            {spdlog::level::info, "info"},   {spdlog::level::warn, "warning"},
            {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"}};
        for (std::size_t i = 0; i < levels.size(); ++i) {
            const std::string text = "level " + std::to_string(i);
            spdlog::details::log_msg msg(t0 + std::chrono::milliseconds(1000 + i), {}, "levels",
                                         levels[i].first, text);
            sink->log(msg);
        }

        // C: an exception with a nested one, through log_exception.
        spdlog::logger logger("errors", sink);
        logger.set_level(spdlog::level::trace);
        std::string stack;
        const auto before = ms_since_epoch(spdlog::log_clock::now());
        try {
            try {
                throw std::runtime_error("disk full");
            } catch (...) {
                std::throw_with_nested(std::logic_error("saving order-7 failed"));
            }
        } catch (const std::exception& e) {
            stack = spdlog_ext::describe_exception(e);
            spdlog_ext::log_exception(logger, spdlog::level::err, e, "could not save {}",
                                      "order-7");
        }
        const auto after = ms_since_epoch(spdlog::log_clock::now());

        // D: fields whose names collide with the reserved keys.
        {
            spdlog_ext::scoped_fields fields{
                {"message", "m"},   {"status", "custom"}, {"service", "s2"}, {"ddsource", "x"},
                {"hostname", "h2"}, {"ddtags", "t:1"},    {"timestamp", 5},  {"logger", "L"},
                {"error", "E"},     {"plain", 1}};
            spdlog::details::log_msg msg(t0 + 2000ms, {}, "collide", spdlog::level::info,
                                         "collisions");
            sink->log(msg);
        }

        REQUIRE(sink->flush_for(10s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 9);
        CHECK(s.delivered == 9);
        CHECK(f.fallback->size() == 0);
        const auto items = intake.items();
        CHECK(items.size() == 9);
        auto by = items_by_message(items);

        const std::vector<std::string> want_tags = {"env:staging", "version:1.2.3", "team:core",
                                                    "region:eu"};
        for (const auto& item : items) {
            CHECK(item.value("service", "") == "checkout");
            CHECK(item.value("ddsource", "") == "cpp");
            CHECK(item.value("hostname", "") == "test-host");
            CHECK(split_tags(item.value("ddtags", "")) == want_tags);
        }

        SUBCASE("typed fields and the source location") {
            REQUIRE(by.count("typed fields") == 1);
            const json& a = by["typed fields"];
            const json want = {
                {"message", "typed fields"},
                {"status", "warning"},
                {"service", "checkout"},
                {"ddsource", "cpp"},
                {"hostname", "test-host"},
                {"ddtags", "env:staging,version:1.2.3,team:core,region:eu"},
                {"timestamp", 1700000000123LL},
                {"logger",
                 {{"name", "app"},
                  {"thread_name", "dd-writer"},
                  {"method_name", "do_work"},
                  {"file_name", "main.cpp"},  // the sink keeps the base name
                  {"line", 77}}},
                {"count", 42},
                {"neg", -7},
                {"big", 9007199254740993LL},
                {"ratio", 0.1},
                {"ok", true},
                {"user", "alice \xc3\xa9\"quoted\""},
                {"ctx", ctx},
                {"list", list},
            };
            CHECK_MESSAGE(a == want, "got  " << a.dump() << "\nwant " << want.dump());
            // json == compares numbers by value (42 == 42.0): check the types too.
            CHECK(a["timestamp"].is_number_integer());
            CHECK(a["count"].is_number_integer());
            CHECK(a["neg"].is_number_integer());
            CHECK(a["big"].is_number_integer());
            CHECK(a["big"].get<std::int64_t>() == 9007199254740993LL);
            CHECK(a["ratio"].is_number_float());
            CHECK(a["ok"].is_boolean());
            CHECK(a["ctx"]["a"].is_number_integer());
            CHECK(a["list"][0].is_number_integer());
            CHECK(a["list"][2].is_number_float());
            CHECK(a["logger"]["line"].is_number_integer());
        }

        SUBCASE("levels map to Datadog statuses and timestamps are the event time in ms") {
            for (std::size_t i = 0; i < levels.size(); ++i) {
                const std::string text = "level " + std::to_string(i);
                REQUIRE(by.count(text) == 1);
                const json& item = by[text];
                CHECK(item["status"] == levels[i].second);
                CHECK(item["timestamp"].is_number_integer());
                CHECK(item["timestamp"].get<std::int64_t>() ==
                      1700000000123LL + 1000 + static_cast<std::int64_t>(i));
                CHECK(item["logger"]["name"] == "levels");
                CHECK_FALSE(item["logger"].contains("file_name"));  // no source location
                CHECK_FALSE(item["logger"].contains("line"));
                CHECK_FALSE(item["logger"].contains("method_name"));
                CHECK_FALSE(item.contains("error"));
                CHECK_FALSE(item.contains("fields"));
            }
        }

        SUBCASE("the exception becomes error.kind and error.message and error.stack") {
            REQUIRE(by.count("could not save order-7") == 1);
            const json& c = by["could not save order-7"];
            CHECK(c["status"] == "error");
            CHECK(c["logger"]["name"] == "errors");
            REQUIRE(c.contains("error"));
            const std::string first_line = stack.substr(0, stack.find('\n'));
            CHECK(stack.find('\n') != std::string::npos);  // the nested one is on line 2
            CHECK(c["error"] ==
                  json{{"kind", "exception"}, {"message", first_line}, {"stack", stack}});
            CHECK_FALSE(c.contains("exception"));  // mapped, not repeated as an attribute
            REQUIRE(c["timestamp"].is_number_integer());
            CHECK(c["timestamp"].get<std::int64_t>() >= before);
            CHECK(c["timestamp"].get<std::int64_t>() <= after);
        }

        SUBCASE("fields named like reserved keys go under fields") {
            REQUIRE(by.count("collisions") == 1);
            const json& d = by["collisions"];
            CHECK(d["message"] == "collisions");
            CHECK(d["status"] == "info");
            CHECK(d["service"] == "checkout");
            CHECK(d["ddsource"] == "cpp");
            CHECK(d["hostname"] == "test-host");
            CHECK(d["timestamp"] == 1700000000123LL + 2000);
            CHECK(d["logger"]["name"] == "collide");
            CHECK_FALSE(d.contains("error"));
            CHECK(d["plain"] == 1);
            CHECK(d["fields"] == json{{"message", "m"},
                                      {"status", "custom"},
                                      {"service", "s2"},
                                      {"ddsource", "x"},
                                      {"hostname", "h2"},
                                      {"ddtags", "t:1"},
                                      {"timestamp", 5},
                                      {"logger", "L"},
                                      {"error", "E"}});
        }
    }

    TEST_CASE("2500 records in one flush - no request over 1000 items") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        // Even when the engine is allowed bigger batches the sink must split at 1000 items.
        cfg.engine.batch_max_records = 5000;
        cfg.engine.batch_max_bytes = 64u << 20;
        cfg.engine.batch_max_delay = 2s;
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("limits", sink);
        for (int i = 0; i < 2500; ++i) {
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "record {}", i);
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 2500);
        CHECK(s.delivered == 2500);
        CHECK(s.fallback == 0);
        std::size_t biggest = 0;
        for (const auto& r : intake.requests()) {
            biggest = std::max(biggest, r.items);
        }
        CHECK(biggest <= 1000);
        CHECK(biggest > 0);
        std::set<int> seqs;
        for (const auto& item : intake.items()) {
            seqs.insert(item["seq"].get<int>());
        }
        CHECK(seqs.size() == 2500);
        CHECK(intake.item_count() == 2500);
    }

    TEST_CASE("30 records of 300 KB - no request over 5 MB uncompressed") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        cfg.engine.batch_max_records = 1000;
        cfg.engine.batch_max_bytes = 64u << 20;  // the sink must still split at 5 MB
        cfg.engine.batch_max_delay = 2s;
        cfg.timeout = 5s;
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("big", sink);
        std::set<std::string> sent;
        for (int i = 0; i < 30; ++i) {
            std::string text(300'000, static_cast<char>('a' + i % 26));
            text += " #" + std::to_string(i);
            logger.info(text);
            sent.insert(text);
        }
        REQUIRE(sink->flush_for(20s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 30);
        CHECK(s.delivered == 30);
        CHECK(s.fallback == 0);
        const auto requests = intake.requests();
        std::size_t largest = 0;
        for (const auto& r : requests) {
            largest = std::max(largest, r.body_bytes);
        }
        MESSAGE("requests: " << requests.size() << " largest body: " << largest);
        CHECK(largest <= 5'000'000);
        CHECK(requests.size() >= 2);  // 9 MB cannot fit in one request
        CHECK(intake.item_count() == 30);
        std::set<std::string> got;
        for (const auto& item : intake.items()) {
            got.insert(item["message"].get<std::string>());
        }
        CHECK(got == sent);
    }

    TEST_CASE("a 2 MB message is delivered truncated with the marker under 1 MB") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        cfg.timeout = 5s;
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("huge", sink);
        // 'a' then 2-byte characters: a cut at an even byte offset splits a character.
        std::string text = "a";
        for (int i = 0; i < 1'000'000; ++i) {
            text += "\xc3\xa9";  // é
        }
        logger.info(text);
        REQUIRE(sink->flush_for(10s));
        check_no_violations(intake);  // includes: the item is at most 1 MB serialized
        const auto s = sink->stats();
        check_accounting(s, 1);
        CHECK(s.delivered == 1);
        CHECK(s.fallback == 0);
        const auto items = intake.items();
        REQUIRE(items.size() == 1);
        const std::string got = items[0]["message"].get<std::string>();
        MESSAGE("delivered message: " << got.size() << " bytes");
        CHECK(got.size() <= 1'000'000);
        CHECK(got.size() >= 900'000);  // truncated, not emptied
        REQUIRE(got.size() > truncation_marker.size());
        CHECK(got.substr(got.size() - truncation_marker.size()) == truncation_marker);
        const std::string kept = got.substr(0, got.size() - truncation_marker.size());
        CHECK(text.compare(0, kept.size(), kept) == 0);  // a prefix, cut between characters
        CHECK(items[0].dump().size() <= 1'000'000);
    }

    TEST_CASE("50k records while 30 percent of requests fail - every record arrives" *
              doctest::timeout(90)) {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        cfg.engine.retry_max_elapsed = 60s;
        cfg.engine.retry_max_attempts = 0;
        cfg.engine.flush_timeout = 60s;
        // Requests 3, 6, 9 of every 10 fail, the kinds rotating: 500 (not applied), 429 with
        // Retry-After 1, a hang past the client timeout (applied: the answer is lost), a reset
        // connection (applied), 503 (applied).
        std::mutex kinds_mu;
        std::map<std::string, int> kinds;
        intake.set_faults([&](const test::intake_request& r, const json&) {
            const int slot = r.index % 10;
            if (slot != 3 && slot != 6 && slot != 9) {
                return intake_fault{};
            }
            const int n = (r.index / 10) * 3 + slot / 3 - 1;
            std::lock_guard<std::mutex> lock(kinds_mu);
            switch (n % 5) {
                case 0:
                    ++kinds["500"];
                    return intake_fault::answer(500, {}, R"({"errors":["internal"]})");
                case 1:
                    ++kinds["429"];
                    return intake_fault::answer(429, "1");
                case 2:
                    ++kinds["hang"];
                    return intake_fault::hang_for(800ms, true);
                case 3:
                    ++kinds["reset"];
                    return intake_fault::reset_connection(true);
                default: {
                    ++kinds["503"];
                    auto fault = intake_fault::answer(503);
                    fault.apply = true;
                    return fault;
                }
            }
        });
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("faults", sink);
        constexpr int total = 50'000;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < total; ++i) {
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "fault test record {}", i);
        }
        REQUIRE(sink->flush_for(60s));
        const auto took = std::chrono::steady_clock::now() - t0;
        MESSAGE("took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms over " << intake.request_count()
                        << " requests; 500: " << kinds["500"] << " 429: " << kinds["429"]
                        << " hang: " << kinds["hang"] << " reset: " << kinds["reset"]
                        << " (proxy resets " << intake.resets() << ") 503: " << kinds["503"]);
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, total);
        CHECK(s.delivered == total);
        CHECK(s.fallback == 0);
        CHECK(f.fallback->size() == 0);
        // The faults really happened.
        CHECK(kinds["429"] >= 1);
        CHECK(kinds["hang"] >= 1);
        CHECK(kinds["reset"] >= 1);
        CHECK(intake.resets() >= 1);

        std::vector<int> seen(total, 0);
        std::size_t bad = 0;
        for (const auto& item : intake.items()) {
            const auto seq = item.value("seq", -1);
            if (seq < 0 || seq >= total) {
                ++bad;
                continue;
            }
            ++seen[static_cast<std::size_t>(seq)];
        }
        CHECK(bad == 0);
        std::size_t missing = 0;
        std::uint64_t duplicates = 0;
        for (int n : seen) {
            missing += n == 0 ? 1 : 0;
            duplicates += n > 1 ? static_cast<std::uint64_t>(n - 1) : 0;
        }
        MESSAGE("duplicates: " << duplicates << " possible_duplicates: " << s.possible_duplicates
                               << " retries: " << s.retries);
        CHECK(missing == 0);
        if (duplicates > 0) {
            CHECK(s.possible_duplicates > 0);
        }
        CHECK(duplicates <= s.possible_duplicates);
        CHECK(took < 60s);
    }

    TEST_CASE("Retry-After is honoured after a 429") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        intake.set_faults([](const test::intake_request& r, const json&) {
            return r.index == 0 ? intake_fault::answer(429, "1") : intake_fault{};
        });
        auto cfg = f.config(intake);
        cfg.engine.retry_max_delay = 2s;  // a server's delay stands up to this
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("rate", sink);
        for (int i = 0; i < 10; ++i) {
            logger.info("rate limited {}", i);
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(intake);
        const auto requests = intake.requests();
        REQUIRE(requests.size() >= 2);
        CHECK(requests[0].status == 429);
        const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(requests[1].time -
                                                                               requests[0].time);
        MESSAGE("second request " << gap.count() << " ms after the 429");
        CHECK(gap >= 1000ms);
        const auto s = sink->stats();
        check_accounting(s, 10);
        CHECK(s.delivered == 10);
        CHECK(intake.item_count() == 10);
    }

    TEST_CASE("413 splits the batch until the intake takes it") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        intake.set_faults([](const test::intake_request& r, const json&) {
            return r.items > 100 ? intake_fault::answer(413, {}, "payload too large")
                                 : intake_fault{};
        });
        auto cfg = f.config(intake);
        cfg.engine.batch_max_delay = 1s;  // full batches of 1000
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("split", sink);
        for (int i = 0; i < 1000; ++i) {
            spdlog_ext::log(logger, spdlog::level::info, {{"seq", i}}, "split {}", i);
        }
        REQUIRE(sink->flush_for(20s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 1000);
        CHECK(s.delivered == 1000);
        CHECK(s.fallback == 0);
        std::size_t refused = 0;
        for (const auto& r : intake.requests()) {
            if (r.accepted) {
                CHECK(r.items <= 100);
            } else {
                ++refused;
            }
        }
        CHECK(refused >= 1);  // the 413 happened
        std::set<int> seqs;
        for (const auto& item : intake.items()) {
            seqs.insert(item["seq"].get<int>());
        }
        CHECK(seqs.size() == 1000);
        CHECK(intake.item_count() == 1000);  // a 413 is a definite refusal: no duplicates
    }

    TEST_CASE("400 isolates the bad items - the others are delivered") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        intake.set_faults([](const test::intake_request&, const json& items) {
            for (const auto& item : items) {
                if (contains(item["message"].get<std::string>(), "POISON")) {
                    return intake_fault::answer(
                        400, {}, R"({"errors":[{"status":"400","detail":"invalid log item"}]})");
                }
            }
            return intake_fault{};
        });
        auto cfg = f.config(intake);
        cfg.engine.batch_max_delay = 1s;
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("poison", sink);
        const std::set<int> poisoned = {0, 17, 150, 299};
        std::set<std::string> good;
        for (int i = 0; i < 300; ++i) {
            if (poisoned.count(i) != 0) {
                logger.info("POISON pill {}", i);
            } else {
                logger.info("good {}", i);
                good.insert("good " + std::to_string(i));
            }
        }
        REQUIRE(sink->flush_for(20s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 300);
        CHECK(s.delivered == 296);
        CHECK(s.fallback == 4);
        std::multiset<std::string> delivered;
        for (const auto& item : intake.items()) {
            delivered.insert(item["message"].get<std::string>());
        }
        CHECK(delivered == std::multiset<std::string>(good.begin(), good.end()));
        const auto fb = f.fallback->records();
        std::set<std::string> fallen;
        for (const auto& r : fb) {
            fallen.insert(r.message);
            const std::string reason = r.fields.value("fallback_reason", std::string());
            CHECK_MESSAGE(contains(reason, "400"), "reason: " << reason);
        }
        CHECK(fallen == std::set<std::string>{"POISON pill 0", "POISON pill 17", "POISON pill 150",
                                              "POISON pill 299"});
        CHECK(fb.size() == 4);
    }

    TEST_CASE("401 or 403 stops the sink - every record to the fallback") {
        test::intake_options options;
        options.api_key = "the-right-key";
        test::fake_datadog_intake intake(options);
        dd_fixture f;
        std::string key;
        std::string code;
        SUBCASE("a wrong API key: 403") {
            key = "wrong-key-abc123";
            code = "403";
        }
        SUBCASE("the intake answers 401") {
            key = "the-right-key";  // accepted by the validation, then refused by the fault
            code = "401";
            intake.set_faults([](const test::intake_request&, const json&) {
                return intake_fault::answer(401, {}, R"({"errors":["Unauthorized"]})");
            });
        }
        auto cfg = f.config(intake, key);
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("auth", sink);
        for (int i = 0; i < 20; ++i) {
            logger.info("before {}", i);
        }
        CHECK(sink->flush_for(10s));
        const std::size_t first = intake.request_count();
        CHECK(first >= 1);
        CHECK(first <= 3);
        for (int i = 0; i < 20; ++i) {
            logger.info("after {}", i);
        }
        CHECK(sink->flush_for(10s));
        std::this_thread::sleep_for(100ms);
        CHECK(intake.request_count() == first);  // nothing more was sent
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 40);
        CHECK(s.disabled);
        CHECK(s.delivered == 0);
        CHECK(s.fallback == 40);
        CHECK(f.fallback->size() == 40);
        CHECK(intake.item_count() == 0);
        MESSAGE("last_error: " << s.last_error);
        CHECK(contains(s.last_error, code));
        const std::string l = lower(s.last_error);
        CHECK((contains(l, "api key") || contains(l, "api_key") || contains(l, "api-key")));
        CHECK_FALSE(contains(s.last_error, key));
        const auto errors = f.errors->copy();
        std::size_t about_auth = 0;
        for (const auto& e : errors) {
            CHECK_FALSE(contains(e, key));
            about_auth += contains(e, code) ? 1 : 0;
        }
        CHECK(about_auth >= 1);
        CHECK(errors.size() <= 3);  // one clear error, not one per batch
        for (const auto& reason : f.fallback_reasons()) {
            CHECK_FALSE(contains(reason, key));
        }
    }

    TEST_CASE("HTTPS with a private CA - refused without its bundle and delivered with it") {
        const auto dir = std::filesystem::temp_directory_path() /
                         ("spdlog_ext_dd_tls_" + std::to_string(::getpid()));
        const test::test_pki pki = test::make_test_pki(dir);
        test::intake_options options;
        options.tls_cert = pki.server_cert;
        options.tls_key = pki.server_key;
        test::fake_datadog_intake intake(options);
        REQUIRE(intake.url().rfind("https://", 0) == 0);

        {
            dd_fixture f;
            auto cfg = f.config(intake);
            cfg.engine.retry_max_attempts = 2;
            auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
            spdlog::logger logger("tls", sink);
            for (int i = 0; i < 5; ++i) {
                logger.info("untrusted {}", i);
            }
            REQUIRE(sink->flush_for(10s));
            const auto s = sink->stats();
            check_accounting(s, 5);
            CHECK(s.delivered == 0);
            CHECK(s.fallback == 5);
            CHECK(intake.request_count() == 0);
            for (const auto& reason : f.fallback_reasons()) {
                CHECK_MESSAGE(contains(lower(reason), "certificate"), "reason: " << reason);
            }
        }
        {
            dd_fixture f;
            auto cfg = f.config(intake);
            cfg.engine.retry_max_attempts = 2;
            cfg.ca_bundle = pki.ca_cert;
            auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
            spdlog::logger logger("tls", sink);
            for (int i = 0; i < 5; ++i) {
                logger.info("trusted {}", i);
            }
            REQUIRE(sink->flush_for(10s));
            const auto s = sink->stats();
            check_accounting(s, 5);
            CHECK(s.delivered == 5);
            CHECK(s.fallback == 0);
            CHECK(intake.item_count() == 5);
            check_no_violations(intake);
        }
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the API key never appears in stats or reasons or errors or config errors") {
        const std::string secret = "dd-secret-XYZ";
        test::intake_options options;
        options.api_key = secret;
        test::fake_datadog_intake intake(options);
        dd_fixture f;
        // The intake (as a misbehaving proxy might) echoes the key in its error bodies.
        const std::string echo = R"({"errors":["bad request with DD-API-KEY: dd-secret-XYZ"]})";
        std::atomic<bool> revoke{false};
        intake.set_faults([&](const test::intake_request& r, const json& items) {
            if (revoke) {
                return intake_fault::answer(403, {}, echo);
            }
            for (const auto& item : items) {
                if (contains(item["message"].get<std::string>(), "POISON")) {
                    return intake_fault::answer(400, {}, echo);
                }
            }
            return r.index == 0 ? intake_fault::answer(500, {}, echo) : intake_fault{};
        });
        auto cfg = f.config(intake, secret);
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("secret", sink);
        for (int i = 0; i < 10; ++i) {
            logger.info(i == 5 ? "POISON {}" : "fine {}", i);
        }
        REQUIRE(sink->flush_for(10s));
        CHECK(intake.item_count() == 9);
        revoke = true;
        for (int i = 0; i < 5; ++i) {
            logger.info("after revocation {}", i);
        }
        REQUIRE(sink->flush_for(10s));
        const auto s = sink->stats();
        check_accounting(s, 15);
        CHECK(s.delivered == 9);
        CHECK(s.fallback == 6);
        CHECK(s.disabled);
        const std::string stats_json = s.to_json().dump();
        CHECK_FALSE(contains(stats_json, secret));
        CHECK_FALSE(contains(s.last_error, secret));
        const auto reasons = f.fallback_reasons();
        CHECK(reasons.size() == 6);
        for (const auto& reason : reasons) {
            CHECK_MESSAGE(!contains(reason, secret), "reason: " << reason);
        }
        const auto errors = f.errors->copy();
        // Other errors are rate-limited to one a second, but the backend being disabled is
        // always reported, with the reason.
        CHECK(std::any_of(errors.begin(), errors.end(), [](const std::string& e) {
            return contains(e, "backend disabled") && contains(e, "refused the API key");
        }));
        for (const auto& e : errors) {
            CHECK_MESSAGE(!contains(e, secret), "error: " << e);
        }
        check_no_violations(intake);

        // config_error messages: a bad URL, a bad variable next to the key.
        try {
            spdlog_ext::datadog_config bad;
            bad.api_key = secret;
            bad.url = "not a url";
            spdlog_ext::datadog_http_sink broken(bad);
            FAIL("a URL without a scheme was accepted");
        } catch (const spdlog_ext::config_error& e) {
            CHECK_FALSE(contains(e.what(), secret));
        }
        {
            auto env = clean_datadog_env();
            env.set("DD_API_KEY", secret.c_str());
            env.set("LOG_DATADOG_GZIP", "maybe");
            try {
                (void)spdlog_ext::datadog_config::from_env();
                FAIL("LOG_DATADOG_GZIP=maybe was accepted");
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_DATADOG_GZIP");
                CHECK_FALSE(contains(e.what(), secret));
            }
        }
    }

    TEST_CASE("an API key with a line break is refused or sent intact - never a broken header") {
        // A key read from a file often ends with a newline. Sent as is it breaks the request
        // (CR LF even injects headers): the configuration must refuse it (config_error naming
        // DD_API_KEY, without the key) or the sink must send the trimmed key.
        test::fake_datadog_intake intake;
        for (const std::string suffix : {"\r\nX-Injected: 1", "\n", "\r\n"}) {
            CAPTURE(nlohmann::json(suffix).dump());
            dd_fixture f;
            auto cfg = f.config(intake, good_key + suffix);
            cfg.engine.retry_max_attempts = 2;
            std::shared_ptr<spdlog_ext::datadog_http_sink> sink;
            try {
                sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "DD_API_KEY");
                CHECK_FALSE(contains(e.what(), good_key));
                continue;
            }
            const std::size_t before = intake.request_count();
            spdlog::logger logger("key", sink);
            logger.info("with a line break in the key");
            CHECK(sink->flush_for(5s));
            const auto requests = intake.requests();
            for (std::size_t i = before; i < requests.size(); ++i) {
                CHECK(requests[i].header("X-Injected").empty());
                CHECK(requests[i].header("DD-API-KEY") == good_key);
            }
            const auto s = sink->stats();
            check_accounting(s, 1);
            CHECK(s.delivered == 1);
        }
        check_no_violations(intake);
    }

    TEST_CASE("a log over 1 MB because of its exception or attributes is sent under 1 MB") {
        test::fake_datadog_intake intake;
        dd_fixture f;
        auto cfg = f.config(intake);
        cfg.timeout = 5s;
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        spdlog::logger logger("big-error", sink);
        const std::string message(800'000, 'm');  // under the message limit on its own
        std::string what = "first line of a long exception";
        while (what.size() < 400'000) {
            what += "\n  at frame " + std::to_string(what.size());
        }
        spdlog_ext::log_exception(logger, spdlog::level::err, std::runtime_error(what), "{}",
                                  message);
        {
            // Over 1 MB because of an attribute: the sink drops the attributes visibly.
            spdlog_ext::scoped_fields big{{"payload", std::string(1'200'000, 'p')}};
            logger.info("a small message with a 1.2 MB attribute");
        }
        REQUIRE(sink->flush_for(10s));
        check_no_violations(intake);
        const auto s = sink->stats();
        check_accounting(s, 2);
        CHECK(s.delivered == 2);
        CHECK(s.fallback == 0);
        for (const auto& r : f.fallback_reasons()) {
            MESSAGE("fallback: " << r);
        }
        const auto items = intake.items();
        CHECK(items.size() == 2);
        for (const auto& item : items) {
            CHECK(item.dump().size() <= 1'000'000);
            if (item.value("message", "") == "a small message with a 1.2 MB attribute") {
                CHECK_FALSE(item.contains("payload"));  // dropped, and the log kept
            }
        }
    }

    TEST_CASE("configuration - DD_API_KEY is required and the site gives the intake URL") {
        test::fake_datadog_intake intake;
        auto env = clean_datadog_env();
        try {
            (void)spdlog_ext::sinks_from_string("datadog", spdlog_ext::strictness::strict);
            FAIL("built a datadog sink without DD_API_KEY");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "DD_API_KEY");
            CHECK(contains(e.what(), "DD_API_KEY"));
        }
        CHECK_THROWS_AS(spdlog_ext::datadog_config::from_env(), spdlog_ext::config_error);
        {
            spdlog_ext::datadog_config no_key;
            no_key.url = intake.url();
            CHECK_THROWS_AS(spdlog_ext::datadog_http_sink{no_key}, spdlog_ext::config_error);
        }

        env.set("DD_API_KEY", good_key);
        env.set("LOG_DATADOG_URL", intake.url().c_str());
        env.set("LOG_DATADOG_BATCH_MAX_DELAY", "20ms");
        env.set("DD_SERVICE", "env-service");
        env.set("DD_ENV", "prod");
        env.set("DD_VERSION", "9.9");
        env.set("DD_TAGS", "team:core region:eu");
        env.set("DD_HOSTNAME", "env-host");
        {
            auto sinks = spdlog_ext::sinks_from_string("datadog");
            REQUIRE(sinks.size() == 1);
            auto sink = std::dynamic_pointer_cast<spdlog_ext::datadog_http_sink>(sinks[0]);
            REQUIRE(sink);
            spdlog::logger logger("from-env", sink);
            logger.warn("configured from the environment");
            REQUIRE(sink->flush_for(10s));
            check_no_violations(intake);
            const auto items = intake.items();
            REQUIRE(items.size() == 1);
            CHECK(items[0]["message"] == "configured from the environment");
            CHECK(items[0]["service"] == "env-service");
            CHECK(items[0]["hostname"] == "env-host");
            CHECK(items[0]["status"] == "warning");
            CHECK(split_tags(items[0].value("ddtags", "")) ==
                  std::vector<std::string>{"env:prod", "version:9.9", "team:core", "region:eu"});
        }

        spdlog_ext::datadog_config c;
        CHECK(c.intake_url() == "https://http-intake.logs.datadoghq.com/api/v2/logs");
        c.site = "datadoghq.eu";
        CHECK(c.intake_url() == "https://http-intake.logs.datadoghq.eu/api/v2/logs");
        c.url = "http://127.0.0.1:1/api/v2/logs";
        CHECK(c.intake_url() == "http://127.0.0.1:1/api/v2/logs");

        env.set("LOG_DATADOG_URL", nullptr);
        env.set("DD_SITE", "datadoghq.eu");
        const auto from_env = spdlog_ext::datadog_config::from_env();
        CHECK(from_env.intake_url() == "https://http-intake.logs.datadoghq.eu/api/v2/logs");
        CHECK(from_env.api_key == good_key);
    }

    TEST_CASE("configuration - an unknown DD_SITE gets one warning naming the known sites") {
        std::vector<std::string> warnings;
        spdlog_ext::set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
        auto make = [](const std::string& site, const std::string& url = "") {
            spdlog_ext::datadog_config cfg;
            cfg.api_key = good_key;
            cfg.site = site;
            cfg.url = url;
            spdlog_ext::datadog_http_sink sink(cfg);  // built either way: new sites appear
            sink.shutdown(0ms);
        };
        for (const char* known :
             {"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
              "ap1.datadoghq.com", "ap2.datadoghq.com", "ddog-gov.com"}) {
            make(known);
        }
        CHECK(warnings.empty());
        make("datadoghq.co");
        REQUIRE(warnings.size() == 1);
        CHECK(contains(warnings[0], "DD_SITE"));
        CHECK(contains(warnings[0], "'datadoghq.co'"));
        CHECK(contains(warnings[0], "us5.datadoghq.com"));
        CHECK(contains(warnings[0], "ddog-gov.com"));
        CHECK_FALSE(contains(warnings[0], good_key));
        make("datadoghq.co", "http://127.0.0.1:1/api/v2/logs");  // LOG_DATADOG_URL: no site used
        CHECK(warnings.size() == 1);
        {
            auto env = clean_datadog_env();  // through LOG_BACKENDS: one warning too
            env.set("DD_API_KEY", good_key);
            env.set("DD_SITE", "datadoghq.co");
            const auto sinks =
                spdlog_ext::sinks_from_string("datadog", spdlog_ext::strictness::strict);
            CHECK(sinks.size() == 1);
            CHECK(warnings.size() == 2);
        }
        spdlog_ext::set_warning_handler(nullptr);
    }

    // Found writing fuzz_datadog_json: a field named `fields` took the place of the object holding
    // the reserved names, and the next reserved name threw nlohmann's type_error.
    TEST_CASE("a field named fields next to reserved names is encoded under fields") {
        spdlog_ext::record r;
        r.message = "m";
        r.fields = json{{"fields", "x"}, {"hostname", "h"}, {"status", 1}};
        const spdlog_ext::detail::datadog_encoder encoder{spdlog_ext::datadog_config{}};
        std::string body;
        REQUIRE_NOTHROW(encoder.encode(spdlog_ext::record_span(&r, 1), body));
        const json items = json::parse(body);
        REQUIRE(items.size() == 1);
        CHECK(items[0]["fields"] == json{{"fields", "x"}, {"hostname", "h"}, {"status", 1}});
        CHECK(items[0]["message"] == "m");
    }
}
