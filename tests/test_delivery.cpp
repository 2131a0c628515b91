// The delivery state machine alone: a scripted backend, a capture fallback and a virtual clock
// (tests/support/fake_delivery_host.h); no queue, no worker thread, no real sleep.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/delivery.h"
#include "support/fake_delivery_host.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using spdlog_ext::batch_result;
using outcome = spdlog_ext::batch_result::outcome;

namespace {

bool contains(spdlog_ext::record_span batch, const std::string& message) {
    return std::any_of(batch.begin(), batch.end(),
                       [&](const spdlog_ext::record& r) { return r.message == message; });
}

// One delivery with everything it talks to.
struct delivery_rig {
    spdlog_ext::engine_config cfg;
    spdlog_ext::detail::engine_counters counters;
    std::shared_ptr<test::backend_log> log = std::make_shared<test::backend_log>();
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::vector<std::string> errors;
    test::fake_delivery_host host;
    std::unique_ptr<spdlog_ext::detail::reporter> report;
    std::unique_ptr<test::scripted_backend> backend;
    std::unique_ptr<spdlog_ext::detail::delivery> sender;
    std::vector<spdlog_ext::record> records;

    explicit delivery_rig(test::scripted_backend::script_fn script) {
        cfg.name = "test";
        cfg.fallback = fallback;
        cfg.error_handler = [this](const std::string& e) { errors.push_back(e); };
        cfg.retry_initial = 100ms;
        cfg.retry_max_delay = 2s;
        backend = std::make_unique<test::scripted_backend>(log, std::move(script));
    }
    // Builds the parts from cfg: call after changing it.
    void start() {
        report = std::make_unique<spdlog_ext::detail::reporter>(cfg, counters);
        sender =
            std::make_unique<spdlog_ext::detail::delivery>(*backend, cfg, *report, counters, host);
    }
    // Sends records "r0" .. "r<n-1>" as one batch.
    void send(std::size_t n) {
        if (!sender) {
            start();
        }
        records.assign(n, spdlog_ext::record{});
        for (std::size_t i = 0; i < n; ++i) {
            records[i].message = "r" + std::to_string(i);
        }
        sender->send(records.data(), n);
    }
    std::vector<std::string> fallback_messages() {
        std::vector<std::string> out;
        for (const auto& r : fallback->records()) {
            out.push_back(r.message);
        }
        return out;
    }
    std::set<std::string> fallback_reasons() {
        std::set<std::string> out;
        for (const auto& r : fallback->records()) {
            out.insert(r.fields.value("fallback_reason", std::string("(none)")));
        }
        return out;
    }
    std::uint64_t count(const std::atomic<std::uint64_t>& c) const { return c.load(); }
};

}  // namespace

TEST_SUITE("engine") {
    TEST_CASE("delivery: isolate bisects 8 records down to the two bad ones") {
        delivery_rig rig([](spdlog_ext::record_span batch, int) {
            return contains(batch, "r2") || contains(batch, "r5")
                       ? batch_result::with(outcome::isolate, "bad value")
                       : batch_result::delivered();
        });
        rig.send(8);
        CHECK(rig.log->batch_sizes == std::vector<std::size_t>{8, 4, 2, 2, 1, 1, 4, 2, 1, 1, 2});
        std::vector<std::size_t> offsets;
        std::set<std::uint64_t> batch_ids;
        for (const auto& c : rig.log->contexts) {
            offsets.push_back(c.source_offset);
            batch_ids.insert(c.batch_id);
            CHECK(c.source_id == 1);
            CHECK(c.attempt == 0);
        }
        CHECK(offsets == std::vector<std::size_t>{0, 0, 0, 2, 2, 3, 4, 4, 4, 5, 6});
        CHECK(batch_ids.size() == 11);  // every half is a batch of its own
        CHECK(rig.log->delivered == std::vector<std::string>{"r0", "r1", "r3", "r4", "r6", "r7"});
        CHECK(rig.fallback_messages() == std::vector<std::string>{"r2", "r5"});
        CHECK(rig.fallback_reasons() == std::set<std::string>{"refused: bad value"});
        CHECK(rig.count(rig.counters.delivered) == 6);
        CHECK(rig.count(rig.counters.fallback) == 2);
        CHECK(rig.count(rig.counters.batches) == 4);
        CHECK(rig.count(rig.counters.failed_batches) == 2);
        CHECK(rig.count(rig.counters.retries) == 0);
        CHECK(rig.host.sleeps.empty());
    }

    TEST_CASE("delivery: split halves down to the one record too large") {
        delivery_rig rig([](spdlog_ext::record_span batch, int) {
            return contains(batch, "r0") ? batch_result::with(outcome::split, "body too large")
                                         : batch_result::delivered();
        });
        rig.send(4);
        CHECK(rig.log->batch_sizes == std::vector<std::size_t>{4, 2, 1, 1, 2});
        CHECK(rig.log->delivered == std::vector<std::string>{"r1", "r2", "r3"});
        CHECK(rig.fallback_messages() == std::vector<std::string>{"r0"});
        CHECK(rig.fallback_reasons() == std::set<std::string>{"too large to send: body too large"});
        REQUIRE(rig.errors.size() == 1);
        CHECK(rig.errors[0] ==
              "test: a record went to the fallback: too large to send: body too large");
    }

    TEST_CASE("delivery: a retried write keeps its batch id and counts attempts") {
        delivery_rig rig([](spdlog_ext::record_span, int call) {
            return call < 2 ? batch_result::retry("connection refused") : batch_result::delivered();
        });
        rig.send(4);
        REQUIRE(rig.log->contexts.size() == 3);
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(rig.log->contexts[i].batch_id == rig.log->contexts[0].batch_id);
            CHECK(rig.log->contexts[i].attempt == i);
            CHECK(rig.log->contexts[i].source_offset == 0);
        }
        CHECK(rig.log->delivered.size() == 4);
        CHECK(rig.fallback->size() == 0);
        CHECK(rig.count(rig.counters.retries) == 2);
        CHECK(rig.count(rig.counters.delivered) == 4);
        CHECK(rig.count(rig.counters.batches) == 1);
        CHECK(rig.count(rig.counters.possible_duplicates) == 0);
        CHECK(rig.host.sleeps.size() == 2);
        CHECK(rig.host.failing_changes == std::vector<bool>{true, false});
        CHECK(rig.report->last_error() == "connection refused");
    }

    TEST_CASE("delivery: unknown outcomes count possible duplicates once per record") {
        // Two writes that may have been applied, then a split: each half settles 2 per record.
        delivery_rig rig([](spdlog_ext::record_span batch, int call) {
            if (call < 2) {
                return batch_result::retry("timed out", std::nullopt, true);
            }
            return batch.size() == 4 ? batch_result::with(outcome::split, "too large")
                                     : batch_result::delivered();
        });
        rig.send(4);
        CHECK(rig.log->batch_sizes == std::vector<std::size_t>{4, 4, 4, 2, 2});
        CHECK(rig.count(rig.counters.delivered) == 4);
        CHECK(rig.count(rig.counters.possible_duplicates) == 8);
    }

    TEST_CASE("delivery: Retry-After is capped at retry_max_delay") {
        delivery_rig rig([](spdlog_ext::record_span, int call) {
            return call == 0 ? batch_result::retry("busy", std::chrono::milliseconds(1h))
                             : batch_result::delivered();
        });
        const auto t0 = rig.host.clock;
        rig.send(2);
        REQUIRE(rig.host.sleeps.size() == 1);
        CHECK(rig.host.sleeps[0] - t0 == rig.cfg.retry_max_delay);
        CHECK(rig.count(rig.counters.delivered) == 2);
    }

    TEST_CASE("delivery: gives up after retry_max_attempts") {
        delivery_rig rig([](spdlog_ext::record_span, int) { return batch_result::retry("down"); });
        rig.cfg.retry_max_attempts = 3;
        rig.send(3);
        CHECK(rig.log->writes.load() == 3);
        CHECK(rig.fallback->size() == 3);
        CHECK(rig.fallback_reasons() == std::set<std::string>{"gave up after 3 attempts: down"});
        CHECK(rig.count(rig.counters.retries) == 2);
        CHECK(rig.count(rig.counters.failed_batches) == 1);
        CHECK(rig.host.is_failing);
    }

    TEST_CASE("delivery: gives up after retry_max_elapsed on the virtual clock") {
        test::fake_delivery_host* host = nullptr;
        delivery_rig rig([&host](spdlog_ext::record_span, int) {
            host->advance(4s);  // each write takes 4 s
            return batch_result::retry("down");
        });
        host = &rig.host;
        rig.cfg.retry_initial = 1ms;
        rig.cfg.retry_max_delay = 1ms;
        rig.cfg.retry_max_elapsed = 10s;
        rig.send(2);
        CHECK(rig.log->writes.load() == 3);  // ends at 4 s, 8 s, 12 s
        CHECK(rig.fallback_reasons() == std::set<std::string>{"gave up after 3 attempts: down"});
    }

    TEST_CASE("delivery: gives up before a wait that would pass retry_max_elapsed") {
        test::fake_delivery_host* host = nullptr;
        delivery_rig rig([&host](spdlog_ext::record_span, int) {
            host->advance(3s);
            return batch_result::retry("slow down", std::chrono::milliseconds(8s));
        });
        host = &rig.host;
        rig.cfg.retry_max_delay = 10s;
        rig.cfg.retry_max_elapsed = 10s;
        rig.send(2);
        CHECK(rig.log->writes.load() == 1);
        CHECK(rig.host.sleeps.empty());
        CHECK(rig.fallback_reasons() ==
              std::set<std::string>{"gave up after 1 attempts (the next would pass "
                                    "RETRY_MAX_ELAPSED): slow down"});
    }

    TEST_CASE("delivery: disable sends the whole range and every later one to the fallback") {
        delivery_rig rig([](spdlog_ext::record_span, int) {
            return batch_result::with(outcome::disable, "key revoked");
        });
        rig.send(4);
        CHECK(rig.log->writes.load() == 1);
        CHECK(rig.fallback->size() == 4);
        CHECK(rig.fallback_reasons() == std::set<std::string>{"backend disabled: key revoked"});
        CHECK(rig.counters.disabled.load());
        CHECK(rig.host.failing_changes == std::vector<bool>{true});
        REQUIRE(!rig.errors.empty());
        CHECK(rig.errors.back() ==
              "test: backend disabled, every record now goes to the fallback: key revoked");
        rig.send(2);  // no more writes
        CHECK(rig.log->writes.load() == 1);
        CHECK(rig.fallback->size() == 6);
        CHECK(rig.count(rig.counters.failed_batches) == 2);
    }

    TEST_CASE("delivery: past the shutdown deadline the reason keeps the last error") {
        delivery_rig rig([](spdlog_ext::record_span, int) {
            // Retry-After, not the jittered backoff: the wait surely reaches the deadline.
            return batch_result::retry("password authentication failed",
                                       std::chrono::milliseconds(30s));
        });
        rig.host.deadline = rig.host.clock + 5s;
        rig.cfg.retry_max_delay = 30s;
        rig.send(2);
        CHECK(rig.log->writes.load() == 1);
        CHECK(rig.fallback_reasons() ==
              std::set<std::string>{"not delivered before the shutdown deadline; last error: "
                                    "password authentication failed"});
        CHECK(rig.count(rig.counters.failed_batches) == 1);
    }

    TEST_CASE("delivery: a batch taken after the deadline is not written") {
        delivery_rig rig(nullptr);
        rig.host.deadline = rig.host.clock;
        rig.send(2);
        CHECK(rig.log->writes.load() == 0);
        CHECK(rig.fallback_reasons() ==
              std::set<std::string>{"not delivered before the shutdown deadline"});
    }

    TEST_CASE("delivery: min_write_interval counts from the end of the previous write") {
        test::fake_delivery_host* host = nullptr;
        std::vector<std::chrono::steady_clock::time_point> starts;
        delivery_rig rig([&](spdlog_ext::record_span, int) {
            starts.push_back(host->clock);
            host->advance(300ms);
            return batch_result::delivered();
        });
        host = &rig.host;
        rig.cfg.min_write_interval = 1s;
        rig.send(1);
        rig.send(1);
        REQUIRE(starts.size() == 2);
        CHECK(starts[1] - starts[0] == 1300ms);
        REQUIRE(rig.sender->last_write().has_value());
        CHECK(*rig.sender->last_write() == starts[1] + 300ms);
    }
}
