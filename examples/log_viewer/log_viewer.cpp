// log_viewer: a small HTTP server (cpp-httplib) over postgres_log_store, with one static page.
//
//   LOG_POSTGRES_URL=postgresql://app@localhost/app ./log_viewer --listen 127.0.0.1:8080
//   then open http://127.0.0.1:8080/   (README.md: endpoints, flags)
//
// GET /api/logs, GET /api/logs/stats, GET /api/logs/stream (Server-Sent Events from
// postgres_log_store::tail), DELETE /api/logs/cleanup, GET and PUT /api/logs/level.
#include <spdlog_ext/postgres_log_store.h>
#include <spdlog_ext/sinks/postgres_batch_sink.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "log_viewer_index_html.h"
#include "viewer_params.h"

namespace {

using namespace std::chrono_literals;
using log_viewer::bad_request;
using nlohmann::json;

volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_stop_signal(int) {
    stop_signal = 1;
}

struct options {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string url, schema, table_prefix;
    std::size_t max_streams = 8;
    std::chrono::seconds ping{10};
    bool selftest = false;                   // POST/GET /api/selftest for the browser check
    std::chrono::milliseconds demo_every{};  // > 0: log a demo record this often
};

[[noreturn]] void usage(int rc) {
    std::fputs(
        "usage: log_viewer [--listen HOST:PORT] [--url URL] [--schema S] [--table-prefix P]\n"
        "                  [--max-streams N] [--ping-seconds N] [--demo-every-ms N] [--selftest]\n"
        "  --listen        address to serve on (default 127.0.0.1:8080; port 0 picks one)\n"
        "  --url ...       connection and table (default: LOG_POSTGRES_URL, DATABASE_URL, PG*,\n"
        "                  LOG_POSTGRES_SCHEMA, LOG_POSTGRES_TABLE_PREFIX)\n"
        "  --max-streams   concurrent /api/logs/stream clients (default 8; more get 503)\n"
        "  --ping-seconds  SSE keepalive comment interval (default 10)\n"
        "  --demo-every-ms log a demo record into the table this often (to try the page)\n"
        "  --selftest      enable /api/selftest (the page reports its live rows; for tests)\n",
        rc == 0 ? stdout : stderr);
    std::exit(rc);
}

options parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "log_viewer: %s needs a value\n", arg.c_str());
                usage(2);
            }
            return argv[++i];
        };
        try {
            if (arg == "--listen") {
                const std::string v = value();
                const auto colon = v.rfind(':');
                if (colon == std::string::npos)
                    usage(2);
                o.host = v.substr(0, colon);
                o.port = std::stoi(v.substr(colon + 1));
            } else if (arg == "--url") {
                o.url = value();
            } else if (arg == "--schema") {
                o.schema = value();
            } else if (arg == "--table-prefix") {
                o.table_prefix = value();
            } else if (arg == "--max-streams") {
                o.max_streams = std::stoul(value());
            } else if (arg == "--ping-seconds") {
                o.ping = std::chrono::seconds(std::max(1, std::stoi(value())));
            } else if (arg == "--demo-every-ms") {
                o.demo_every = std::chrono::milliseconds(std::stoi(value()));
            } else if (arg == "--selftest") {
                o.selftest = true;
            } else if (arg == "--help" || arg == "-h") {
                usage(0);
            } else {
                std::fprintf(stderr, "log_viewer: unknown argument %s\n", arg.c_str());
                usage(2);
            }
        } catch (const std::logic_error&) {  // stoi/stoul
            std::fprintf(stderr, "log_viewer: %s: not a number\n", arg.c_str());
            usage(2);
        }
    }
    return o;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, status, json{{"error", message}});
}

// Runs a handler body; store errors and bad parameters become JSON errors with a status.
template <typename Fn>
void guarded(httplib::Response& res, Fn&& fn) {
    using kind = spdlog_ext::store_error::kind;
    try {
        fn();
    } catch (const bad_request& e) {
        send_error(res, 400, e.what());
    } catch (const spdlog_ext::store_error& e) {
        switch (e.what_kind()) {
            case kind::bad_cursor:
            case kind::bad_filter:
            case kind::bad_level_spec:
                send_error(res, 400, e.what());
                break;
            case kind::missing_table:
                send_error(res, 404, e.what());
                break;
            case kind::connection:
                send_error(res, 503, e.what());
                break;
            default:
                send_error(res, 500, e.what());
        }
    } catch (const std::exception& e) {
        send_error(res, 500, e.what());
    }
}

json rows_json(const std::vector<spdlog_ext::log_row>& rows) {
    json out = json::array();
    for (const auto& row : rows) {
        out.push_back(row.to_json());
    }
    return out;
}

// Keeps count of the open event streams (the cap) for as long as one lives.
struct stream_slot {
    std::atomic<std::size_t>& active;
    explicit stream_slot(std::atomic<std::size_t>& a) : active(a) {}
    ~stream_slot() { --active; }
    stream_slot(const stream_slot&) = delete;
    stream_slot& operator=(const stream_slot&) = delete;
};

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_args(argc, argv);

    spdlog_ext::postgres_config cfg;
    try {
        cfg = spdlog_ext::postgres_config::from_env();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "log_viewer: configuration: %s\n", e.what());
        return 3;
    }
    if (!opt.url.empty())
        cfg.conninfo = opt.url;
    if (!opt.schema.empty())
        cfg.schema = opt.schema;
    if (!opt.table_prefix.empty())
        cfg.table_prefix = opt.table_prefix;

    std::unique_ptr<spdlog_ext::postgres_log_store> store;
    try {
        store = std::make_unique<spdlog_ext::postgres_log_store>(cfg);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "log_viewer: configuration: %s\n", e.what());
        return 3;
    }

    // Optional demo writer: the sink creates the table and issues the NOTIFY the stream follows.
    std::shared_ptr<spdlog_ext::postgres_batch_sink> demo_sink;
    std::thread demo_thread;
    std::atomic<bool> stopping{false};
    if (opt.demo_every.count() > 0) {
        spdlog_ext::postgres_config demo_cfg = cfg;
        demo_cfg.engine.batch_max_delay = std::chrono::milliseconds(50);
        demo_sink = std::make_shared<spdlog_ext::postgres_batch_sink>(demo_cfg);
        demo_thread = std::thread([&stopping, &opt, demo_sink] {
            spdlog::logger demo("log_viewer.demo", demo_sink);
            for (long n = 1; !stopping; ++n) {
                demo.info("demo record {}", n);
                std::this_thread::sleep_for(opt.demo_every);
            }
        });
    }

    httplib::Server svr;
    // Each open event stream holds a worker thread: room for the streams and the other requests.
    const std::size_t workers = opt.max_streams + 8;
    svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    std::atomic<std::size_t> active_streams{0};
    std::mutex selftest_mutex;
    json selftest_state = json::object();

    svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(log_viewer_index_html, "text/html; charset=utf-8");
    });

    svr.Get("/api/logs", [&](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            spdlog_ext::page_request request;
            request.filter = log_viewer::filter_of(req);
            const long long limit = log_viewer::number_of(req, "limit", 100);
            if (limit < 1 || limit > static_cast<long long>(spdlog_ext::max_page_rows)) {
                throw bad_request("limit: 1 to " + std::to_string(spdlog_ext::max_page_rows));
            }
            request.limit = static_cast<std::size_t>(limit);
            request.cursor = log_viewer::value_of(req, "cursor");
            const std::string order = log_viewer::value_of(req, "order");
            if (!order.empty() && order != "id" && order != "time") {
                throw bad_request("order: id or time");
            }
            request.order =
                order == "time" ? spdlog_ext::log_order::time : spdlog_ext::log_order::id;
            const auto page = store->query(request);
            send_json(res, 200,
                      json{{"rows", rows_json(page.rows)}, {"next_cursor", page.next_cursor}});
        });
    });

    svr.Get("/api/logs/stats", [&](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            const long long hours = log_viewer::number_of(req, "hours", 24);
            const long long top = log_viewer::number_of(req, "top", 10);
            if (hours < 1 || hours > 24 * 366 || top < 1 || top > 1000) {
                throw bad_request("hours: 1 to 8784, top: 1 to 1000");
            }
            const std::string bucket = log_viewer::value_of(req, "bucket");
            const auto width = bucket.empty() ? std::chrono::seconds(3600)
                                              : log_viewer::parse_duration(bucket, "bucket");
            const auto stats =
                store->stats(std::chrono::hours(hours), width, static_cast<std::size_t>(top));
            send_json(res, 200, stats.to_json());
        });
    });

    svr.Delete("/api/logs/cleanup", [&](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            if (!req.has_param("keep_days")) {
                throw bad_request("keep_days is required");
            }
            const long long keep_days = log_viewer::number_of(req, "keep_days", -1);
            const bool dry_run = log_viewer::value_of(req, "dry_run") == "1";
            if (keep_days < 0 || keep_days > 100000) {
                throw bad_request("keep_days: 0 or more");
            }
            if (keep_days == 0 && !dry_run && log_viewer::value_of(req, "all") != "1") {
                throw bad_request("keep_days=0 deletes every row: add all=1 to confirm");
            }
            const auto r = store->cleanup(static_cast<int>(keep_days), dry_run);
            send_json(res, 200, json{{"deleted", r.rows}, {"dry_run", r.dry_run}});
        });
    });

    svr.Get("/api/logs/level", [&](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            send_json(res, 200,
                      json{{"spec", store->get_levels(log_viewer::value_of(req, "service"),
                                                      log_viewer::value_of(req, "host"))}});
        });
    });

    svr.Put("/api/logs/level", [&](const httplib::Request& req, httplib::Response& res) {
        guarded(res, [&] {
            const json body = json::parse(req.body, nullptr, false);
            if (!body.is_object() || !body.contains("spec") || !body["spec"].is_string()) {
                throw bad_request(
                    "body: {\"spec\": \"info,db=debug\", \"service\": \"\", \"host\": \"\"}");
            }
            const auto text = [&](const char* key) {
                return body.contains(key) && body[key].is_string() ? body[key].get<std::string>()
                                                                   : std::string();
            };
            store->set_levels(body["spec"].get<std::string>(), text("service"), text("host"));
            res.status = 204;
        });
    });

    svr.Get("/api/logs/stream", [&](const httplib::Request& req, httplib::Response& res) {
        spdlog_ext::tail_options tail;
        try {
            tail.filter = log_viewer::filter_of(req);
        } catch (const bad_request& e) {
            send_error(res, 400, e.what());
            return;
        }
        // EventSource sends the last id it saw on reconnect: the tail cursor, so nothing is lost.
        tail.resume = req.get_header_value("Last-Event-ID");
        if (tail.resume.empty()) {
            tail.resume = log_viewer::value_of(req, "last_event_id");
        }
        tail.poll_interval = std::chrono::milliseconds(500);
        if (++active_streams > opt.max_streams) {
            --active_streams;
            send_error(
                res, 503,
                "too many open streams (--max-streams " + std::to_string(opt.max_streams) + ")");
            return;
        }
        auto slot = std::make_shared<stream_slot>(active_streams);
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering", "no");
        res.set_chunked_content_provider(
            "text/event-stream", [&, tail, slot](std::size_t, httplib::DataSink& sink) {
                bool open = true;
                auto last_write = std::chrono::steady_clock::now();
                const auto write = [&](const std::string& text) {
                    open = open && sink.write(text.data(), text.size());
                    last_write = std::chrono::steady_clock::now();
                };
                write(": connected\nretry: 1000\n\n");
                try {
                    spdlog_ext::postgres_log_store stream_store(cfg);  // its own connection
                    stream_store.tail(
                        tail,
                        [&](const std::vector<spdlog_ext::log_row>& rows,
                            const std::string& cursor) {
                            std::string out;
                            for (std::size_t i = 0; i < rows.size(); ++i) {
                                out += "event: log\n";
                                if (i + 1 == rows.size()) {
                                    out += "id: " + cursor + "\n";
                                }
                                out += "data: " +
                                       rows[i].to_json().dump(-1, ' ', false,
                                                              json::error_handler_t::replace) +
                                       "\n\n";
                            }
                            if (rows.empty()) {
                                out = "id: " + cursor + "\n\n";  // moves Last-Event-ID only
                            }
                            write(out);
                        },
                        [&] {
                            if (open && std::chrono::steady_clock::now() - last_write >= opt.ping) {
                                write(": ping\n\n");
                            }
                            return open && !stopping && sink.is_writable();
                        });
                } catch (const std::exception& e) {
                    // The status line is gone already: the error travels as an event.
                    write("event: fault\ndata: " +
                          json{{"error", e.what()}}.dump(-1, ' ', false,
                                                         json::error_handler_t::replace) +
                          "\n\n");
                }
                if (open) {
                    sink.done();
                }
                return open;
            });
    });

    if (opt.selftest) {
        svr.Post("/api/selftest", [&](const httplib::Request& req, httplib::Response& res) {
            const json body = json::parse(req.body, nullptr, false);
            if (!body.is_object()) {
                send_error(res, 400, "expected a JSON object");
                return;
            }
            std::lock_guard<std::mutex> lock(selftest_mutex);
            selftest_state = body;
            res.status = 204;
        });
        svr.Get("/api/selftest", [&](const httplib::Request&, httplib::Response& res) {
            std::lock_guard<std::mutex> lock(selftest_mutex);
            send_json(res, 200, selftest_state);
        });
    }

    int port = opt.port;
    if (port == 0) {
        port = svr.bind_to_any_port(opt.host);
    } else if (!svr.bind_to_port(opt.host, port)) {
        port = -1;
    }
    if (port < 0) {
        std::fprintf(stderr, "log_viewer: cannot listen on %s:%d\n", opt.host.c_str(), opt.port);
        return 1;
    }
    std::printf("log_viewer: listening on http://%s:%d/\n", opt.host.c_str(), port);
    std::fflush(stdout);

    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::thread watcher([&] {
        while (stop_signal == 0) {
            std::this_thread::sleep_for(100ms);
        }
        stopping = true;
        svr.stop();
    });
    svr.listen_after_bind();
    stopping = true;
    stop_signal = 1;
    watcher.join();
    if (demo_thread.joinable()) {
        demo_thread.join();
        demo_sink->flush_for(5s);
    }
    return 0;
}
