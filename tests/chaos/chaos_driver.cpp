// chaos_driver: one logger with all four network sinks (PostgreSQL, InfluxDB, Datadog, Slack)
// under a logging workload while faults are injected, then a per-sink account of every record.
//
//   chaos_driver [--seconds N] [--rate R] [--producers P] [--rss-factor F]
//
// Needs the services of scripts/services.sh (source DIR/env): PostgreSQL and InfluxDB are real
// and get killed/restarted through the script; Datadog and Slack are the strict in-process fakes
// of tests/support. Every record carries a unique integer field `chaos_id`; its level follows
// from the id, so the driver knows which sink should have seen which id without storing them.
// The PostgreSQL sink writes a table partitioned by day (SPDLOG_EXT_CHAOS_PG_PARTITION=none,
// week or month picks another LOG_POSTGRES_PARTITION).
// Exit status 0 only when every sink accounts for every record, memory stayed under the printed
// bound and the shutdown met its deadline. See scripts/chaos.sh and docs/testing.md (Chaos suite).
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/pg_helpers.h"
#include "integration/service_env.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#include "support/fake_datadog_intake.h"
#include "support/fake_slack_webhook.h"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using spdlog::level::level_enum;

// ---------------------------------------------------------------- options

struct options {
    double seconds = 30;
    double rate = 1000;  // records per second, all producers together, outside overload
    int producers = 4;
    double rss_factor = 1.0;  // sanitizers multiply memory use: scripts/chaos.sh raises it
    std::chrono::milliseconds shutdown_timeout = 10s;
    std::chrono::milliseconds shutdown_margin = 3s;  // deadline = timeout + margin
};

[[noreturn]] void usage_exit(const std::string& why) {
    std::fprintf(stderr,
                 "chaos_driver: %s\nusage: chaos_driver [--seconds N] [--rate R] "
                 "[--producers P] [--rss-factor F]\n",
                 why.c_str());
    std::exit(2);
}

spdlog_ext::postgres_partition chaos_pg_partition() {
    const char* v = std::getenv("SPDLOG_EXT_CHAOS_PG_PARTITION");
    const std::string name = v != nullptr ? v : "day";
    if (name == "none") {
        return spdlog_ext::postgres_partition::none;
    }
    if (name == "week") {
        return spdlog_ext::postgres_partition::week;
    }
    if (name == "month") {
        return spdlog_ext::postgres_partition::month;
    }
    if (name != "day") {
        usage_exit("SPDLOG_EXT_CHAOS_PG_PARTITION must be none, day, week or month");
    }
    return spdlog_ext::postgres_partition::day;
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) {
            usage_exit("missing value for " + arg);
        }
        const double v = std::atof(argv[++i]);
        if (!(v > 0)) {
            usage_exit("bad value for " + arg);
        }
        if (arg == "--seconds") {
            o.seconds = v;
        } else if (arg == "--rate") {
            o.rate = v;
        } else if (arg == "--producers") {
            o.producers = static_cast<int>(v);
        } else if (arg == "--rss-factor") {
            o.rss_factor = v;
        } else {
            usage_exit("unknown argument " + arg);
        }
    }
    return o;
}

// ---------------------------------------------------------------- the fault schedule

// One cycle of faults; a run of up to 60 s is one cycle, a longer run repeats 60 s cycles.
// Times are fractions of the cycle so the short CI run and the long run see every fault.
enum class http_mode { ok, e500, e503, e429, slow, reset, overload };

struct phase {
    double from, to;
    http_mode mode;
    const char* what;
};

// HTTP faults of the fakes (both, except `reset`: the Slack fake cannot reset, it is slow then).
const phase http_phases[] = {
    {0.15, 0.25, http_mode::e500, "HTTP 500"},
    {0.25, 0.35, http_mode::e503, "HTTP 503"},
    {0.35, 0.45, http_mode::e429, "HTTP 429 + Retry-After: 1"},
    {0.45, 0.55, http_mode::slow, "slow: answer after the client timeout"},
    {0.55, 0.65, http_mode::reset, "connection resets (Datadog), slow (Slack)"},
    {0.70, 0.85, http_mode::overload, "overload: 10x rate, Datadog intake slowed"},
};

struct service_event {
    double at;
    const char* command;  // services.sh command
};
// PostgreSQL crashes (kill -9 equivalent: pg_ctl stop -m immediate) and comes back; InfluxDB is
// killed for the 429/slow phases and the overload (where it absorbs nothing).
const service_event service_events[] = {
    {0.10, "pg-stop-immediate"},
    {0.30, "pg-start"},
    {0.40, "influx-stop"},
    {0.80, "influx-start"},
};

struct schedule {
    clock_type::time_point start;
    double cycle = 30;  // seconds
    double total = 30;

    double fraction(clock_type::time_point t) const {
        const double s = std::chrono::duration<double>(t - start).count();
        if (s < 0 || s >= total) {
            return -1;
        }
        return (s - cycle * static_cast<int>(s / cycle)) / cycle;
    }
    http_mode mode(clock_type::time_point t = clock_type::now()) const {
        const double f = fraction(t);
        for (const auto& p : http_phases) {
            if (f >= p.from && f < p.to) {
                return p.mode;
            }
        }
        return http_mode::ok;
    }
};

// ---------------------------------------------------------------- a counting fallback sink

// Receives each sink's fallback records: counts them by reason and keeps their chaos_ids.
class counting_fallback final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    std::map<std::string, std::uint64_t> reasons() {
        std::lock_guard<std::mutex> lock(mutex_);
        return reasons_;
    }
    std::vector<std::int64_t> ids() {
        std::lock_guard<std::mutex> lock(mutex_);
        return ids_;
    }
    std::uint64_t without_id() {
        std::lock_guard<std::mutex> lock(mutex_);
        return without_id_;
    }
    std::uint64_t notices() {
        std::lock_guard<std::mutex> lock(mutex_);
        return notices_;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const nlohmann::json f = spdlog_ext::fields_of(msg);
        if (!f.is_object() || !f.contains("fallback_reason")) {
            // Not a record: the engine's periodic "N record(s) dropped" summary.
            ++notices_;
            return;
        }
        ++reasons_[normalize(f.value("fallback_reason", std::string()))];
        if (f.is_object() && f.contains("chaos_id") && f["chaos_id"].is_number_integer()) {
            ids_.push_back(f["chaos_id"].get<std::int64_t>());
        } else {
            ++without_id_;
        }
    }
    void flush_() override {}

  private:
    // Reasons carry counts and error texts; digits become '#' and the text is cut so that the
    // table groups them by kind.
    static std::string normalize(const std::string& reason) {
        std::string out;
        for (char c : reason) {
            if (c >= '0' && c <= '9') {
                if (out.empty() || out.back() != '#') {
                    out += '#';
                }
            } else {
                out += c;
            }
            if (out.size() >= 70) {
                out += "...";
                break;
            }
        }
        return out;
    }

    std::map<std::string, std::uint64_t> reasons_;
    std::vector<std::int64_t> ids_;
    std::uint64_t without_id_ = 0;
    std::uint64_t notices_ = 0;
};

// ---------------------------------------------------------------- memory

long vm_kb(const char* key) {  // a line of /proc/self/status, in kB
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string prefix = std::string(key) + ":";
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) == 0) {
            return std::atol(line.c_str() + prefix.size());
        }
    }
    return 0;
}

long peak_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return std::max(u.ru_maxrss, vm_kb("VmHWM"));
}

// ---------------------------------------------------------------- workload

// Level of a record from its id: 5% error (Slack), 15% warn, 5% debug, the rest info.
level_enum level_of(std::int64_t id) {
    const auto r = id % 20;
    if (r == 0) {
        return spdlog::level::err;
    }
    if (r <= 3) {
        return spdlog::level::warn;
    }
    if (r == 4) {
        return spdlog::level::debug;
    }
    return spdlog::level::info;
}

struct sink_under_test {
    std::string name;
    std::shared_ptr<spdlog_ext::engine_sink> sink;
    std::shared_ptr<counting_fallback> fallback;
    level_enum level;
    std::size_t queue_max_bytes;
    std::size_t batch_max_bytes;
    std::string overflow;
};

void configure_engine(spdlog_ext::engine_config& e, std::size_t records, std::size_t bytes,
                      spdlog_ext::overflow_policy overflow,
                      const std::shared_ptr<counting_fallback>& fallback,
                      std::chrono::milliseconds shutdown_timeout,
                      const std::shared_ptr<std::atomic<std::uint64_t>>& errors) {
    e.queue_max_records = records;
    e.queue_max_bytes = bytes;
    e.overflow = overflow;
    e.block_timeout = 5ms;
    e.retry_initial = 50ms;
    e.retry_max_delay = 1s;
    e.retry_max_elapsed = 20s;  // longer than each outage: give-ups only from hard failures
    e.flush_timeout = 5s;
    e.shutdown_timeout = shutdown_timeout;
    e.fallback = fallback;
    // Errors are expected by the hundred here; count them instead of flooding stderr.
    e.error_handler = [errors](const std::string&) { errors->fetch_add(1); };
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_options(argc, argv);
    const std::string pg_url = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_PG_URL");
    const std::string influx_url = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_INFLUX_URL");
    const std::string influx_db = spdlog_ext_test::require_env("SPDLOG_EXT_TEST_INFLUX_DB");
    (void)spdlog_ext_test::require_env("SPDLOG_EXT_SERVICES_DIR");
    spdlog_ext_test::ensure_curl_global_init();

    const std::string tag = "chaos_" + std::to_string(::getpid()) + "_" +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    pg_test::table_cleanup pg_tables({tag});  // a fresh table, dropped again at the end

    // Fakes: the Slack rate check a bit faster than Slack to get more messages per run.
    schedule sched;
    test::fake_datadog_intake intake;
    test::slack_webhook_options slack_opts;
    slack_opts.min_interval = 200ms;
    test::fake_slack_webhook slack(slack_opts);
    const auto http_timeout = 500ms;
    const auto slow_hang = 800ms;  // past the client timeout
    // Only the ids are needed (items are validated in full before this): a long run would
    // otherwise hold every item, ~1.5 KB each, and memory growth would say nothing of the sinks.
    intake.set_keep([](nlohmann::json&& item) {
        const auto id = item.find("chaos_id");
        return id != item.end() ? nlohmann::json{{"chaos_id", *id}} : std::move(item);
    });
    std::atomic<std::uint64_t> dd_seq{0};
    intake.set_faults([&](const test::intake_request&, const nlohmann::json&) {
        const auto n = dd_seq.fetch_add(1);
        switch (sched.mode()) {
            case http_mode::e500:
                return test::intake_fault::answer(500);
            case http_mode::e503:
                return test::intake_fault::answer(503);
            case http_mode::e429:
                return test::intake_fault::answer(429, "1");
            case http_mode::slow:  // every other one applied: the answer, not the data, is lost
                return test::intake_fault::hang_for(slow_hang, n % 2 == 0);
            case http_mode::reset:
                return n % 3 == 2 ? test::intake_fault{}
                                  : test::intake_fault::reset_connection(n % 2 == 0);
            case http_mode::overload:  // slow but in time: the intake absorbs little
                return test::intake_fault::hang_for(300ms, true);
            case http_mode::ok:
                break;
        }
        return test::intake_fault{};
    });
    slack.set_faults([&](const test::slack_post&) {
        switch (sched.mode()) {
            case http_mode::e500:
                return test::slack_fault::answer(500);
            case http_mode::e503:
                return test::slack_fault::answer(503);
            case http_mode::e429:
                return test::slack_fault::answer(429, "1");
            case http_mode::slow:
            case http_mode::reset: {
                test::slack_fault f;
                f.hang = slow_hang;
                return f;
            }
            case http_mode::overload:
            case http_mode::ok:
                break;
        }
        return test::slack_fault{};
    });

    // The sinks, each with an explicit bounded queue and its own overflow policy.
    auto errors = std::make_shared<std::atomic<std::uint64_t>>(0);
    std::vector<sink_under_test> sinks;
    {
        auto fb = std::make_shared<counting_fallback>();
        spdlog_ext::postgres_config c;
        c.conninfo = pg_url;
        c.table_prefix = tag;
        c.partition = chaos_pg_partition();
        c.connect_timeout = 2s;
        configure_engine(c.engine, 20000, 16u << 20, spdlog_ext::overflow_policy::fallback, fb,
                         opt.shutdown_timeout, errors);
        c.engine.batch_max_records = 2000;
        c.engine.batch_max_bytes = 2u << 20;
        auto s = std::make_shared<spdlog_ext::postgres_batch_sink>(c);
        s->set_level(spdlog::level::debug);
        sinks.push_back({"postgres", s, fb, spdlog::level::debug, c.engine.queue_max_bytes,
                         c.engine.batch_max_bytes, "fallback"});
    }
    {
        auto fb = std::make_shared<counting_fallback>();
        spdlog_ext::influx_config c;
        c.url = influx_url;
        c.api = spdlog_ext::influx_api::v1;
        c.database = influx_db;
        c.measurement = tag;
        c.connect_timeout = 1s;
        c.timeout = 5s;
        configure_engine(c.engine, 20000, 16u << 20, spdlog_ext::overflow_policy::drop_oldest, fb,
                         opt.shutdown_timeout, errors);
        c.engine.batch_max_records = 2000;
        c.engine.batch_max_bytes = 2u << 20;
        auto s = std::make_shared<spdlog_ext::influx_timeseries_sink>(c);
        s->set_level(spdlog::level::info);
        sinks.push_back({"influx", s, fb, spdlog::level::info, c.engine.queue_max_bytes,
                         c.engine.batch_max_bytes, "drop_oldest"});
    }
    {
        auto fb = std::make_shared<counting_fallback>();
        spdlog_ext::datadog_config c;
        c.api_key = "test-api-key";
        c.url = intake.url();
        c.service = "chaos";
        c.timeout = http_timeout;
        c.connect_timeout = http_timeout;
        configure_engine(c.engine, 5000, 8u << 20, spdlog_ext::overflow_policy::block, fb,
                         opt.shutdown_timeout, errors);
        c.engine.batch_max_records = 500;
        c.engine.batch_max_bytes = 2u << 20;
        auto s = std::make_shared<spdlog_ext::datadog_http_sink>(c);
        s->set_level(spdlog::level::warn);
        sinks.push_back({"datadog", s, fb, spdlog::level::warn, c.engine.queue_max_bytes,
                         c.engine.batch_max_bytes, "block 5ms"});
    }
    {
        auto fb = std::make_shared<counting_fallback>();
        spdlog_ext::slack_config c;
        c.webhook_url = slack.url();
        c.timeout = http_timeout;
        c.connect_timeout = http_timeout;
        configure_engine(c.engine, 2000, 4u << 20, spdlog_ext::overflow_policy::drop_newest, fb,
                         opt.shutdown_timeout, errors);
        c.engine.min_write_interval = 250ms;  // above the fake's 200 ms
        c.engine.batch_max_records = c.engine.queue_max_records;
        c.engine.batch_max_bytes = c.engine.queue_max_bytes;
        auto s = std::make_shared<spdlog_ext::slack_error_sink>(c);  // level err by default
        sinks.push_back({"slack", s, fb, spdlog::level::err, c.engine.queue_max_bytes,
                         c.engine.batch_max_bytes, "drop_newest"});
    }
    std::vector<spdlog::sink_ptr> sink_ptrs;
    for (const auto& s : sinks) {
        sink_ptrs.push_back(s.sink);
    }
    auto logger = std::make_shared<spdlog::logger>("chaos", sink_ptrs.begin(), sink_ptrs.end());
    logger->set_level(spdlog::level::debug);

    const long baseline_kb = vm_kb("VmRSS");

    // ---------------------------------------------------------------- run
    sched.total = opt.seconds;
    sched.cycle = opt.seconds <= 60 ? opt.seconds : 60;
    sched.start = clock_type::now() + 200ms;
    const auto end = sched.start + std::chrono::duration_cast<clock_type::duration>(
                                       std::chrono::duration<double>(opt.seconds));
    std::printf(
        "chaos: %.0f s (cycle %.0f s), %d producers, %.0f records/s (10x in overload), "
        "baseline RSS %ld MB, tag %s\n",
        opt.seconds, sched.cycle, opt.producers, opt.rate, baseline_kb / 1024, tag.c_str());
    std::fflush(stdout);

    std::atomic<std::int64_t> next_id{0};
    std::vector<std::thread> producers;
    for (int p = 0; p < opt.producers; ++p) {
        producers.emplace_back([&, p] {
            spdlog_ext::set_thread_name("chaos-prod-" + std::to_string(p));
            const double per_thread = opt.rate / opt.producers;
            auto next = sched.start;
            std::this_thread::sleep_until(next);
            for (;;) {
                const auto now = clock_type::now();
                if (now >= end) {
                    break;
                }
                const double r = per_thread * (sched.mode(now) == http_mode::overload ? 10 : 1);
                // Paced in bursts of 10 records; a producer that fell behind does not catch up
                // by more than 100 ms (the rate is a target, not a debt).
                if (next < now - 100ms) {
                    next = now - 100ms;
                }
                next += std::chrono::duration_cast<clock_type::duration>(
                    std::chrono::duration<double>(10.0 / r));
                for (int k = 0; k < 10; ++k) {
                    const std::int64_t id = next_id.fetch_add(1);
                    spdlog_ext::log(logger, level_of(id), {{"chaos_id", id}}, "chaos record {}",
                                    id);
                }
                std::this_thread::sleep_until(next);
            }
        });
    }

    // Services faults, in order, on this thread.
    std::vector<std::string> fault_log;
    auto services = [&](const std::string& cmd) {
        const auto t0 = clock_type::now();
        const int rc = spdlog_ext_test::services(cmd);
        const double at = std::chrono::duration<double>(t0 - sched.start).count();
        const double took = std::chrono::duration<double>(clock_type::now() - t0).count();
        char line[200];
        std::snprintf(line, sizeof line, "t=%6.1fs %-18s rc=%d (%.1fs)", at, cmd.c_str(), rc, took);
        fault_log.push_back(line);
        std::printf("chaos: %s\n", line);
        std::fflush(stdout);
        return rc;
    };
    int cycles = static_cast<int>(opt.seconds / sched.cycle + 0.5);
    bool services_failed = false;
    // RSS at the end of each cycle: in a long run it shows whether memory settles (queues and
    // batches are bounded) or climbs (only the fakes' storage may, by design).
    std::vector<long> cycle_rss_kb;
    auto cycle_time = [&](double cycles_in) {
        return sched.start + std::chrono::duration_cast<clock_type::duration>(
                                 std::chrono::duration<double>(sched.cycle * cycles_in));
    };
    for (int c = 0; c < cycles; ++c) {
        for (const auto& ev : service_events) {
            std::this_thread::sleep_until(cycle_time(c + ev.at));
            services_failed |= services(ev.command) != 0;
        }
        std::this_thread::sleep_until(std::min(cycle_time(c + 1), end));
        cycle_rss_kb.push_back(vm_kb("VmRSS"));
    }
    for (auto& t : producers) {
        t.join();
    }
    // Everything back up (a restart above may have failed) before the drain.
    services_failed |= services("pg-start") != 0;
    services_failed |= services("influx-start") != 0;
    const std::int64_t total = next_id.load();

    // ---------------------------------------------------------------- shutdown, with a deadline
    // A short quiet drain first (what a service does before exit is flush), then shutdown of
    // all sinks at once: they drain in parallel, the deadline covers the slowest.
    const auto drain_start = clock_type::now();
    for (auto& s : sinks) {
        (void)s.sink->flush_for(5s);
    }
    const double drain_s = std::chrono::duration<double>(clock_type::now() - drain_start).count();
    const auto shutdown_start = clock_type::now();
    std::vector<std::thread> stoppers;
    std::vector<char> drained(sinks.size(), 0);
    for (std::size_t i = 0; i < sinks.size(); ++i) {
        stoppers.emplace_back(
            [&, i] { drained[i] = sinks[i].sink->shutdown(opt.shutdown_timeout) ? 1 : 0; });
    }
    for (auto& t : stoppers) {
        t.join();
    }
    const auto shutdown_took = clock_type::now() - shutdown_start;
    const auto deadline = opt.shutdown_timeout + opt.shutdown_margin;
    const bool shutdown_ok = shutdown_took <= deadline;
    logger.reset();
    sink_ptrs.clear();
    // Measured here, before the read-back below (query results, id tables: test bookkeeping).
    const long peak_kb = peak_rss_kb();

    // ---------------------------------------------------------------- read back
    const auto n = static_cast<std::size_t>(total);
    std::map<std::string, std::vector<std::uint16_t>> seen;  // per sink: deliveries per id
    std::map<std::string, std::string> readback_error;
    std::uint64_t slack_seen_records = 0;
    for (const auto& s : sinks) {
        seen[s.name].assign(n, 0);
    }
    auto note = [&](const std::string& sink, std::int64_t id, std::uint64_t times,
                    std::uint64_t& foreign) {
        if (id < 0 || id >= total) {
            ++foreign;
            return;
        }
        auto& v = seen[sink][static_cast<std::size_t>(id)];
        v = static_cast<std::uint16_t>(std::min<std::uint64_t>(60000, v + times));
    };
    std::map<std::string, std::uint64_t> foreign;  // delivered ids the driver never logged
    try {
        (void)pg_test::wait_ready(30s);
        const auto rows =
            pg_test::query("SELECT (extra_data->>'chaos_id')::bigint, count(*) FROM " +
                           pg_test::quote_ident(tag + "_logs") + " GROUP BY 1");
        for (const auto& r : rows) {
            if (r.size() == 2 && r[0] && r[1]) {
                note("postgres", std::stoll(*r[0]), std::stoull(*r[1]), foreign["postgres"]);
            } else {
                ++foreign["postgres"];
            }
        }
    } catch (const std::exception& e) {
        readback_error["postgres"] = e.what();
    }
    {
        // Chunked: one JSON document per line, so no row limit applies.
        const auto q = spdlog_ext_test::url_encode("SELECT chaos_id FROM \"" + tag + "\"");
        const auto r = spdlog_ext_test::http_get(
            influx_url + "/query?db=" + spdlog_ext_test::url_encode(influx_db) +
                "&chunked=true&chunk_size=10000&q=" + q,
            60000);
        if (!r.ok() || r.status != 200) {
            readback_error["influx"] = r.error + " HTTP " + std::to_string(r.status);
        } else {
            std::istringstream lines(r.body);
            std::string line;
            while (std::getline(lines, line)) {
                if (line.empty()) {
                    continue;
                }
                const auto doc = nlohmann::json::parse(line, nullptr, false);
                if (doc.is_discarded() || !doc.contains("results")) {
                    readback_error["influx"] = "bad chunk: " + line.substr(0, 200);
                    continue;
                }
                for (const auto& res : doc["results"]) {
                    if (res.contains("error")) {
                        readback_error["influx"] = res["error"].dump();
                    }
                    for (const auto& series : res.value("series", nlohmann::json::array())) {
                        for (const auto& v : series.value("values", nlohmann::json::array())) {
                            if (v.size() == 2 && v[1].is_number_integer()) {
                                note("influx", v[1].get<std::int64_t>(), 1, foreign["influx"]);
                            } else {
                                ++foreign["influx"];
                            }
                        }
                    }
                }
            }
        }
        (void)spdlog_ext_test::http_post(
            influx_url + "/query?db=" + spdlog_ext_test::url_encode(influx_db),
            "q=" + spdlog_ext_test::url_encode("DROP MEASUREMENT \"" + tag + "\""));
    }
    for (const auto& item : intake.items()) {
        if (item.contains("chaos_id") && item["chaos_id"].is_number_integer()) {
            note("datadog", item["chaos_id"].get<std::int64_t>(), 1, foreign["datadog"]);
        } else {
            ++foreign["datadog"];
        }
    }
    // A Slack message summarises its batch ("... (+N more)"): the records it stands for are
    // counted, not identified.
    for (const auto& payload : slack.accepted()) {
        const std::string text = payload.value("text", std::string());
        std::uint64_t records = 1;
        const auto at = text.rfind(" (+");
        if (at != std::string::npos && text.size() > 7 &&
            text.compare(text.size() - 6, 6, " more)") == 0) {
            records += std::strtoull(text.c_str() + at + 3, nullptr, 10);
        }
        slack_seen_records += records;
    }

    // ---------------------------------------------------------------- account
    std::size_t queue_bytes = 0;
    std::size_t batch_bytes = 0;
    for (const auto& s : sinks) {
        queue_bytes += s.queue_max_bytes;
        batch_bytes += s.batch_max_bytes;
    }
    // The fakes keep every accepted item's id / message in memory: test bookkeeping, not the
    // library.
    const std::size_t fake_bytes = intake.item_count() * 256 + slack.accepted_count() * 32768;
    // Queued records cost about twice their approx_bytes (allocator, JSON nodes); a batch exists
    // as records and as its encoded request (x3); 64 MB for threads, libpq, curl, TLS, fakes.
    const double bound_kb =
        static_cast<double>(baseline_kb) +
        opt.rss_factor *
            (2.0 * static_cast<double>(queue_bytes) + 3.0 * static_cast<double>(batch_bytes) +
             static_cast<double>(fake_bytes) + (64 << 20)) /
            1024.0;
    const bool rss_ok = static_cast<double>(peak_kb) <= bound_kb;

    bool ok = shutdown_ok && rss_ok && !services_failed;
    std::vector<std::string> problems;
    std::printf("\n%-9s %9s %9s %9s %9s %9s %9s %9s %9s %8s\n", "sink", "logged", "delivered",
                "unique", "fallback", "dropped", "missing", "dups", "poss.dup", "RSS MB");
    std::map<std::string, std::map<std::string, std::uint64_t>> reasons_by_sink;
    for (const auto& s : sinks) {
        const auto st = s.sink->stats();
        std::uint64_t logged = 0;
        for (std::int64_t id = 0; id < total; ++id) {
            logged += level_of(id) >= s.level ? 1 : 0;
        }
        const auto fb_ids = s.fallback->ids();
        const auto reasons = s.fallback->reasons();
        reasons_by_sink[s.name] = reasons;
        std::vector<std::uint8_t> in_fallback(n, 0);
        std::uint64_t fb_foreign = s.fallback->without_id();
        for (auto id : fb_ids) {
            if (id < 0 || id >= total || level_of(id) < s.level) {
                ++fb_foreign;
            } else {
                ++in_fallback[static_cast<std::size_t>(id)];
            }
        }
        std::uint64_t unique = 0, dups = 0, missing = 0, both = 0, twice_fb = 0, wrong_level = 0;
        const auto& v = seen[s.name];
        const bool by_id = s.name != "slack";
        for (std::size_t id = 0; id < n; ++id) {
            const bool wanted = level_of(static_cast<std::int64_t>(id)) >= s.level;
            if (!wanted) {
                wrong_level += v[id];
                continue;
            }
            twice_fb += in_fallback[id] > 1 ? in_fallback[id] - 1 : 0;
            if (v[id] > 0) {
                ++unique;
                dups += v[id] - 1u;
                both += in_fallback[id] > 0 ? 1 : 0;
            } else if (by_id && in_fallback[id] == 0) {
                ++missing;
            }
        }
        std::uint64_t delivered = by_id ? unique : st.delivered;
        if (!by_id) {
            // Slack: at least what the sink says it delivered reached the channel, at most that
            // plus the records resent after an unknown outcome.
            dups = slack_seen_records > st.delivered ? slack_seen_records - st.delivered : 0;
            missing = logged - std::min<std::uint64_t>(logged, st.delivered + st.fallback);
            if (slack_seen_records < st.delivered) {
                problems.push_back("slack: the channel shows " +
                                   std::to_string(slack_seen_records) +
                                   " records, the sink counted " + std::to_string(st.delivered));
            }
        }
        const std::uint64_t fallback = fb_ids.size() + s.fallback->without_id();
        std::printf("%-9s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64
                    " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %8ld\n",
                    s.name.c_str(), logged, by_id ? unique + dups : slack_seen_records, delivered,
                    fallback, st.dropped, missing, dups, st.possible_duplicates, peak_kb / 1024);
        auto fail = [&](const std::string& why) { problems.push_back(s.name + ": " + why); };
        if (readback_error.count(s.name)) {
            fail("read-back failed: " + readback_error[s.name]);
        }
        if (st.enqueued != logged) {
            fail("the sink accepted " + std::to_string(st.enqueued) + " records, " +
                 std::to_string(logged) + " were logged at its level");
        }
        if (st.queue_depth != 0) {
            fail(std::to_string(st.queue_depth) + " records still queued after shutdown");
        }
        if (st.delivered + st.fallback + st.dropped != st.enqueued) {
            fail("stats: delivered + fallback + dropped != enqueued");
        }
        if (st.fallback != fallback) {
            fail("stats say " + std::to_string(st.fallback) + " fallback, the fallback sink got " +
                 std::to_string(fallback));
        }
        // The core rule: every logged record delivered (once, or as a counted possible
        // duplicate), in the fallback, or dropped by the overflow policy.
        if (delivered - both + fallback + st.dropped != logged) {
            fail("delivered_unique + fallback + dropped = " +
                 std::to_string(delivered - both + fallback + st.dropped) + ", logged " +
                 std::to_string(logged));
        }
        if (by_id && missing != st.dropped) {
            fail(std::to_string(missing) + " ids neither delivered nor in the fallback, but " +
                 std::to_string(st.dropped) + " dropped");
        }
        // An id both read back and in the fallback: written with an unknown outcome, then given
        // up. The backend has it, the sink counted it as fallback.
        if (by_id && unique != st.delivered + both) {
            fail("read back " + std::to_string(unique) + " distinct ids, stats say " +
                 std::to_string(st.delivered) + " delivered");
        }
        if (dups + both > st.possible_duplicates) {
            fail(std::to_string(dups) + " duplicates and " + std::to_string(both) +
                 " delivered-and-fallback ids, only " + std::to_string(st.possible_duplicates) +
                 " possible duplicates counted");
        }
        if (foreign[s.name] + fb_foreign + wrong_level + twice_fb > 0) {
            fail(std::to_string(foreign[s.name] + wrong_level) + " delivered and " +
                 std::to_string(fb_foreign + twice_fb) +
                 " fallback records the driver did not log for this sink (or twice)");
        }
    }
    std::printf("\nfallback by reason:\n");
    for (const auto& [sink, reasons] : reasons_by_sink) {
        for (const auto& [reason, count] : reasons) {
            std::printf("  %-9s %9" PRIu64 "  %s\n", sink.c_str(), count, reason.c_str());
        }
    }
    for (const auto& s : sinks) {
        if (s.fallback->notices() > 0) {
            std::printf("  %-9s  (and %" PRIu64 " 'records dropped' notices, not records)\n",
                        s.name.c_str(), s.fallback->notices());
        }
    }
    std::printf("\nfaults:\n");
    for (const auto& p : http_phases) {
        std::printf("  HTTP %3.0f%%-%3.0f%% of each cycle: %s\n", p.from * 100, p.to * 100, p.what);
    }
    for (const auto& l : fault_log) {
        std::printf("  %s\n", l.c_str());
    }
    std::printf(
        "  datadog: %zu requests, %d resets, %zu violations; slack: %zu posts, %zu "
        "violations; %" PRIu64 " sink errors reported\n",
        intake.request_count(), intake.resets(), intake.violations().size(), slack.posts().size(),
        slack.violations().size(), errors->load());
    for (const auto& v : intake.violations()) {
        problems.push_back("datadog protocol violation: " + v);
    }
    for (const auto& v : slack.violations()) {
        problems.push_back("slack protocol violation: " + v);
    }
    std::printf("\nlogged %" PRId64
                " records in %.0f s; drain %.1f s; shutdown %.2f s "
                "(deadline %.1f s) %s\n",
                total, opt.seconds, drain_s, std::chrono::duration<double>(shutdown_took).count(),
                std::chrono::duration<double>(deadline).count(), shutdown_ok ? "ok" : "EXCEEDED");
    std::printf("RSS at each cycle's end, MB:");
    for (const long kb : cycle_rss_kb) {
        std::printf(" %ld", kb / 1024);
    }
    std::printf(" (the fakes' storage, estimated %zu MB at the end); after the read-back: %ld MB\n",
                fake_bytes >> 20, peak_rss_kb() / 1024);
    std::printf(
        "peak RSS (until shutdown) %ld MB, bound %.0f MB = baseline %ld MB + %.1f x "
        "(2 x queues %zu MB + 3 x batches %zu MB + fakes' storage %zu MB + 64 MB) %s\n",
        peak_kb / 1024, bound_kb / 1024, baseline_kb / 1024, opt.rss_factor, queue_bytes >> 20,
        batch_bytes >> 20, fake_bytes >> 20, rss_ok ? "ok" : "EXCEEDED");
    if (services_failed) {
        problems.push_back("a services.sh command failed (see the fault log)");
    }
    ok = ok && problems.empty();
    for (const auto& p : problems) {
        std::printf("FAIL: %s\n", p.c_str());
    }
    std::printf("chaos: %s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
