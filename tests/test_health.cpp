// spdlog_ext/health.h: verdicts for healthy, slow, down and disabled backends, the list of live
// sinks, and the Prometheus text checked against stats() (by hand and by the Prometheus Python
// client's parser).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "spdlog_ext/config_error.h"
#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/health.h"
#include "support/child_process.h"
#include "support/env_guard.h"
#include "support/test_backends.h"
#include "support/wait.h"

using namespace std::chrono_literals;
using spdlog_ext::batch_result;
using spdlog_ext::health_verdict;
using outcome = spdlog_ext::batch_result::outcome;

namespace {

struct health_fixture {
    std::shared_ptr<test::backend_log> seen = std::make_shared<test::backend_log>();
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();

    spdlog_ext::engine_config config(const std::string& name) const {
        spdlog_ext::engine_config cfg;
        cfg.name = name;
        cfg.fallback = fallback;
        cfg.batch_max_delay = 2ms;
        cfg.retry_initial = 1ms;
        cfg.retry_max_delay = 5ms;
        cfg.shutdown_timeout = 200ms;
        cfg.error_handler = [](const std::string&) {};
        return cfg;
    }

    std::shared_ptr<spdlog_ext::engine_sink> make(spdlog_ext::engine_config cfg,
                                                  test::scripted_backend::script_fn script = {}) {
        return std::make_shared<spdlog_ext::engine_sink>(
            std::make_unique<test::scripted_backend>(seen, std::move(script)), std::move(cfg));
    }
};

void log_records(spdlog_ext::engine_sink& sink, int count, const std::string& text = "record") {
    for (int i = 0; i < count; ++i) {
        const std::string message = text + " #" + std::to_string(i);
        spdlog::details::log_msg msg("health", spdlog::level::info, message);
        sink.log(msg);
    }
}

using test::wait_until;

// The sink of that name in the report (a default one when it is missing; see `found`).
const spdlog_ext::sink_health* find_sink(const spdlog_ext::health_report& r,
                                         const std::string& name) {
    for (const auto& s : r.sinks) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

std::string all_reasons(const spdlog_ext::sink_health& h) {
    std::string out;
    for (const auto& r : h.reasons) {
        out += r + " | ";
    }
    return out;
}

// Fast thresholds for tests: stalls in tens of milliseconds.
spdlog_ext::health_thresholds quick_thresholds() {
    spdlog_ext::health_thresholds t;
    t.window = 10s;
    t.stall_degraded = 100ms;
    t.stall_failing = 10s;
    t.min_writes = 5;
    return t;
}

// The sample lines of the text: "name{labels} value" → value, for the lines naming `sink`.
std::map<std::string, double> samples_of(const std::string& text, const std::string& sink_label) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line.find(sink_label) == std::string::npos) {
            continue;
        }
        const auto space = line.rfind(' ');
        const auto brace = line.find('{');
        std::string key = line.substr(0, brace);
        if (line.find("reason=") != std::string::npos) {
            key += "/" + line.substr(line.find("reason="), line.find('}') - line.find("reason="));
        }
        out[key] = std::stod(line.substr(space + 1));
    }
    return out;
}

void check_samples_equal_stats(const std::map<std::string, double>& m,
                               const spdlog_ext::sink_stats& s) {
    const auto at = [&](const std::string& key) {
        const auto it = m.find(key);
        REQUIRE_MESSAGE(it != m.end(), "missing sample " << key);
        return it->second;
    };
    CHECK(at("spdlog_ext_sink_records_enqueued_total") == static_cast<double>(s.enqueued));
    CHECK(at("spdlog_ext_sink_records_delivered_total") == static_cast<double>(s.delivered));
    CHECK(at("spdlog_ext_sink_records_fallback_total") == static_cast<double>(s.fallback));
    CHECK(at("spdlog_ext_sink_records_dropped_total/reason=\"overflow\"") ==
          static_cast<double>(s.dropped));
    CHECK(at("spdlog_ext_sink_records_truncated_total") == static_cast<double>(s.truncated));
    CHECK(at("spdlog_ext_sink_batches_total") == static_cast<double>(s.batches));
    CHECK(at("spdlog_ext_sink_failed_batches_total") == static_cast<double>(s.failed_batches));
    CHECK(at("spdlog_ext_sink_retries_total") == static_cast<double>(s.retries));
    CHECK(at("spdlog_ext_sink_possible_duplicates_total") ==
          static_cast<double>(s.possible_duplicates));
    CHECK(at("spdlog_ext_sink_queue_records") == static_cast<double>(s.queue_depth));
    CHECK(at("spdlog_ext_sink_queue_bytes") == static_cast<double>(s.queue_bytes));
    CHECK(at("spdlog_ext_sink_queue_max_records") == static_cast<double>(s.queue_max_records));
    CHECK(at("spdlog_ext_sink_disabled") == (s.disabled ? 1.0 : 0.0));
}

}  // namespace

TEST_SUITE("health") {
    TEST_CASE("a healthy backend is ok and named with its backend kind") {
        health_fixture f;
        auto sink = f.make(f.config("health-ok"));
        log_records(*sink, 20);
        REQUIRE(sink->flush_for(5s));
        const auto report = spdlog_ext::health(quick_thresholds());
        const auto* h = find_sink(report, "health-ok");
        REQUIRE(h != nullptr);
        CHECK(h->backend == "scripted");
        CHECK_MESSAGE(h->verdict == health_verdict::ok, all_reasons(*h));
        CHECK(h->reasons.empty());
        CHECK(h->stats.delivered == 20);
        CHECK(h->seconds_since_success < 5);
        const auto json = report.to_json();
        bool listed = false;
        for (const auto& s : json["sinks"]) {
            if (s["name"] == "health-ok") {
                listed = true;
                CHECK(s["status"] == "ok");
                CHECK(s["backend"] == "scripted");
                CHECK(s["stats"]["delivered"] == 20);
            }
        }
        CHECK(listed);
    }

    TEST_CASE("a slow backend: records wait with no success past the thresholds") {
        health_fixture f;
        test::gate gate;
        auto sink = f.make(f.config("health-slow"), [&](spdlog_ext::record_span, int) {
            gate.wait();
            return batch_result::delivered();
        });
        struct opener {
            test::gate& g;
            ~opener() { g.release(); }
        } open_at_exit{gate};
        log_records(*sink, 3);
        REQUIRE(wait_until([&] { return f.seen->in_write.load(); }));
        auto t = quick_thresholds();
        const auto first = spdlog_ext::health(t);  // records seen waiting from now on
        REQUIRE(find_sink(first, "health-slow") != nullptr);
        CHECK(find_sink(first, "health-slow")->verdict == health_verdict::ok);
        std::this_thread::sleep_for(150ms);
        const auto second = spdlog_ext::health(t);
        const auto* h = find_sink(second, "health-slow");
        REQUIRE(h != nullptr);
        CHECK_MESSAGE(h->verdict == health_verdict::degraded, all_reasons(*h));
        CHECK(all_reasons(*h).find("nothing delivered") != std::string::npos);
        CHECK(second.overall >= health_verdict::degraded);
        t.stall_failing = 200ms;
        std::this_thread::sleep_for(100ms);
        const auto third = spdlog_ext::health(t);
        CHECK(find_sink(third, "health-slow")->verdict == health_verdict::failing);
        CHECK(third.overall == health_verdict::failing);
        gate.release();
        REQUIRE(sink->flush_for(5s));
        const auto after = spdlog_ext::health(t);  // delivered: no longer stalled
        CHECK_MESSAGE(find_sink(after, "health-slow")->verdict == health_verdict::ok,
                      all_reasons(*find_sink(after, "health-slow")));
    }

    TEST_CASE("a down backend is failing by its failure ratio") {
        health_fixture f;
        auto sink = f.make(f.config("health-down"), [](spdlog_ext::record_span, int) {
            return batch_result::retry("connection refused");
        });
        log_records(*sink, 5);
        REQUIRE(wait_until([&] { return sink->stats().retries >= 10; }));
        const auto report = spdlog_ext::health(quick_thresholds());
        const auto* h = find_sink(report, "health-down");
        REQUIRE(h != nullptr);
        CHECK_MESSAGE(h->verdict == health_verdict::failing, all_reasons(*h));
        CHECK(all_reasons(*h).find("writes failed") != std::string::npos);
        CHECK(h->failure_ratio == doctest::Approx(1.0));
        CHECK(report.overall == health_verdict::failing);
        CHECK(h->stats.last_error.find("connection refused") != std::string::npos);
    }

    TEST_CASE("a disabled backend is failing and its fallback use degrades it") {
        health_fixture f;
        auto sink = f.make(f.config("health-disabled"), [](spdlog_ext::record_span, int) {
            return batch_result::with(outcome::disable, "API key revoked");
        });
        log_records(*sink, 4);
        REQUIRE(sink->flush_for(5s));
        const auto report = spdlog_ext::health(quick_thresholds());
        const auto* h = find_sink(report, "health-disabled");
        REQUIRE(h != nullptr);
        CHECK(h->stats.disabled);
        CHECK_MESSAGE(h->verdict == health_verdict::failing, all_reasons(*h));
        CHECK(all_reasons(*h).find("disabled") != std::string::npos);
        CHECK(all_reasons(*h).find("4 records went to the fallback") != std::string::npos);
        CHECK(spdlog_ext::prometheus_text(report).find(
                  "spdlog_ext_sink_disabled{sink=\"health-disabled\",backend=\"scripted\"} 1\n") !=
              std::string::npos);
    }

    TEST_CASE("queue fill above the mark is degraded") {
        health_fixture f;
        test::gate gate;
        auto cfg = f.config("health-full");
        cfg.queue_max_records = 10;
        auto sink = f.make(cfg, [&](spdlog_ext::record_span, int) {
            gate.wait();
            return batch_result::delivered();
        });
        struct opener {
            test::gate& g;
            ~opener() { g.release(); }
        } open_at_exit{gate};
        log_records(*sink, 9);
        REQUIRE(wait_until([&] { return f.seen->in_write.load(); }));
        const auto report = spdlog_ext::health(quick_thresholds());
        const auto* h = find_sink(report, "health-full");
        REQUIRE(h != nullptr);
        CHECK(h->queue_fill == doctest::Approx(0.9));
        CHECK_MESSAGE(h->verdict == health_verdict::degraded, all_reasons(*h));
        CHECK(all_reasons(*h).find("queue 90% full") != std::string::npos);
    }

    TEST_CASE("a destroyed sink leaves the list and is never kept alive") {
        health_fixture f;
        auto sink = f.make(f.config("health-gone"));
        std::weak_ptr<spdlog_ext::engine_sink> weak = sink;
        CHECK(find_sink(spdlog_ext::health(quick_thresholds()), "health-gone") != nullptr);
        CHECK(spdlog_ext::prometheus_text().find("sink=\"health-gone\"") != std::string::npos);
        sink.reset();
        CHECK(weak.expired());  // the list held no reference
        CHECK(find_sink(spdlog_ext::health(quick_thresholds()), "health-gone") == nullptr);
        CHECK(spdlog_ext::prometheus_text().find("sink=\"health-gone\"") == std::string::npos);
    }

    TEST_CASE("sinks made and destroyed while reports run under load") {
        std::atomic<bool> stop{false};
        std::atomic<int> reports{0};
        std::atomic<int> made{0};
        std::vector<std::thread> threads;
        for (int w = 0; w < 3; ++w) {
            threads.emplace_back([&, w] {
                health_fixture f;
                while (!stop) {
                    auto sink = f.make(f.config("health-churn-" + std::to_string(w)));
                    log_records(*sink, 50);
                    made.fetch_add(1);
                }
            });
        }
        for (int r = 0; r < 2; ++r) {
            threads.emplace_back([&] {
                while (!stop) {
                    const auto report = spdlog_ext::health(quick_thresholds());
                    const auto text = spdlog_ext::prometheus_text(report);
                    if (!text.empty() && !report.to_json().dump().empty()) {
                        reports.fetch_add(1);
                    }
                }
            });
        }
        std::this_thread::sleep_for(400ms);
        stop = true;
        for (auto& t : threads) {
            t.join();
        }
        CHECK(made.load() > 3);
        CHECK(reports.load() > 3);
        const auto after = spdlog_ext::health(quick_thresholds());
        for (const auto& s : after.sinks) {
            CHECK(s.name.rfind("health-churn-", 0) != 0);
        }
    }

    TEST_CASE("prometheus_text values equal stats and each family has one HELP and TYPE") {
        health_fixture f;
        auto a = f.make(f.config("health-prom-a"));
        auto cfg = f.config("health-prom-b");
        cfg.queue_max_records = 3;
        cfg.overflow = spdlog_ext::overflow_policy::drop_newest;
        test::gate gate;
        health_fixture fb;  // its own backend_log: `in_write` is b's alone
        auto b = fb.make(cfg, [&](spdlog_ext::record_span, int) {
            gate.wait();
            return batch_result::delivered();
        });
        {
            struct opener {
                test::gate& g;
                ~opener() { g.release(); }
            } open_at_exit{gate};
            log_records(*a, 7);
            log_records(*b, 1);
            REQUIRE(wait_until([&] { return fb.seen->in_write.load(); }));
            log_records(*b, 10);  // 1 in flight + 2 queued; 8 dropped
        }
        REQUIRE(a->flush_for(5s));
        REQUIRE(b->flush_for(5s));
        const auto text = spdlog_ext::prometheus_text();
        const auto sa = a->stats();
        const auto sb = b->stats();
        CHECK(sb.dropped == 8);
        check_samples_equal_stats(samples_of(text, "sink=\"health-prom-a\""), sa);
        check_samples_equal_stats(samples_of(text, "sink=\"health-prom-b\""), sb);
        // One HELP and one TYPE per family, whatever the number of sinks.
        std::istringstream in(text);
        std::string line;
        std::map<std::string, int> types;
        while (std::getline(in, line)) {
            if (line.rfind("# TYPE ", 0) == 0) {
                ++types[line.substr(7, line.find(' ', 7) - 7)];
            }
        }
        CHECK(types.size() >= 18);
        for (const auto& entry : types) {
            CHECK_MESSAGE(entry.second == 1, entry.first);
        }
    }

    TEST_CASE("hostile sink names are escaped in labels") {
        health_fixture f;
        const std::string hostile = "evil\"} 1\nfake_metric{a=\"\\";
        auto sink = f.make(f.config(hostile));
        const auto text = spdlog_ext::prometheus_text();
        CHECK(text.find("sink=\"evil\\\"} 1\\nfake_metric{a=\\\"\\\\\",backend=\"scripted\"") !=
              std::string::npos);
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line)) {
            CHECK(line.rfind("fake_metric", 0) != 0);
        }
        const auto json = spdlog_ext::health(quick_thresholds()).to_json().dump();
        CHECK(json.find("evil\\\"} 1\\nfake_metric") != std::string::npos);
    }

    TEST_CASE("LOG_HEALTH_* set the thresholds and a bad value names the variable") {
        {
            test::env_guard env{
                {"LOG_HEALTH_WINDOW", "30s"},          {"LOG_HEALTH_STALL_DEGRADED", "5s"},
                {"LOG_HEALTH_STALL_FAILING", "1m"},    {"LOG_HEALTH_FAILURE_DEGRADED", "0.2"},
                {"LOG_HEALTH_FAILURE_FAILING", "0.9"}, {"LOG_HEALTH_MIN_WRITES", "3"},
                {"LOG_HEALTH_QUEUE_FILL", "0.5"}};
            const auto t = spdlog_ext::health_thresholds::from_env();
            CHECK(t.window == 30s);
            CHECK(t.stall_degraded == 5s);
            CHECK(t.stall_failing == 60s);
            CHECK(t.failure_degraded == doctest::Approx(0.2));
            CHECK(t.failure_failing == doctest::Approx(0.9));
            CHECK(t.min_writes == 3);
            CHECK(t.queue_fill_degraded == doctest::Approx(0.5));
        }
        const auto error_of = [](const char* name, const char* value) {
            test::env_guard env{{name, value}};
            try {
                (void)spdlog_ext::health();
            } catch (const spdlog_ext::config_error& e) {
                return e.variable() + " | " + e.what();
            }
            return std::string("no error");
        };
        const auto fill = error_of("LOG_HEALTH_QUEUE_FILL", "80%");
        CHECK(fill.rfind("LOG_HEALTH_QUEUE_FILL | ", 0) == 0);
        CHECK(fill.find("at most 1") != std::string::npos);
        CHECK(
            error_of("LOG_HEALTH_FAILURE_FAILING", "1.5").rfind("LOG_HEALTH_FAILURE_FAILING", 0) ==
            0);
        CHECK(error_of("LOG_HEALTH_WINDOW", "soon").rfind("LOG_HEALTH_WINDOW", 0) == 0);
        CHECK(error_of("LOG_HEALTH_STALL_FAILING", "1s").rfind("LOG_HEALTH_STALL_FAILING", 0) == 0);
        CHECK(error_of("LOG_HEALTH_MIN_WRITES", "-1").rfind("LOG_HEALTH_MIN_WRITES", 0) == 0);
    }

    TEST_CASE("the Prometheus Python client parses prometheus_text and reads the stats") {
        health_fixture f;
        const std::vector<std::string> names = {"health-py-plain", "health-py \"quoted\"",
                                                "health-py\nnew\\line"};
        std::vector<std::shared_ptr<spdlog_ext::engine_sink>> sinks;
        for (std::size_t i = 0; i < names.size(); ++i) {
            sinks.push_back(f.make(f.config(names[i])));
            log_records(*sinks.back(), static_cast<int>(3 + 5 * i));
            REQUIRE(sinks.back()->flush_for(5s));
        }
        const std::string dir = "/tmp/spdlog_ext_health_" + std::to_string(::getpid());
        REQUIRE(std::system(("mkdir -p " + test::shell_quote(dir)).c_str()) == 0);
        const std::string text_file = dir + "/metrics.txt";
        const std::string script_file = dir + "/parse.py";
        const std::string out_file = dir + "/samples.jsonl";
        {
            std::ofstream(text_file) << spdlog_ext::prometheus_text();
            // text_string_to_metric_families raises on any line it cannot parse.
            std::ofstream(script_file)
                << "import json, sys\n"
                   "from prometheus_client.parser import text_string_to_metric_families\n"
                   "text = open(sys.argv[1], encoding='utf-8').read()\n"
                   "with open(sys.argv[2], 'w') as out:\n"
                   "    for family in text_string_to_metric_families(text):\n"
                   "        for s in family.samples:\n"
                   "            out.write(json.dumps([family.type, s.name, s.labels, s.value]) "
                   "+ '\\n')\n";
        }
        const auto result =
            test::run_child("/usr/bin/python3 " + test::shell_quote(script_file) + " " +
                                test::shell_quote(text_file) + " " + test::shell_quote(out_file),
                            dir + "/stderr.txt");
        const bool missing =
            result.err.find("No module named 'prometheus_client") != std::string::npos ||
            result.exit_code == 127;
        REQUIRE_MESSAGE(!missing,
                        "the Prometheus Python client is missing: apt-get install -y "
                        "python3-prometheus-client (scripts/install-deps.sh test)");
        REQUIRE_MESSAGE(result.exit_code == 0, "the parser refused the text: " << result.err);

        // (sink name, sample name) → value, as the parser read them.
        std::map<std::pair<std::string, std::string>, double> parsed;
        std::map<std::string, std::string> types;
        std::ifstream in(out_file);
        std::string line;
        while (std::getline(in, line)) {
            const auto sample = nlohmann::json::parse(line);
            types[sample[1].get<std::string>()] = sample[0].get<std::string>();
            if (sample[2].contains("sink")) {
                if (sample[2]["sink"].get<std::string>().rfind("health-py", 0) == 0) {
                    CHECK(sample[2]["backend"] == "scripted");
                }
                parsed[{sample[2]["sink"].get<std::string>(), sample[1].get<std::string>()}] =
                    sample[3].get<double>();
            }
        }
        CHECK(types["spdlog_ext_sink_records_delivered_total"] == "counter");
        CHECK(types["spdlog_ext_sink_queue_records"] == "gauge");
        for (std::size_t i = 0; i < names.size(); ++i) {
            const auto s = sinks[i]->stats();
            const auto value = [&](const char* metric) {
                const auto it = parsed.find({names[i], metric});
                REQUIRE_MESSAGE(it != parsed.end(), "no " << metric << " for " << names[i]);
                return it->second;
            };
            CHECK(s.delivered == 3 + 5 * i);
            CHECK(value("spdlog_ext_sink_records_enqueued_total") ==
                  static_cast<double>(s.enqueued));
            CHECK(value("spdlog_ext_sink_records_delivered_total") ==
                  static_cast<double>(s.delivered));
            CHECK(value("spdlog_ext_sink_records_fallback_total") ==
                  static_cast<double>(s.fallback));
            CHECK(value("spdlog_ext_sink_records_dropped_total") == static_cast<double>(s.dropped));
            CHECK(value("spdlog_ext_sink_batches_total") == static_cast<double>(s.batches));
            CHECK(value("spdlog_ext_sink_retries_total") == static_cast<double>(s.retries));
            CHECK(value("spdlog_ext_sink_queue_records") == static_cast<double>(s.queue_depth));
            CHECK(value("spdlog_ext_sink_queue_max_records") ==
                  static_cast<double>(s.queue_max_records));
            CHECK(value("spdlog_ext_sink_health") == 0.0);
        }
        if (std::system(("rm -rf " + test::shell_quote(dir)).c_str()) != 0) {
            MESSAGE("could not remove " << dir);
        }
    }
}
