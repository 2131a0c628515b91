// examples/log_viewer against the real PostgreSQL through an httplib client: the page, the
// JSON endpoints (paging, errors as JSON with 400 / 404 / 503, stats, cleanup, levels) and the
// Server-Sent Events stream read while a logger writes (each record once, also across a
// reconnect with Last-Event-ID).
#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/pg_helpers.h"
#include "integration/process_runner.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string unique_prefix(const char* what) {
    static int n = 0;
    return std::string("viewer_") + what + "_" + std::to_string(::getpid()) + "_" +
           std::to_string(n++);
}

// A log_viewer child on a free port, for one table prefix (or URL).
struct viewer {
    std::unique_ptr<proc_test::child> process;
    int port = 0;

    explicit viewer(const std::string& prefix, const std::string& url = pg_test::url()) {
        process = std::make_unique<proc_test::child>(
            SPDLOG_EXT_LOG_VIEWER,
            std::vector<std::string>{"--listen", "127.0.0.1:0", "--ping-seconds", "1",
                                     "--max-streams", "2"},
            proc_test::env_changes{{"LOG_POSTGRES_URL", url},
                                   {"LOG_POSTGRES_TABLE_PREFIX", prefix},
                                   {"LOG_POSTGRES_SCHEMA", std::nullopt},
                                   {"DATABASE_URL", std::nullopt}},
            "log_viewer_" + prefix);
        const std::string marker = "listening on http://127.0.0.1:";
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            const std::string out = process->out();
            const auto at = out.find(marker);
            if (at != std::string::npos && out.find('/', at + marker.size()) != std::string::npos) {
                port = std::stoi(out.substr(at + marker.size()));
                break;
            }
            REQUIRE_MESSAGE(!process->wait(0ms).has_value(),
                            "log_viewer exited: " << process->err());
            REQUIRE_MESSAGE(std::chrono::steady_clock::now() - start < 20s,
                            "log_viewer did not start");
            std::this_thread::sleep_for(50ms);
        }
    }
    ~viewer() {
        process->signal(SIGTERM);
        const auto code = process->wait(10s);
        CHECK_MESSAGE(code == std::optional<int>(0), "log_viewer stderr: " << process->err());
    }
    httplib::Client client() const {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(30, 0);
        return c;
    }
};

struct writer {
    std::shared_ptr<spdlog_ext::postgres_batch_sink> sink;
    std::shared_ptr<spdlog::logger> logger;

    explicit writer(const std::string& prefix) {
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = pg_test::url();
        cfg.table_prefix = prefix;
        cfg.engine.batch_max_delay = 50ms;
        sink = std::make_shared<spdlog_ext::postgres_batch_sink>(cfg);
        logger = std::make_shared<spdlog::logger>("viewer.test", sink);
    }
    void write(int from, int to, const std::string& tag, bool flush = true) {
        for (int i = from; i < to; ++i) {
            spdlog_ext::log(logger, i % 10 == 9 ? spdlog::level::err : spdlog::level::info,
                            {{"seq", i}, {"run", tag}}, "record {}", i);
        }
        if (flush) {
            REQUIRE(sink->flush_for(30s));
        }
    }
};

json body_of(const httplib::Result& r) {
    REQUIRE(r);
    return json::parse(r->body);
}

// Reads an event stream in a thread: the "log" events' rows, the last id, keepalive comments.
struct sse_reader {
    std::mutex mutex;
    std::vector<json> rows;
    std::string last_id;
    std::size_t rows_at_last_id = 0;  // rows after the last id are sent again on resume
    int pings = 0;
    std::atomic<int> status{0};
    std::atomic<bool> stop{false};
    std::thread thread;
    std::string buffer;

    sse_reader(const viewer& v, const std::string& query, const std::string& last_event_id) {
        thread = std::thread([this, &v, query, last_event_id] {
            httplib::Client c = v.client();
            httplib::Headers headers;
            if (!last_event_id.empty()) {
                headers.emplace("Last-Event-ID", last_event_id);
            }
            auto r = c.Get(("/api/logs/stream?" + query).c_str(), headers,
                           [this](const httplib::Response& res) {
                               status = res.status;
                               return true;
                           },
                           [this](const char* data, std::size_t size) {
                               buffer.append(data, size);
                               for (auto end = buffer.find("\n\n"); end != std::string::npos;
                                    end = buffer.find("\n\n")) {
                                   parse_event(buffer.substr(0, end));
                                   buffer.erase(0, end + 2);
                               }
                               return !stop;
                           });
            (void)r;
        });
    }
    ~sse_reader() { close(); }
    void close() {
        stop = true;
        if (thread.joinable())
            thread.join();
    }
    void parse_event(const std::string& event) {
        std::lock_guard<std::mutex> lock(mutex);
        std::string type = "message";
        bool has_id = false;
        for (const auto& line : proc_test::lines_of(event)) {
            if (line.rfind(": ping", 0) == 0) {
                ++pings;
            } else if (line.rfind("event: ", 0) == 0) {
                type = line.substr(7);
            } else if (line.rfind("id: ", 0) == 0) {
                last_id = line.substr(4);
                has_id = true;
            } else if (line.rfind("data: ", 0) == 0 && type == "log") {
                rows.push_back(json::parse(line.substr(6)));
            }
        }
        if (has_id) {
            rows_at_last_id = rows.size();
        }
    }
    std::size_t count() {
        std::lock_guard<std::mutex> lock(mutex);
        return rows.size();
    }
};

bool wait_until(std::chrono::milliseconds limit, const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

}  // namespace

TEST_SUITE("viewer") {
    TEST_CASE("log_viewer serves the page and its json endpoints with json errors") {
        const std::string prefix = unique_prefix("api");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(0, 25, prefix);
        viewer v(prefix);
        auto c = v.client();

        const auto page = c.Get("/");
        REQUIRE(page);
        CHECK(page->status == 200);
        CHECK(page->body.find("new EventSource") != std::string::npos);

        // Paging: every row once, newest first, through next_cursor.
        std::set<long long> ids;
        std::string cursor;
        int pages = 0;
        for (;; ++pages) {
            REQUIRE(pages < 10);
            const auto r = c.Get(("/api/logs?limit=10&logger=viewer.*" +
                                  (cursor.empty() ? std::string() : "&cursor=" + cursor))
                                     .c_str());
            REQUIRE(r);
            INFO(r->body);
            REQUIRE(r->status == 200);
            const json body = json::parse(r->body);
            for (const auto& row : body["rows"]) {
                CHECK(ids.insert(row["id"].get<long long>()).second);
                CHECK(row["fields"]["run"] == prefix);
            }
            cursor = body["next_cursor"].get<std::string>();
            if (cursor.empty())
                break;
            cursor = httplib::detail::encode_query_param(cursor);
        }
        CHECK(ids.size() == 25);
        CHECK(pages == 2);
        const json filtered = body_of(c.Get("/api/logs?level=error&field=seq%3D9"));
        REQUIRE(filtered["rows"].size() == 1);
        CHECK(filtered["rows"][0]["message"] == "record 9");

        // Bad input: 400 with a JSON error.
        for (const char* path :
             {"/api/logs?cursor=garbage", "/api/logs?since=yesterdayish", "/api/logs?limit=0",
              "/api/logs?level=loud", "/api/logs/stats?hours=0", "/api/logs/stream?level=loud"}) {
            const auto r = c.Get(path);
            REQUIRE(r);
            INFO(path << ": " << r->body);
            CHECK(r->status == 400);
            CHECK(json::parse(r->body).contains("error"));
        }

        const json stats = body_of(c.Get("/api/logs/stats?hours=1&bucket=5m"));
        CHECK(stats["total"] == 25);
        CHECK(stats["errors"] == 2);

        // Cleanup: a dry run counts, keep_days=0 wants all=1, then it deletes.
        const std::string table = pg_test::quote_ident(prefix + "_logs");
        const json dry = body_of(c.Delete("/api/logs/cleanup?keep_days=0&dry_run=1"));
        CHECK(dry["deleted"] == 25);
        CHECK(dry["dry_run"] == true);
        CHECK(pg_test::count(table) == 25);
        const auto unconfirmed = c.Delete("/api/logs/cleanup?keep_days=0");
        REQUIRE(unconfirmed);
        CHECK(unconfirmed->status == 400);
        CHECK(pg_test::count(table) == 25);
        const json kept = body_of(c.Delete("/api/logs/cleanup?keep_days=3"));
        CHECK(kept["deleted"] == 0);
        const json all = body_of(c.Delete("/api/logs/cleanup?keep_days=0&all=1"));
        CHECK(all["deleted"] == 25);
        CHECK(pg_test::count(table) == 0);
    }

    TEST_CASE("log_viewer sets and reads levels with PUT and GET") {
        const std::string prefix = unique_prefix("level");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(0, 1, prefix);
        viewer v(prefix);
        auto c = v.client();
        const auto put = c.Put("/api/logs/level", R"({"spec":"warn,db=trace","service":"web"})",
                               "application/json");
        REQUIRE(put);
        CHECK(put->status == 204);
        CHECK(body_of(c.Get("/api/logs/level?service=web"))["spec"] == "warn,db=trace");
        for (const char* bad : {R"({"spec":"warn,db=shouting","service":"web"})", "not json",
                                R"({"service":"web"})"}) {
            const auto r = c.Put("/api/logs/level", bad, "application/json");
            REQUIRE(r);
            INFO(bad << ": " << r->body);
            CHECK(r->status == 400);
        }
        CHECK(body_of(c.Get("/api/logs/level?service=web"))["spec"] == "warn,db=trace");
    }

    TEST_CASE("log_viewer answers 404 for a missing table and 503 when the database is down") {
        viewer missing(unique_prefix("missing"));
        auto c = missing.client();
        const auto r = c.Get("/api/logs");
        REQUIRE(r);
        CHECK(r->status == 404);
        CHECK(json::parse(r->body)["error"].get<std::string>().find("_logs") != std::string::npos);

        // A port where nothing listens.
        httplib::Server probe;
        const int port = probe.bind_to_any_port("127.0.0.1");
        probe.stop();
        viewer down("viewer_down", "postgresql://someone:hunter2secret@127.0.0.1:" +
                                       std::to_string(port) + "/db?connect_timeout=3");
        auto d = down.client();
        const auto r2 = d.Get("/api/logs/stats");
        REQUIRE(r2);
        CHECK(r2->status == 503);
        CHECK(r2->body.find("hunter2secret") == std::string::npos);
    }

    TEST_CASE("log_viewer streams each new record once and resumes with Last-Event-ID") {
        const std::string prefix = unique_prefix("stream");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(0, 1, prefix + "-before");
        viewer v(prefix);

        const std::string query = "field=run%3D" + prefix;  // = inside a value is encoded
        auto first = std::make_unique<sse_reader>(v, query, "");
        // The stream follows from when it starts: write warm-up records until one arrives.
        REQUIRE(wait_until(30s, [&] {
            spdlog_ext::log(w.logger, spdlog::level::info, {{"run", prefix}, {"warmup", true}},
                            "warm-up");
            REQUIRE(w.sink->flush_for(30s));
            return wait_until(300ms, [&] { return first->count() > 0; });
        }));
        std::thread logging([&] {
            for (int i = 0; i < 60; i += 5) {
                w.write(i, i + 5, prefix, false);
                std::this_thread::sleep_for(20ms);
            }
        });
        logging.join();
        REQUIRE(w.sink->flush_for(30s));
        // Stop the first stream part-way, after at least some records.
        REQUIRE(wait_until(30s, [&] { return first->count() > 10; }));
        first->close();
        // What a client keeps: the rows up to the last id (a batch cut short comes again).
        std::vector<json> seen(
            first->rows.begin(),
            first->rows.begin() + static_cast<std::ptrdiff_t>(first->rows_at_last_id));
        const std::string resume = first->last_id;
        REQUIRE_FALSE(resume.empty());
        // Written while no stream is open; the resumed stream must deliver them.
        w.write(60, 80, prefix);
        sse_reader second(v, query, resume);
        const auto count_records = [&] {
            std::lock_guard<std::mutex> lock(second.mutex);
            std::set<long long> seqs;
            for (const auto* rows : {&seen, &second.rows}) {
                for (const auto& row : *rows) {
                    if (row["fields"].contains("seq"))
                        seqs.insert(row["fields"]["seq"].get<long long>());
                }
            }
            return seqs.size();
        };
        CHECK(wait_until(30s, [&] { return count_records() == 80; }));
        // Wait for one more keepalive, then check nothing came twice.
        CHECK(wait_until(5s, [&] {
            std::lock_guard<std::mutex> l(second.mutex);
            return second.pings > 0;
        }));
        second.close();
        std::set<long long> ids;
        std::size_t records = 0;
        for (const auto* rows : {&seen, &second.rows}) {
            for (const auto& row : *rows) {
                CHECK(ids.insert(row["id"].get<long long>()).second);
                records += row["fields"].contains("seq") ? 1 : 0;
            }
        }
        CHECK(records == 80);
        CHECK(second.status == 200);
    }

    TEST_CASE("log_viewer refuses event streams beyond --max-streams with 503") {
        const std::string prefix = unique_prefix("cap");
        pg_test::table_cleanup cleanup({prefix});
        writer w(prefix);
        w.write(0, 1, prefix);
        viewer v(prefix);  // --max-streams 2
        sse_reader a(v, "", ""), b(v, "", "");
        REQUIRE(wait_until(10s, [&] { return a.status == 200 && b.status == 200; }));
        auto c = v.client();
        const auto third = c.Get("/api/logs/stream");
        REQUIRE(third);
        CHECK(third->status == 503);
        a.close();
        b.close();
    }
}
