// What the influx_timeseries_sink costs, measured in the same run:
//
//   a. the line-protocol encoder alone, on one core: `records` typical records (logger name, an
//      ~80-character message, level, three structured fields: an integer, a float and a string)
//      encoded in batches of 5000 (InfluxDB's advice, the sink's default batch), as the sink's
//      worker does (level counts off). Reports lines/s and MB/s. Goal: >= 3M lines/s.
//   b. end to end into the real influxd of scripts/services.sh (v1 API, /write?precision=ns):
//      the same records logged through an influx_timeseries_sink (spdlog_ext::log with the three
//      fields), timed from the first logging call until flush_for() returns (InfluxDB answered
//      204 for every batch), against the curl CLI posting the very lines the encoder produced,
//      5000 per request, one curl process on one kept-alive connection (curl --next). Both are
//      checked with SELECT count(message) afterwards. Goal: sink >= 0.9x curl's points/s.
//
//   bench_influx [records=200000]
//
// Server: SPDLOG_EXT_BENCH_INFLUX_URL / SPDLOG_EXT_BENCH_INFLUX_DB, else SPDLOG_EXT_TEST_INFLUX_URL
// / SPDLOG_EXT_TEST_INFLUX_DB (`. "$(scripts/services.sh start)/env"`); without them only a. runs.
// SPDLOG_EXT_BENCH_RUNS: repetitions (default 3, medians reported; sink and curl take turns).
// Every measurement written is dropped at the end. Not a test: run on demand. Exit status 1 when
// the server did not end up with exactly the points sent.
#include <httplib.h>  // Debian's compiled cpp-httplib: queries and DROP MEASUREMENT only
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <spdlog_ext/sinks/influx_timeseries_sink.h>
#include <spdlog_ext/spdlog_ext.h>
#include "bench_common.h"
#include "sinks/influx/influx_encoder.h"  // the encoder (src/, internal)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr std::size_t batch_records = 5000;
constexpr const char* logger_name = "bench";
constexpr const char* host_tag = "bench-host";
constexpr const char* service_tag = "checkout";
// The message of record i: about 80 characters.
constexpr char message_format[] =
    "request handled: GET /api/v1/orders/{} status 200 in 12.5 ms (cache miss, 3 queries)";

std::string message_of(std::size_t i) {
    return fmt::format(message_format, i);
}

// The structured fields of record i: an integer, a float and a string.
spdlog_ext::field_list fields_of_record(std::size_t i) {
    return {{"user_id", static_cast<int>(i % 50000)},
            {"latency_ms", 12.5 + static_cast<double>(i % 100) / 8.0},
            {"route", "/api/v1/orders"}};
}

std::vector<spdlog_ext::record> make_records(std::size_t n) {
    std::vector<spdlog_ext::record> records(n);
    const auto base = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
        auto& r = records[i];
        // ~5 us apart: about the pace at which a busy service logs.
        r.time = base + std::chrono::microseconds(5 * i);
        r.level = i % 50 == 0 ? spdlog::level::warn : spdlog::level::info;
        r.logger_name = logger_name;
        r.message = message_of(i);
        r.thread_id = 1;
        r.fields = nlohmann::json::object();
        for (auto& [key, value] : fields_of_record(i)) {
            r.fields[key] = std::move(value);
        }
    }
    return records;
}

spdlog_ext::detail::line_protocol_options encoder_options(const std::string& measurement) {
    spdlog_ext::detail::line_protocol_options o;
    o.measurement = measurement;
    o.hostname = host_tag;
    o.service = service_tag;
    o.unsigned_integers = false;
    return o;
}

// ---------------------------------------------------------------- a. the encoder

struct encode_result {
    double seconds = 0;
    std::size_t lines = 0;
    std::size_t bytes = 0;
};

encode_result bench_encoder(const std::vector<spdlog_ext::record>& records) {
    spdlog_ext::detail::line_encoder encoder(encoder_options("logs"));  // fresh series state
    std::string out;
    out.reserve(batch_records * 256);
    encode_result r;
    const auto t0 = clock_type::now();
    for (std::size_t at = 0; at < records.size(); at += batch_records) {
        const std::size_t n = std::min(batch_records, records.size() - at);
        r.lines += encoder.encode(spdlog_ext::record_span(records.data() + at, n), out);
        r.bytes += out.size();
    }
    r.seconds = seconds_since(t0);
    return r;
}

// The first batch encoded `times` times (identical work), its records
// hot in the cache: the encoder's own cost without the memory traffic of fresh records.
encode_result bench_encoder_hot(const std::vector<spdlog_ext::record>& records, int times) {
    spdlog_ext::detail::line_encoder encoder(encoder_options("logs"));
    const std::size_t n = std::min(batch_records, records.size());
    std::string out;
    out.reserve(n * 256);
    encoder.encode(spdlog_ext::record_span(records.data(), n), out);  // warm
    encode_result r;
    const auto t0 = clock_type::now();
    for (int k = 0; k < times; ++k) {
        r.lines += encoder.encode(spdlog_ext::record_span(records.data(), n), out);
        r.bytes += out.size();
    }
    r.seconds = seconds_since(t0);
    return r;
}

// The lines of every batch, as the sink would send them to `measurement`.
std::vector<std::string> encode_batches(const std::vector<spdlog_ext::record>& records,
                                        const std::string& measurement) {
    spdlog_ext::detail::line_encoder encoder(encoder_options(measurement));
    std::vector<std::string> bodies;
    for (std::size_t at = 0; at < records.size(); at += batch_records) {
        const std::size_t n = std::min(batch_records, records.size() - at);
        std::string out;
        encoder.encode(spdlog_ext::record_span(records.data() + at, n), out);
        bodies.push_back(std::move(out));
    }
    return bodies;
}

// ---------------------------------------------------------------- the server

struct server {
    std::string url;  // http://127.0.0.1:port
    std::string db;

    httplib::Client client() const {
        httplib::Client c(url);
        c.set_connection_timeout(10, 0);
        c.set_read_timeout(120, 0);
        return c;
    }

    static std::string ident(const std::string& name) {
        std::string out = "\"";
        for (char c : name) {
            if (c == '\\' || c == '"') {
                out += '\\';
            }
            out += c;
        }
        return out + "\"";
    }

    // SELECT count(message): -1 when the query failed.
    long long count(const std::string& measurement) const {
        auto c = client();
        const auto res = c.Get("/query?db=" + httplib::detail::encode_query_param(db) + "&q=" +
                               httplib::detail::encode_query_param("SELECT count(message) FROM " +
                                                                   ident(measurement)));
        if (!res || res->status != 200) {
            return -1;
        }
        try {
            const auto doc = nlohmann::json::parse(res->body);
            const auto& result = doc.at("results").at(0);
            if (!result.contains("series")) {
                return 0;
            }
            return result.at("series").at(0).at("values").at(0).at(1).get<long long>();
        } catch (const std::exception&) {
            return -1;
        }
    }

    void drop(const std::string& measurement) const {
        auto c = client();
        (void)c.Post("/query?db=" + httplib::detail::encode_query_param(db),
                     httplib::Params{{"q", "DROP MEASUREMENT " + ident(measurement)}});
    }

    bool ping() const {
        auto c = client();
        const auto res = c.Get("/ping");
        return res && res->status == 204;
    }
};

// ---------------------------------------------------------------- b. the sink

struct error_log {
    std::mutex mu;
    std::vector<std::string> first;
    std::size_t count = 0;
};

struct sink_result {
    double wall = 0;          // first logging call until flush_for() returned
    double call_seconds = 0;  // the logging calls alone
    double process_cpu = 0;   // this process (sink worker + logging thread)
    bool flushed = false;
    spdlog_ext::sink_stats stats;
    std::vector<std::string> errors;
    std::size_t error_count = 0;
};

double process_cpu_seconds(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    const auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

sink_result bench_sink(const server& srv, const std::string& measurement, std::size_t records) {
    auto errors = std::make_shared<error_log>();
    spdlog_ext::influx_config cfg;
    cfg.api = spdlog_ext::influx_api::v1;
    cfg.url = srv.url;
    cfg.database = srv.db;
    cfg.measurement = measurement;
    cfg.hostname = host_tag;
    cfg.service = service_tag;
    cfg.unsigned_integers = false;
    cfg.engine.batch_max_records = batch_records;
    cfg.engine.queue_max_records = records + 1000;
    cfg.engine.queue_max_bytes = std::size_t(2) << 30;
    cfg.engine.flush_timeout = std::chrono::minutes(5);
    cfg.engine.fallback = std::make_shared<spdlog::sinks::null_sink_mt>();  // counted in stats
    cfg.engine.error_handler = [errors](const std::string& e) {
        std::lock_guard<std::mutex> lock(errors->mu);
        if (errors->first.size() < 5) {
            errors->first.push_back(e);
        }
        ++errors->count;
    };

    sink_result res;
    {
        auto sink = std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
        spdlog::logger logger(logger_name, sink);
        logger.set_level(spdlog::level::info);
        logger.info("warm-up");  // connects outside the timing
        res.flushed = sink->flush_for(std::chrono::minutes(1));
        if (res.flushed) {
            const double cpu0 = process_cpu_seconds(RUSAGE_SELF);
            const auto t0 = clock_type::now();
            for (std::size_t i = 0; i < records; ++i) {
                spdlog_ext::log(logger, i % 50 == 0 ? spdlog::level::warn : spdlog::level::info,
                                fields_of_record(i), message_format, i);
            }
            res.call_seconds = seconds_since(t0);
            res.flushed = sink->flush_for(std::chrono::minutes(5));
            res.wall = seconds_since(t0);
            res.process_cpu = process_cpu_seconds(RUSAGE_SELF) - cpu0;
        }
        res.stats = sink->stats();
    }
    std::lock_guard<std::mutex> lock(errors->mu);
    res.errors = errors->first;
    res.error_count = errors->count;
    return res;
}

// ---------------------------------------------------------------- b. curl

struct curl_result {
    double wall = 0;
    double curl_cpu = 0;
    int status = 0;
};

// One curl process POSTing every file on one kept-alive connection (--next between requests).
curl_result bench_curl(const std::string& curl, const server& srv,
                       const std::vector<fs::path>& files) {
    const std::string url =
        srv.url + "/write?db=" + httplib::detail::encode_query_param(srv.db) + "&precision=ns";
    std::vector<std::string> args{curl};
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (i > 0) {
            args.push_back("--next");
        }
        args.insert(args.end(), {"-s", "-S", "--fail", "--noproxy", "*", "-H",
                                 "Content-Type: text/plain; charset=utf-8", "--data-binary",
                                 "@" + files[i].string(), "-o", "/dev/null", url});
    }
    curl_result r;
    const double cpu0 = process_cpu_seconds(RUSAGE_CHILDREN);
    const auto t0 = clock_type::now();
    r.status = run_process(args);
    r.wall = seconds_since(t0);
    r.curl_cpu = process_cpu_seconds(RUSAGE_CHILDREN) - cpu0;
    return r;
}

// ---------------------------------------------------------------- main

int run(int argc, char** argv) {
    const long records_arg = argc > 1 ? std::atol(argv[1]) : 200000;
    const long runs_env = std::atol(env_or_empty("SPDLOG_EXT_BENCH_RUNS").c_str());
    const int runs = runs_env > 0 ? static_cast<int>(runs_env) : 3;
    if (records_arg <= 0) {
        std::fprintf(stderr, "usage: bench_influx [records=200000]\n");
        return 2;
    }
    const auto records = static_cast<std::size_t>(records_arg);

    // a.
    const auto data = make_records(records);
    {
        spdlog_ext::detail::line_encoder encoder(encoder_options("logs"));
        std::string sample;
        encoder.encode(spdlog_ext::record_span(data.data(), 1), sample);
        std::printf("bench_influx: %zu records, median of %d runs; a line:\n  %s\n", records, runs,
                    sample.c_str());
    }
    std::vector<double> encode_seconds;
    encode_result last{};
    for (int run = 0; run < std::max(runs, 5); ++run) {
        last = bench_encoder(data);
        encode_seconds.push_back(last.seconds);
    }
    const double enc_rate = double(last.lines) / median(encode_seconds);
    std::printf("a. encoder, 1 core, batches of %zu (median of %zu runs)\n", batch_records,
                encode_seconds.size());
    std::printf("  lines/s   %12.0f   (%.1f ns/line, %.0f MB/s, %.0f bytes/line)\n", enc_rate,
                1e9 / enc_rate, double(last.bytes) / median(encode_seconds) / 1e6,
                double(last.bytes) / double(last.lines));
    std::vector<double> hot_rates;
    for (int run = 0; run < std::max(runs, 5); ++run) {
        const encode_result hot = bench_encoder_hot(data, 40);
        hot_rates.push_back(double(hot.lines) / hot.seconds);
    }
    std::printf(
        "  lines/s   %12.0f   (one batch of %zu encoded again and again: records in cache)\n",
        median(hot_rates), std::min(batch_records, records));
    std::printf("  goal >= 3M lines/s: %s (%.2fx the goal)\n\n",
                enc_rate >= 3e6 ? "met" : "NOT met", enc_rate / 3e6);
    std::fflush(stdout);

    // b.
    server srv;
    srv.url = env_or_empty("SPDLOG_EXT_BENCH_INFLUX_URL");
    srv.db = env_or_empty("SPDLOG_EXT_BENCH_INFLUX_DB");
    if (srv.url.empty()) {
        srv.url = env_or_empty("SPDLOG_EXT_TEST_INFLUX_URL");
        srv.db = env_or_empty("SPDLOG_EXT_TEST_INFLUX_DB");
    }
    while (!srv.url.empty() && srv.url.back() == '/') {
        srv.url.pop_back();
    }
    const std::string curl = find_in_path("curl");
    if (srv.url.empty() || srv.db.empty() || curl.empty()) {
        std::printf("b. end to end: skipped (%s)\n",
                    curl.empty() ? "curl not in PATH"
                                 : "set SPDLOG_EXT_TEST_INFLUX_URL and SPDLOG_EXT_TEST_INFLUX_DB, "
                                   "e.g. . \"$(scripts/services.sh start)/env\"");
        return enc_rate >= 3e6 ? 0 : 1;
    }
    if (!srv.ping()) {
        std::fprintf(stderr, "bench_influx: %s/ping does not answer 204\n", srv.url.c_str());
        return 2;
    }

    const std::string base = "bench_influx_" + std::to_string(::getpid());
    const fs::path dir = fs::temp_directory_path() / (base + "_data");
    fs::create_directories(dir);
    std::vector<std::string> written;  // measurements to drop at the end
    bool ok = true;
    std::vector<double> sink_walls, sink_calls, sink_cpu, curl_walls, curl_cpu;
    std::size_t curl_requests = 0;
    double bytes_per_request = 0;
    for (int run = 1; run <= runs; ++run) {
        std::fprintf(stderr, "---- run %d of %d\n", run, runs);
        const std::string sink_m = base + "_sink_r" + std::to_string(run);
        const std::string curl_m = base + "_curl_r" + std::to_string(run);
        written.push_back(sink_m);
        written.push_back(curl_m);

        // The curl variant's files: the encoder's own batches.
        const auto bodies = encode_batches(data, curl_m);
        std::vector<fs::path> files;
        double total_bytes = 0;
        for (std::size_t b = 0; b < bodies.size(); ++b) {
            files.push_back(dir / ("batch_" + std::to_string(b) + ".lp"));
            std::ofstream out(files.back(), std::ios::binary | std::ios::trunc);
            out.write(bodies[b].data(), static_cast<std::streamsize>(bodies[b].size()));
            total_bytes += double(bodies[b].size());
        }
        curl_requests = files.size();
        bytes_per_request = total_bytes / double(files.size());

        const auto do_sink = [&] {
            const sink_result r = bench_sink(srv, sink_m, records);
            const long long stored = srv.count(sink_m);
            const auto& st = r.stats;
            std::fprintf(stderr,
                         "  sink: %.3f s (calls %.3f s), flushed %s, stored %lld of %zu; "
                         "delivered %llu batches %llu fallback %llu dropped %llu retries %llu\n",
                         r.wall, r.call_seconds, r.flushed ? "yes" : "NO", stored, records + 1,
                         static_cast<unsigned long long>(st.delivered),
                         static_cast<unsigned long long>(st.batches),
                         static_cast<unsigned long long>(st.fallback),
                         static_cast<unsigned long long>(st.dropped),
                         static_cast<unsigned long long>(st.retries));
            for (const auto& e : r.errors) {
                std::fprintf(stderr, "  sink error: %s\n", e.c_str());
            }
            if (!r.flushed || stored != static_cast<long long>(records + 1) ||
                st.delivered != records + 1 || st.fallback != 0 || st.dropped != 0) {
                std::fprintf(stderr, "  SINK PROBLEM (see the line above)\n");
                ok = false;
            }
            sink_walls.push_back(r.wall);
            sink_calls.push_back(r.call_seconds);
            sink_cpu.push_back(r.process_cpu);
        };
        const auto do_curl = [&] {
            const curl_result c = bench_curl(curl, srv, files);
            const long long stored = srv.count(curl_m);
            std::fprintf(stderr, "  curl: %.3f s, status %d, stored %lld of %zu\n", c.wall,
                         c.status, stored, records);
            if (c.status != 0 || stored != static_cast<long long>(records)) {
                std::fprintf(stderr, "  CURL PROBLEM (see the line above)\n");
                ok = false;
            }
            curl_walls.push_back(c.wall);
            curl_cpu.push_back(c.curl_cpu);
        };
        if (run % 2 == 1) {
            do_sink();
            do_curl();
        } else {
            do_curl();
            do_sink();
        }
    }
    for (const auto& m : written) {
        srv.drop(m);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);

    const double sink_rate = double(records) / median(sink_walls);
    const double curl_rate = double(records) / median(curl_walls);
    std::printf("b. end to end into influxd %s (db %s), %zu points, batches of %zu\n",
                srv.url.c_str(), srv.db.c_str(), records, batch_records);
    std::printf("  %-44s %12s %9s %14s\n", "", "points/s", "wall", "client CPU/pt");
    std::printf("  %-44s %12.0f %8.3fs %12.2f us\n", "sink (log calls until flush_for returned)",
                sink_rate, median(sink_walls), median(sink_cpu) * 1e6 / double(records));
    std::printf("  %-44s %12.0f %8.3fs %12.2f us\n", "curl --data-binary, 1 process, kept alive",
                curl_rate, median(curl_walls), median(curl_cpu) * 1e6 / double(records));
    std::printf(
        "  (curl: %zu requests of %.0f KB, ready-made lines; the sink's logging calls alone "
        "took %.3f s)\n",
        curl_requests, bytes_per_request / 1024.0, median(sink_calls));
    std::printf("  runs (s): sink");
    for (double w : sink_walls) {
        std::printf(" %.3f", w);
    }
    std::printf(", curl");
    for (double w : curl_walls) {
        std::printf(" %.3f", w);
    }
    std::printf("\n\n");
    const double ratio = sink_rate / curl_rate;
    std::printf("goal: encoder >= 3M lines/s: %s (%.0f lines/s, %.2fx)\n",
                enc_rate >= 3e6 ? "met" : "NOT met", enc_rate, enc_rate / 3e6);
    std::printf("goal: sink >= 0.9x curl points/s: %s (%.2fx)\n", ratio >= 0.9 ? "met" : "NOT met",
                ratio);
    if (!ok) {
        std::printf(
            "\nPROBLEMS: the server did not end up with exactly the points sent (details on "
            "stderr)\n");
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_influx: %s\n", e.what());
        return 1;
    }
}
