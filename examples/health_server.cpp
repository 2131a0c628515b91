// health_server: serves the health and metrics of every engine-backed sink over HTTP, as a
// service would next to its own endpoints (docs/operating.md).
//   GET /metrics  spdlog_ext::prometheus_text(), Content-Type text/plain; version=0.0.4
//   GET /health   health().to_json(); 200 when ok or degraded, 503 when failing
//
//   ./health_server                     # 127.0.0.1:9464, with a demo sink
//   LOG_BACKENDS=datadog DD_API_KEY=... ./health_server 9464
//   HEALTH_SERVER_ADDRESS=0.0.0.0 HEALTH_SERVER_PORT=9464 ./health_server
// The port comes from argv[1], else HEALTH_SERVER_PORT, else 9464; the address from
// HEALTH_SERVER_ADDRESS, loopback by default (metrics name your sinks: expose them on purpose).
#include <httplib.h>
#include <spdlog_ext/health.h>
#include <spdlog_ext/spdlog_ext.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

// A demo backend so the example shows a sink without any service: it accepts every batch.
class accept_all_backend final : public spdlog_ext::backend {
  public:
    spdlog_ext::batch_result write(spdlog_ext::record_span,
                                   const spdlog_ext::write_context&) override {
        return spdlog_ext::batch_result::delivered();
    }
};

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string address = env_or("HEALTH_SERVER_ADDRESS", "127.0.0.1");
    const std::string port_text = argc > 1 ? argv[1] : env_or("HEALTH_SERVER_PORT", "9464");
    const int port = std::atoi(port_text.c_str());
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "health_server: '%s' is not a port (1-65535)\n", port_text.c_str());
        return 2;
    }

    std::shared_ptr<spdlog::logger> log;
    try {
        log = spdlog_ext::make_logger("health_server");  // the sinks of LOG_BACKENDS
        spdlog_ext::engine_config demo;
        demo.name = "demo";
        log->sinks().push_back(std::make_shared<spdlog_ext::engine_sink>(
            std::make_unique<accept_all_backend>(), std::move(demo)));
        (void)spdlog_ext::health();  // a malformed LOG_HEALTH_* stops us here, not at a scrape
    } catch (const spdlog_ext::config_error& e) {
        std::fprintf(stderr, "health_server: %s\n", e.what());
        return 2;
    }

    httplib::Server server;
    server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
        try {
            res.set_content(spdlog_ext::prometheus_text(), "text/plain; version=0.0.4");
        } catch (const std::exception& e) {
            res.status = 500;
            res.set_content(std::string(e.what()) + "\n", "text/plain");
        }
    });
    server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        try {
            const auto report = spdlog_ext::health();
            res.status = report.overall == spdlog_ext::health_verdict::failing ? 503 : 200;
            res.set_content(report.to_json().dump(2) + "\n", "application/json");
        } catch (const std::exception& e) {
            res.status = 500;
            res.set_content(std::string(e.what()) + "\n", "text/plain");
        }
    });

    // Something to count: one record a second.
    std::atomic<bool> stop{false};
    std::thread ticker([&] {
        for (int i = 0; !stop; ++i) {
            log->info("tick {}", i);
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    });

    std::printf("health_server: http://%s:%d/metrics and /health\n", address.c_str(), port);
    std::fflush(stdout);
    const bool ok = server.listen(address, port);
    stop = true;
    ticker.join();
    if (!ok) {
        std::fprintf(stderr, "health_server: cannot listen on %s:%d\n", address.c_str(), port);
        return 1;
    }
    return 0;
}
