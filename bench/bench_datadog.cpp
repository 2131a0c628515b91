// What the datadog_http_sink costs, against a fake Datadog intake in this process (cpp-httplib on
// 127.0.0.1, answering 202 like the real one), measured in the same run:
//
//   a. end-to-end: N logger->info("...", i) calls with two scoped fields into a datadog_http_sink
//      (gzip on), timed from the first call until flush_for() returns, then checked against what
//      the intake received (every record once, as a JSON item). Reports records/s, the CPU time
//      per record of the sink's worker thread, of the logging thread and of the whole process
//      (which includes the fake intake: gunzip and counting), and the compression ratio seen on
//      the wire.
//   b. baseline: the curl CLI posting one of the sink's own 1000-item bodies, pre-compressed,
//      K times on one kept-alive connection (one curl process), and once per curl process.
//   c. the logging call (1 thread) with the sink attached (intake up, and intake down: connection
//      refused) against spdlog's null_sink_mt, and an engine_sink whose backend discards for
//      reference; also with two scoped fields in effect. Median per call over groups of 16 calls,
//      p99 of single calls (timer included), median of the rounds; the queue never fills.
//
// Goals: a. >= 150k records/s; c. the call with the sink (intake up, no fields) <= 1.5x null sink.
//
//   bench_datadog [records=200000] [calls=200000]
//
// SPDLOG_EXT_BENCH_RUNS: repetitions of a. and rounds of c. (default 3, medians reported).
// Not a test: run on demand. Exit status 1 when the intake did not receive exactly what was logged.
#include <httplib.h>  // Debian's compiled cpp-httplib, with CPPHTTPLIB_ZLIB_SUPPORT
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <spdlog_ext/sinks/datadog_http_sink.h>
#include <spdlog_ext/spdlog_ext.h>
#include "bench_common.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr const char* api_key = "bench";
// The message of record i; the index is read back from the items the intake received.
constexpr char message_format[] = "request handled: GET /api/v1/orders/{} status 200 in 12.5 ms";
constexpr char message_marker[] = "/api/v1/orders/";

// ---------------------------------------------------------------- CPU time

// CPU seconds (user + system) of this process (RUSAGE_SELF) or its finished children.
double process_cpu_seconds(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    const auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

double this_thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::string read_small_file(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The threads of this process named `name` (the engine names its worker "spdlog_ext").
std::set<long> threads_named(const std::string& name) {
    std::set<long> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc/self/task", ec)) {
        std::string comm = read_small_file(entry.path() / "comm");
        while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\r')) {
            comm.pop_back();
        }
        if (comm == name) {
            out.insert(std::atol(entry.path().filename().c_str()));
        }
    }
    return out;
}

// CPU seconds of one thread of this process: schedstat (ns), else stat's utime + stime (ticks).
double thread_cpu_seconds(long tid) {
    const fs::path dir = fs::path("/proc/self/task") / std::to_string(tid);
    std::istringstream sched(read_small_file(dir / "schedstat"));
    unsigned long long ns = 0;
    if (sched >> ns) {
        return double(ns) / 1e9;
    }
    const std::string stat = read_small_file(dir / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
        return 0.0;
    }
    std::istringstream rest(stat.substr(close + 2));  // fields 3.. (state is field 3)
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) {
            utime = std::strtoull(field.c_str(), nullptr, 10);
        } else if (i == 15) {
            stime = std::strtoull(field.c_str(), nullptr, 10);
        }
    }
    return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

double threads_cpu_seconds(const std::set<long>& tids) {
    double s = 0;
    for (long t : tids) {
        s += thread_cpu_seconds(t);
    }
    return s;
}

// ---------------------------------------------------------------- the fake intake

// Counts top-level items of a JSON array without building a DOM: objects opened at depth 1.
std::size_t count_array_items(const std::string& body) {
    std::size_t items = 0;
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : body) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                in_string = true;
                break;
            case '[':
            case '{':
                if (depth == 1 && c == '{') {
                    ++items;
                }
                ++depth;
                break;
            case ']':
            case '}':
                --depth;
                break;
            default:
                break;
        }
    }
    return items;
}

struct intake_totals {
    std::size_t requests = 0;
    std::size_t items = 0;
    std::size_t wire_bytes = 0;          // Content-Length: compressed when gzip
    std::size_t uncompressed_bytes = 0;  // the body after httplib decoded it
    std::size_t not_gzip = 0;            // requests without Content-Encoding: gzip
    std::size_t bad_headers = 0;         // wrong DD-API-KEY or Content-Type
    std::size_t bad_path = 0;            // not /api/v2/logs
};

class fake_intake {
  public:
    fake_intake() {
        server_.set_keep_alive_max_count(1000000);  // the real intake keeps connections alive
        server_.set_keep_alive_timeout(30);
        // httplib writes a response's headers and body separately: without TCP_NODELAY, Nagle
        // and the client's delayed ACK add ~40 ms to every request on a kept-alive connection.
        server_.set_tcp_nodelay(true);
        server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            const std::size_t items = count_array_items(req.body);
            const std::size_t wire = static_cast<std::size_t>(
                std::atoll(req.get_header_value("Content-Length").c_str()));
            const bool gzip = req.get_header_value("Content-Encoding") == "gzip";
            const bool headers_ok =
                req.get_header_value("DD-API-KEY") == api_key &&
                req.get_header_value("Content-Type").find("application/json") == 0;
            {
                std::lock_guard<std::mutex> lock(mu_);
                ++totals_.requests;
                totals_.items += items;
                totals_.wire_bytes += wire;
                totals_.uncompressed_bytes += req.body.size();
                totals_.not_gzip += gzip ? 0 : 1;
                totals_.bad_headers += headers_ok ? 0 : 1;
                totals_.bad_path += req.path == "/api/v2/logs" ? 0 : 1;
                if (keep_bodies_) {
                    bodies_.push_back(req.body);
                }
            }
            res.status = 202;
            res.set_content("{}", "application/json");
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) {
            throw std::runtime_error("fake intake: cannot bind 127.0.0.1");
        }
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~fake_intake() {
        server_.stop();
        thread_.join();
    }
    fake_intake(const fake_intake&) = delete;
    fake_intake& operator=(const fake_intake&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v2/logs"; }

    // Starts counting afresh; keep: also keep every (decoded) body for checking afterwards.
    void reset(bool keep) {
        std::lock_guard<std::mutex> lock(mu_);
        totals_ = {};
        bodies_.clear();
        keep_bodies_ = keep;
    }
    intake_totals totals() const {
        std::lock_guard<std::mutex> lock(mu_);
        return totals_;
    }
    std::vector<std::string> take_bodies() {
        std::lock_guard<std::mutex> lock(mu_);
        return std::move(bodies_);
    }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    intake_totals totals_;
    bool keep_bodies_ = false;
    std::vector<std::string> bodies_;
};

// ---------------------------------------------------------------- a. end to end

// What the engine's error handler reported: the first few errors and how many in all.
struct error_log {
    std::mutex mu;
    std::vector<std::string> first;
    std::size_t count = 0;
};

std::function<void(const std::string&)> collect_errors(const std::shared_ptr<error_log>& log) {
    return [log](const std::string& e) {
        std::lock_guard<std::mutex> lock(log->mu);
        if (log->first.size() < 5) {
            log->first.push_back(e);
        }
        ++log->count;
    };
}

struct e2e_result {
    double wall = 0;          // first logging call until flush_for() returned
    double call_seconds = 0;  // the logging calls alone
    double worker_cpu = 0;    // the sink's worker thread
    double caller_cpu = 0;    // the logging thread, during the calls
    double process_cpu = 0;   // everything, the fake intake included
    bool flushed = false;
    intake_totals intake;
    spdlog_ext::sink_stats stats;
    std::vector<std::string> errors;
    std::size_t error_count = 0;
    std::vector<std::string> bodies;
};

spdlog_ext::datadog_config bench_config(const std::string& url, std::size_t queue_records) {
    spdlog_ext::datadog_config cfg;
    cfg.url = url;
    cfg.api_key = api_key;
    cfg.service = "bench";
    cfg.env = "bench";
    cfg.gzip = true;
    cfg.engine.queue_max_records = queue_records;
    cfg.engine.queue_max_bytes = std::size_t(2) << 30;
    cfg.engine.flush_timeout = std::chrono::minutes(5);
    cfg.engine.fallback = std::make_shared<spdlog::sinks::null_sink_mt>();  // counted in stats
    return cfg;
}

e2e_result bench_end_to_end(fake_intake& intake, std::size_t records) {
    auto errors = std::make_shared<error_log>();
    spdlog_ext::datadog_config cfg = bench_config(intake.url(), records + 1000);
    cfg.engine.error_handler = collect_errors(errors);

    e2e_result res;
    {
        const auto before = threads_named("spdlog_ext");
        auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
        std::set<long> worker;
        for (int i = 0; i < 100 && worker.empty(); ++i) {  // the worker names itself at start
            for (long t : threads_named("spdlog_ext")) {
                if (before.count(t) == 0) {
                    worker.insert(t);
                }
            }
            if (worker.empty()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        auto logger = std::make_shared<spdlog::logger>("bench", sink);
        logger->set_level(spdlog::level::info);

        intake.reset(false);
        logger->info("warm-up");  // connects outside the timing
        res.flushed = sink->flush_for(std::chrono::minutes(1));
        if (res.flushed) {
            intake.reset(true);
            spdlog_ext::scoped_fields route{{"route", "/api/v1/orders"}};
            const double worker0 = threads_cpu_seconds(worker);
            const double process0 = process_cpu_seconds(RUSAGE_SELF);
            const double caller0 = this_thread_cpu_seconds();
            const auto t0 = clock_type::now();
            for (std::size_t i = 0; i < records; ++i) {
                spdlog_ext::scoped_fields user{{"user_id", static_cast<int>(i % 50000)}};
                logger->info(message_format, i);
            }
            res.call_seconds = seconds_since(t0);
            res.caller_cpu = this_thread_cpu_seconds() - caller0;
            res.flushed = sink->flush_for(std::chrono::minutes(5));
            res.wall = seconds_since(t0);
            res.worker_cpu = threads_cpu_seconds(worker) - worker0;
            res.process_cpu = process_cpu_seconds(RUSAGE_SELF) - process0;
            if (worker.empty()) {
                res.worker_cpu = -1;
            }
        }
        res.stats = sink->stats();
        res.intake = intake.totals();
        res.bodies = intake.take_bodies();
    }  // the sink shuts down here
    std::lock_guard<std::mutex> lock(errors->mu);
    res.errors = errors->first;
    res.error_count = errors->count;
    return res;
}

// Parses every body the intake kept: each record 0..records-1 exactly once, as a Datadog item.
// Prints the problems (and one item, on the first run) on stderr; false on any problem.
bool check_items(const e2e_result& r, std::size_t records, bool show_item) {
    std::vector<std::uint8_t> seen(records, 0);
    std::size_t items = 0, bad = 0, duplicates = 0, foreign = 0;
    std::string first_bad;
    for (const auto& body : r.bodies) {
        nlohmann::json doc;
        try {
            doc = nlohmann::json::parse(body);
        } catch (const std::exception& e) {
            ++bad;
            first_bad = std::string("body is not JSON: ") + e.what();
            continue;
        }
        if (!doc.is_array()) {
            ++bad;
            first_bad = "body is not a JSON array";
            continue;
        }
        for (const auto& item : doc) {
            ++items;
            if (show_item && items == 1) {
                std::fprintf(stderr, "  an item received by the intake: %s\n", item.dump().c_str());
            }
            const auto msg = item.find("message");
            if (!item.is_object() || msg == item.end() || !msg->is_string() ||
                item.value("status", "") != "info" || item.value("service", "") != "bench" ||
                !item.contains("ddsource") || !item.contains("hostname") ||
                !item.contains("timestamp")) {
                ++bad;
                if (first_bad.empty()) {
                    first_bad =
                        "item without message, status, service, ddsource, hostname or "
                        "timestamp: " +
                        item.dump().substr(0, 300);
                }
                continue;
            }
            const std::string& m = msg->get_ref<const std::string&>();
            const auto at = m.find(message_marker);
            if (at == std::string::npos) {
                ++foreign;
                continue;
            }
            const auto i = std::strtoull(m.c_str() + at + std::strlen(message_marker), nullptr, 10);
            if (i >= records) {
                ++foreign;
            } else if (seen[i]++ != 0) {
                ++duplicates;
            }
        }
    }
    const auto missing = static_cast<std::size_t>(std::count(seen.begin(), seen.end(), 0));
    const auto& st = r.stats;
    const auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::fprintf(stderr,
                 "  %.3f s (logging calls %.3f s), flushed %s; intake: %zu requests, %zu items "
                 "(%zu parsed: %zu missing, %zu duplicates, %zu malformed, %zu other), "
                 "%zu not gzip, %zu bad headers, %zu bad path\n"
                 "  stats: enqueued %llu delivered %llu batches %llu fallback %llu dropped %llu "
                 "retries %llu possible_duplicates %llu failed_batches %llu\n",
                 r.wall, r.call_seconds, r.flushed ? "yes" : "NO", r.intake.requests,
                 r.intake.items, items, missing, duplicates, bad, foreign, r.intake.not_gzip,
                 r.intake.bad_headers, r.intake.bad_path, u(st.enqueued), u(st.delivered),
                 u(st.batches), u(st.fallback), u(st.dropped), u(st.retries),
                 u(st.possible_duplicates), u(st.failed_batches));
    if (!first_bad.empty()) {
        std::fprintf(stderr, "  first malformed: %s\n", first_bad.c_str());
    }
    for (const auto& e : r.errors) {
        std::fprintf(stderr, "  sink error: %s\n", e.c_str());
    }
    if (r.error_count > r.errors.size()) {
        std::fprintf(stderr, "  ... %zu errors in all\n", r.error_count);
    }
    // The warm-up record was delivered before the counting started: delivered == records + 1.
    const bool ok = r.flushed && r.intake.items == records && items == records && missing == 0 &&
                    duplicates == 0 && bad == 0 && foreign == 0 && r.intake.not_gzip == 0 &&
                    r.intake.bad_headers == 0 && r.intake.bad_path == 0 &&
                    st.delivered == records + 1 && st.fallback == 0 && st.dropped == 0;
    if (!ok) {
        std::fprintf(stderr, "  SINK PROBLEM (see the lines above)\n");
    }
    return ok;
}

// ---------------------------------------------------------------- b. curl

std::string gzip(const std::string& data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        throw std::runtime_error("zlib: deflateInit2 failed");
    }
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("zlib: deflate failed");
    }
    return out;
}

struct curl_result {
    std::size_t requests = 0;
    double wall = 0;
    double curl_cpu = 0;  // curl's own
    intake_totals intake;
    int status = 0;
};

// `requests` POSTs of `file` by `processes` curl processes (requests / processes URLs each: curl
// reuses its connection across the URLs of one command line).
curl_result bench_curl(fake_intake& intake, const std::string& curl, const fs::path& file,
                       std::size_t requests, std::size_t processes) {
    std::vector<std::string> args{curl,
                                  "-s",
                                  "--fail",
                                  "-H",
                                  "Content-Type: application/json",
                                  "-H",
                                  "Content-Encoding: gzip",
                                  "-H",
                                  std::string("DD-API-KEY: ") + api_key,
                                  "--data-binary",
                                  "@" + file.string()};
    const std::size_t per_process = requests / processes;
    for (std::size_t i = 0; i < per_process; ++i) {
        args.insert(args.end(), {"-o", "/dev/null", intake.url()});  // -o: one per URL
    }
    intake.reset(false);
    curl_result r;
    r.requests = per_process * processes;
    const double cpu0 = process_cpu_seconds(RUSAGE_CHILDREN);
    const auto t0 = clock_type::now();
    for (std::size_t p = 0; p < processes && r.status == 0; ++p) {
        r.status = run_process(args);
    }
    r.wall = seconds_since(t0);
    r.curl_cpu = process_cpu_seconds(RUSAGE_CHILDREN) - cpu0;
    r.intake = intake.totals();
    return r;
}

// ---------------------------------------------------------------- c. the logging call

struct call_cost {
    double median_ns = 0;  // of 16-call groups, per call
    double p99_ns = 0;     // of single calls
};

constexpr int group = 16;

// `calls` single timed calls, then `calls` more in timed groups of 16; with_fields: two scoped
// fields in effect, as in a.
call_cost measure_calls(const spdlog::sink_ptr& sink, int calls, bool with_fields, double tick_ns) {
    spdlog::logger logger("calls", sink);
    logger.set_level(spdlog::level::info);
    std::unique_ptr<spdlog_ext::scoped_fields> fields;
    if (with_fields) {
        fields.reset(new spdlog_ext::scoped_fields{{"route", "/api/v1/orders"}, {"user_id", 7}});
    }
    for (int i = 0; i < 2000; ++i) {  // warm caches and the allocator
        logger.info("warmup message number {}", i);
    }
    std::vector<std::uint32_t> single(static_cast<std::size_t>(calls));
    for (int i = 0; i < calls; ++i) {
        const auto c0 = ticks();
        logger.info("user request handled in handler number {}", i);
        single[static_cast<std::size_t>(i)] =
            static_cast<std::uint32_t>(std::min<tick_type>(ticks() - c0, ~0u));
    }
    std::vector<double> grouped(static_cast<std::size_t>(calls / group));
    for (int g = 0; g < calls / group; ++g) {
        const auto c0 = ticks();
        for (int i = 0; i < group; ++i) {
            logger.info("user request handled in handler number {}", g * group + i);
        }
        grouped[static_cast<std::size_t>(g)] = double(ticks() - c0) * tick_ns / group;
    }
    std::sort(single.begin(), single.end());
    std::sort(grouped.begin(), grouped.end());
    return {grouped[grouped.size() / 2], double(single[single.size() * 99 / 100]) * tick_ns};
}

struct call_row {
    std::string label;
    std::vector<double> medians, p99s;
    void add(const call_cost& c) {
        medians.push_back(c.median_ns);
        p99s.push_back(c.p99_ns);
    }
    double median_ns() const { return median(medians); }
    double p99_ns() const { return median(p99s); }
};

// Discards every batch: the engine alone (queue and worker), without Datadog's encoding or HTTP.
class discard_backend final : public spdlog_ext::backend {
  public:
    spdlog_ext::batch_result write(spdlog_ext::record_span,
                                   const spdlog_ext::write_context&) override {
        return spdlog_ext::batch_result::delivered();
    }
};

// The rows of c., in the order printed; the first of each half is its null-sink reference.
enum call_row_index : std::size_t {
    null_plain,
    dd_up_plain,
    dd_down_plain,
    engine_plain,
    null_fields,
    dd_up_fields,
    engine_fields,
};

// Rounds of: null sink, sink with the intake up, an engine_sink whose backend discards (for
// reference), without and with scoped fields; and the sink with the intake down. Returns false
// when a sink lost records (the queue must never fill).
bool bench_calls(fake_intake& intake, int calls, int rounds, double tick_ns,
                 std::vector<call_row>& rows) {
    rows = {{"spdlog null_sink_mt", {}, {}},
            {"datadog sink, intake up", {}, {}},
            {"datadog sink, intake down (refused)", {}, {}},
            {"engine_sink, backend discards (ref.)", {}, {}},
            {"null_sink_mt, 2 scoped fields", {}, {}},
            {"datadog sink up, 2 scoped fields", {}, {}},
            {"engine_sink discards, 2 scoped fields", {}, {}}};
    const std::size_t queue = 2 * static_cast<std::size_t>(calls) + 10000;
    bool ok = true;
    std::string problems;
    const auto dd_sink = [&](const std::string& url) {
        spdlog_ext::datadog_config cfg = bench_config(url, queue);
        cfg.connect_timeout = std::chrono::seconds(1);
        cfg.engine.error_handler = [](const std::string&) {};
        return std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
    };
    const auto check_up = [&](const std::shared_ptr<spdlog_ext::datadog_http_sink>& sink) {
        const bool flushed = sink->flush_for(std::chrono::minutes(2));
        const auto st = sink->stats();
        if (!flushed || st.fallback != 0 || st.dropped != 0 || st.delivered != st.enqueued) {
            ok = false;
            problems += fmt::format(
                "  intake up: flushed {}, enqueued {}, delivered {}, fallback {}, dropped {}, "
                "last error: {}\n",
                flushed ? "yes" : "NO", st.enqueued, st.delivered, st.fallback, st.dropped,
                st.last_error);
        }
    };
    for (int round = 0; round < rounds; ++round) {
        for (bool with_fields : {false, true}) {
            rows[with_fields ? null_fields : null_plain].add(measure_calls(
                std::make_shared<spdlog::sinks::null_sink_mt>(), calls, with_fields, tick_ns));
            auto up = dd_sink(intake.url());
            rows[with_fields ? dd_up_fields : dd_up_plain].add(
                measure_calls(up, calls, with_fields, tick_ns));
            check_up(up);
            spdlog_ext::engine_config ecfg = bench_config(intake.url(), queue).engine;
            ecfg.name = "discard";
            auto engine = std::make_shared<spdlog_ext::engine_sink>(
                std::make_unique<discard_backend>(), ecfg);
            rows[with_fields ? engine_fields : engine_plain].add(
                measure_calls(engine, calls, with_fields, tick_ns));
            engine->shutdown(std::chrono::seconds(30));
        }
        auto down = dd_sink("http://127.0.0.1:1/api/v2/logs");
        rows[dd_down_plain].add(measure_calls(down, calls, false, tick_ns));
        const auto st = down->stats();
        if (st.fallback != 0 || st.dropped != 0) {
            ok = false;
            problems += fmt::format("  intake down: fallback {} dropped {} during the calls\n",
                                    st.fallback, st.dropped);
        }
        down->shutdown(std::chrono::milliseconds(0));  // the rest goes to the (null) fallback
    }
    if (!problems.empty()) {
        std::fprintf(stderr, "logging call runs:\n%s", problems.c_str());
    }
    return ok;
}

// ---------------------------------------------------------------- main

int run(int argc, char** argv) {
    const long records_arg = argc > 1 ? std::atol(argv[1]) : 200000;
    const long calls_arg = argc > 2 ? std::atol(argv[2]) : 200000;
    const long runs_env = std::atol(env_or_empty("SPDLOG_EXT_BENCH_RUNS").c_str());
    const int runs = runs_env > 0 ? static_cast<int>(runs_env) : 3;
    if (records_arg <= 0 || calls_arg < 100) {
        std::fprintf(stderr, "usage: bench_datadog [records=200000] [calls=200000 (>= 100)]\n");
        return 2;
    }
    const auto records = static_cast<std::size_t>(records_arg);
    const int calls = static_cast<int>(calls_arg);

    fake_intake intake;
    std::printf("bench_datadog: %zu records, median of %d runs, gzip on, fake intake %s\n\n",
                records, runs, intake.url().c_str());
    std::fflush(stdout);

    // a.
    bool sink_ok = true;
    std::vector<double> walls, call_secs, worker_cpu, caller_cpu, process_cpu, ratios;
    std::vector<double> req_counts, wire_mb;
    std::string sample_body;  // a 1000-item body the sink sent, for b.
    for (int run = 1; run <= runs; ++run) {
        std::fprintf(stderr, "---- run %d of %d\n", run, runs);
        e2e_result r = bench_end_to_end(intake, records);
        sink_ok &= check_items(r, records, run == 1);
        walls.push_back(r.wall);
        call_secs.push_back(r.call_seconds);
        worker_cpu.push_back(r.worker_cpu);
        caller_cpu.push_back(r.caller_cpu);
        process_cpu.push_back(r.process_cpu);
        req_counts.push_back(double(r.intake.requests));
        wire_mb.push_back(double(r.intake.wire_bytes) / (1024.0 * 1024.0));
        ratios.push_back(r.intake.wire_bytes > 0
                             ? double(r.intake.uncompressed_bytes) / double(r.intake.wire_bytes)
                             : 0.0);
        if (sample_body.empty()) {
            for (auto& b : r.bodies) {
                if (count_array_items(b) == 1000) {
                    sample_body = std::move(b);
                    break;
                }
            }
        }
    }
    const double rate = double(records) / median(walls);
    const double per_record_us = 1e6 / double(records);
    std::printf("a. end to end (first call until flush_for returned; medians)\n");
    std::printf("  records/s                      %10.0f   (%.3f s; the calls alone %.3f s)\n",
                rate, median(walls), median(call_secs));
    std::printf(
        "  requests                       %10.0f   (%.0f items each, %.2f MB on the "
        "wire)\n",
        median(req_counts), double(records) / median(req_counts), median(wire_mb));
    std::printf("  compression (uncompressed/wire)%10.2fx\n", median(ratios));
    if (median(worker_cpu) >= 0) {
        std::printf("  CPU per record: sink worker    %8.2f us\n",
                    median(worker_cpu) * per_record_us);
    } else {
        std::printf("  CPU per record: sink worker         n/a (worker thread not found)\n");
    }
    std::printf("  CPU per record: logging thread %8.2f us (during the calls)\n",
                median(caller_cpu) * per_record_us);
    std::printf("  CPU per record: whole process  %8.2f us (includes the fake intake)\n",
                median(process_cpu) * per_record_us);
    std::printf("  runs (s):");
    for (double w : walls) {
        std::printf(" %.3f", w);
    }
    std::printf("\n\n");
    std::fflush(stdout);

    // b.
    const std::string curl = find_in_path("curl");
    if (curl.empty() || sample_body.empty()) {
        std::printf("b. curl baseline: skipped (%s)\n\n",
                    curl.empty() ? "curl not in PATH" : "no 1000-item body received");
    } else {
        const fs::path file =
            fs::temp_directory_path() / ("bench_datadog_" + std::to_string(::getpid()) + ".gz");
        const std::string gz = gzip(sample_body);
        {
            std::ofstream out(file, std::ios::binary | std::ios::trunc);
            out.write(gz.data(), static_cast<std::streamsize>(gz.size()));
        }
        std::printf(
            "b. curl CLI posting one of the sink's 1000-item bodies, pre-gzipped (%.0f KB, "
            "%.0f KB uncompressed)\n",
            double(gz.size()) / 1024.0, double(sample_body.size()) / 1024.0);
        std::printf("  %-34s %8s %9s %11s %12s\n", "", "requests", "req/s", "records/s",
                    "curl CPU/req");
        struct variant {
            const char* label;
            std::size_t requests, processes;
        };
        for (const variant& v : {variant{"1 curl, kept-alive connection", 200, 1},
                                 variant{"1 curl process per request", 20, 20}}) {
            const curl_result c = bench_curl(intake, curl, file, v.requests, v.processes);
            if (c.status != 0 || c.intake.requests != c.requests ||
                c.intake.items != c.requests * 1000) {
                std::printf("  %-34s failed: curl status %d, intake %zu requests %zu items\n",
                            v.label, c.status, c.intake.requests, c.intake.items);
                continue;
            }
            std::printf("  %-34s %8zu %9.0f %11.0f %10.2f ms\n", v.label, c.requests,
                        double(c.requests) / c.wall, double(c.requests) * 1000.0 / c.wall,
                        c.curl_cpu * 1000.0 / double(c.requests));
        }
        std::printf("  (curl sends ready-made bytes: no encoding, no compression)\n\n");
        std::error_code ec;
        fs::remove(file, ec);
    }
    std::fflush(stdout);

    // c.
    const double tick_ns = ns_per_tick();
    std::vector<call_row> rows;
    const bool calls_ok = bench_calls(intake, calls, runs, tick_ns, rows);
    std::printf(
        "c. the logging call, 1 thread, %d calls x2 per sink and round, median of %d rounds "
        "(timer cost %.1f ns, included)\n",
        calls, runs, timer_cost(tick_ns));
    std::printf("  %-38s %8s %8s %12s %9s\n", "", "median", "p99", "median/null", "p99/null");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const call_row& null = rows[i < null_fields ? null_plain : null_fields];
        std::printf("  %-38s %6.0fns %6.0fns %11.2fx %8.2fx\n", rows[i].label.c_str(),
                    rows[i].median_ns(), rows[i].p99_ns(), rows[i].median_ns() / null.median_ns(),
                    rows[i].p99_ns() / null.p99_ns());
    }
    std::printf("\n");

    const bool rate_goal = rate >= 150000;
    const double call_ratio = rows[dd_up_plain].median_ns() / rows[null_plain].median_ns();
    const bool call_goal = call_ratio <= 1.5;
    std::printf("goal: end to end >= 150k records/s: %s (%.0f)\n", rate_goal ? "met" : "NOT met",
                rate);
    std::printf("goal: logging call (intake up) median <= 1.5x null_sink_mt: %s (%.2fx)\n",
                call_goal ? "met" : "NOT met", call_ratio);
    if (!sink_ok || !calls_ok) {
        std::printf(
            "\nSINK PROBLEMS: the intake did not receive exactly the records logged, or records "
            "went to the fallback (details on stderr)\n");
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_datadog: %s\n", e.what());
        return 1;
    }
}
