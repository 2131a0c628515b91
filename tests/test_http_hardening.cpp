// The HTTP sinks' (Datadog, Slack, InfluxDB) settings checked at construction: plain http:// only
// to loopback or when allowed (with one warning), malformed URLs, CA bundles, timeouts; a server's
// Retry-After bounded; proxy credentials never quoted. Through the sink constructors and through
// the registry (LOG_BACKENDS), with fake servers.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "spdlog_ext/config_error.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#include "support/env_guard.h"
#include "support/fake_datadog_intake.h"
#include "support/fake_http_server.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The settings a test varies, for any of the three sinks.
struct http_settings {
    std::string url;
    bool allow_insecure_http = false;
    std::string ca_bundle;
    std::chrono::milliseconds timeout = 2s;
    std::chrono::milliseconds connect_timeout = 1s;
};

// One HTTP backend: how to build its sink from settings, and its variables.
struct backend_case {
    std::string name;     // as in LOG_BACKENDS
    std::string url_var;  // the variable naming the URL
    std::string prefix;   // LOG_<BACKEND>_
    std::string path;     // appended to a base URL
    std::function<std::shared_ptr<spdlog::sinks::sink>(const http_settings&)> make;
    // The variables it needs besides the URL (credentials).
    std::vector<std::pair<std::string, std::string>> required_env;
};

std::vector<backend_case> backends() {
    std::vector<backend_case> out;
    out.push_back({"datadog",
                   "LOG_DATADOG_URL",
                   "LOG_DATADOG_",
                   "/api/v2/logs",
                   [](const http_settings& s) {
                       spdlog_ext::datadog_config cfg;
                       cfg.api_key = "dd-key-SECRET";
                       cfg.url = s.url;
                       cfg.allow_insecure_http = s.allow_insecure_http;
                       cfg.ca_bundle = s.ca_bundle;
                       cfg.timeout = s.timeout;
                       cfg.connect_timeout = s.connect_timeout;
                       return std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
                   },
                   {{"DD_API_KEY", "dd-key-SECRET"}}});
    out.push_back({"slack",
                   "SLACK_WEBHOOK_URL",
                   "LOG_SLACK_",
                   "/services/T0/B0/hookSECRET",
                   [](const http_settings& s) {
                       spdlog_ext::slack_config cfg;
                       cfg.webhook_url = s.url;
                       cfg.allow_insecure_http = s.allow_insecure_http;
                       cfg.ca_bundle = s.ca_bundle;
                       cfg.timeout = s.timeout;
                       cfg.connect_timeout = s.connect_timeout;
                       return std::make_shared<spdlog_ext::slack_error_sink>(cfg);
                   },
                   {}});
    out.push_back({"influx",
                   "INFLUX_HOST",
                   "LOG_INFLUX_",
                   "",
                   [](const http_settings& s) {
                       spdlog_ext::influx_config cfg;
                       cfg.url = s.url;
                       cfg.token = "influx-token-SECRET";
                       cfg.org = "org";
                       cfg.bucket = "bucket";
                       cfg.allow_insecure_http = s.allow_insecure_http;
                       cfg.ca_bundle = s.ca_bundle;
                       cfg.timeout = s.timeout;
                       cfg.connect_timeout = s.connect_timeout;
                       return std::make_shared<spdlog_ext::influx_timeseries_sink>(cfg);
                   },
                   {{"INFLUX_TOKEN", "influx-token-SECRET"},
                    {"INFLUX_ORG", "org"},
                    {"INFLUX_BUCKET", "bucket"}}});
    return out;
}

// The backend's variables, cleared, then its required ones and the URL set.
test::env_guard backend_env(const backend_case& b, const std::string& url) {
    test::env_guard env;
    for (const char* v :
         {"DD_API_KEY", "DD_SITE", "SLACK_WEBHOOK_URL", "INFLUX_HOST", "INFLUX_TOKEN", "INFLUX_ORG",
          "INFLUX_BUCKET", "INFLUX_DATABASE", "LOG_INFLUX_API"}) {
        env.unset(v);
    }
    for (const char* option : {"URL", "CA_BUNDLE", "TIMEOUT", "CONNECT_TIMEOUT",
                               "ALLOW_INSECURE_HTTP", "FALLBACK", "LEVEL"}) {
        env.unset(b.prefix + option);
    }
    for (const auto& [name, value] : b.required_env) {
        env.set(name, value);
    }
    env.set(b.url_var, url);
    return env;
}

// The config_error building `b` with `s` throws; fails the test when none is thrown.
std::optional<spdlog_ext::config_error> error_from_ctor(const backend_case& b,
                                                        const http_settings& s) {
    try {
        auto sink = b.make(s);
        std::dynamic_pointer_cast<spdlog_ext::engine_sink>(sink)->shutdown(0ms);
    } catch (const spdlog_ext::config_error& e) {
        return e;
    }
    return std::nullopt;
}

std::optional<spdlog_ext::config_error> error_from_env(const backend_case& b) {
    try {
        (void)spdlog_ext::sinks_from_string(b.name, spdlog_ext::strictness::strict);
    } catch (const spdlog_ext::config_error& e) {
        return e;
    }
    return std::nullopt;
}

// Collects the registry's warnings for one test.
struct warning_log {
    std::vector<std::string> lines;
    warning_log() {
        spdlog_ext::set_warning_handler([this](const std::string& w) { lines.push_back(w); });
    }
    ~warning_log() { spdlog_ext::set_warning_handler(nullptr); }
};

// Redirects file descriptor 2 to a file for its lifetime; text() reads what was written.
class stderr_capture {
  public:
    stderr_capture()
        : path_(std::filesystem::temp_directory_path() /
                ("spdlog_ext_stderr_" + std::to_string(::getpid()))) {
        std::fflush(stderr);
        saved_ = ::dup(2);
        const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(fd, 2);
        ::close(fd);
    }
    ~stderr_capture() {
        restore();
        std::filesystem::remove(path_);
    }
    void restore() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            ::dup2(saved_, 2);
            ::close(saved_);
            saved_ = -1;
        }
    }
    std::string text() const {
        std::fflush(stderr);
        std::ifstream in(path_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

  private:
    std::filesystem::path path_;
    int saved_ = -1;
};

// Every proxy variable libcurl reads, unset.
test::env_guard no_proxy_env() {
    return test::env_guard{{"http_proxy", nullptr},  {"HTTP_PROXY", nullptr},
                           {"https_proxy", nullptr}, {"HTTPS_PROXY", nullptr},
                           {"all_proxy", nullptr},   {"ALL_PROXY", nullptr},
                           {"no_proxy", nullptr},    {"NO_PROXY", nullptr}};
}

int closed_port() {
    test::fake_http_server server;
    return server.port();
}  // the port is closed now

}  // namespace

TEST_SUITE("http") {
    TEST_CASE("plain http is refused for a non-loopback host unless allowed with one warning") {
        for (const auto& b : backends()) {
            CAPTURE(b.name);
            const std::string insecure = "http://example.com" + b.path;
            const std::string allow_var = b.prefix + "ALLOW_INSECURE_HTTP";
            warning_log warnings;
            // The constructor.
            http_settings s;
            s.url = insecure;
            const auto refused = error_from_ctor(b, s);
            REQUIRE(refused.has_value());
            CHECK(refused->variable() == b.url_var);
            CHECK(contains(refused->what(), b.url_var));
            CHECK(contains(refused->what(), allow_var));  // the fix
            CHECK_FALSE(contains(refused->what(), "SECRET"));
            for (const char* loopback : {"http://127.0.0.1:1", "http://localhost:1",
                                         "http://[::1]:1", "http://127.8.9.10:1"}) {
                s.url = loopback + b.path;
                CHECK_MESSAGE(!error_from_ctor(b, s), s.url);
            }
            s.url = "https://example.com" + b.path;
            CHECK_FALSE(error_from_ctor(b, s));
            CHECK(warnings.lines.empty());
            s.url = insecure;
            s.allow_insecure_http = true;
            CHECK_FALSE(error_from_ctor(b, s));
            REQUIRE(warnings.lines.size() == 1);
            CHECK(contains(warnings.lines[0], allow_var));
            CHECK(contains(warnings.lines[0], "http://example.com"));
            CHECK_FALSE(contains(warnings.lines[0], "SECRET"));  // nor the webhook's path

            // The registry.
            {
                auto env = backend_env(b, insecure);
                const auto from_env = error_from_env(b);
                REQUIRE(from_env.has_value());
                CHECK(from_env->variable() == b.url_var);
                CHECK(contains(from_env->what(), allow_var));
                env.set(allow_var, "true");
                CHECK_FALSE(error_from_env(b));
                CHECK(warnings.lines.size() == 2);
                env.set(allow_var, "false");
                env.set(b.url_var, "http://127.0.0.1:1" + b.path);
                CHECK_FALSE(error_from_env(b));
                CHECK(warnings.lines.size() == 2);
            }
        }
    }

    TEST_CASE("malformed URLs and CA bundles and timeouts are config errors at construction") {
        const auto dir = std::filesystem::temp_directory_path() /
                         ("spdlog_ext_cfg_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        const std::string missing = (dir / "missing.pem").string();
        for (const auto& b : backends()) {
            CAPTURE(b.name);
            const std::string good = "https://127.0.0.1:1" + b.path;
            http_settings s;
            s.url = good;
            CHECK_FALSE(error_from_ctor(b, s));

            // URLs libcurl cannot parse, or of another protocol.
            for (const std::string& bad :
                 {"https://exa mple.com" + b.path, "example.com" + b.path,
                  "ftp://example.com" + b.path, "https://example.com:99999" + b.path,
                  "https://[::1" + b.path}) {
                CAPTURE(bad);
                s.url = bad;
                const auto e = error_from_ctor(b, s);
                REQUIRE(e.has_value());
                CHECK(e->variable() == b.url_var);
                CHECK_FALSE(contains(e->what(), "SECRET"));
                auto env = backend_env(b, bad);
                const auto from_env = error_from_env(b);
                REQUIRE(from_env.has_value());
                CHECK(from_env->variable() == b.url_var);
            }
            s.url = good;

            // A CA bundle that is missing, or a directory.
            for (const std::string& bundle : {missing, dir.string()}) {
                CAPTURE(bundle);
                s.ca_bundle = bundle;
                const auto e = error_from_ctor(b, s);
                REQUIRE(e.has_value());
                CHECK(e->variable() == b.prefix + "CA_BUNDLE");
                CHECK(contains(e->what(), b.prefix + "CA_BUNDLE"));
                auto env = backend_env(b, good);
                env.set(b.prefix + "CA_BUNDLE", bundle);
                const auto from_env = error_from_env(b);
                REQUIRE(from_env.has_value());
                CHECK(from_env->variable() == b.prefix + "CA_BUNDLE");
            }
            s.ca_bundle.clear();

            // Timeouts of 0 (libcurl: no limit) or below.
            struct timeout_case {
                std::string option;
                std::chrono::milliseconds value;
            };
            for (const timeout_case& c : std::vector<timeout_case>{
                     {"TIMEOUT", 0ms}, {"TIMEOUT", -5ms}, {"CONNECT_TIMEOUT", 0ms}}) {
                const std::string option = c.option;
                CAPTURE(option);
                http_settings t = s;
                (option == "TIMEOUT" ? t.timeout : t.connect_timeout) = c.value;
                const auto e = error_from_ctor(b, t);
                REQUIRE(e.has_value());
                CHECK(e->variable() == b.prefix + option);
                CHECK(contains(e->what(), "positive"));
            }
            for (const char* option : {"TIMEOUT", "CONNECT_TIMEOUT"}) {
                auto env = backend_env(b, good);
                env.set(b.prefix + option, "0");
                const auto from_env = error_from_env(b);
                REQUIRE(from_env.has_value());
                CHECK(from_env->variable() == b.prefix + option);
            }
        }
        std::filesystem::remove_all(dir);
    }

    TEST_CASE("the Slack URL error states the rule") {
        spdlog_ext::slack_config cfg;
        cfg.webhook_url = "ftp://hooks.slack.com/services/T0/B0/hookSECRET";
        try {
            spdlog_ext::slack_error_sink sink(cfg);
            FAIL("an ftp:// webhook was accepted");
        } catch (const spdlog_ext::config_error& e) {
            const std::string what = e.what();
            CHECK(contains(what, "https://"));
            CHECK(contains(what, "loopback"));
            CHECK(contains(what, "LOG_SLACK_ALLOW_INSECURE_HTTP"));
            CHECK_FALSE(contains(what, "hookSECRET"));
        }
    }

    TEST_CASE("Retry-After 999999999 from the intake delays delivery only by RETRY_MAX_DELAY") {
        test::fake_datadog_intake intake;
        intake.set_faults([](const test::intake_request& r, const nlohmann::json&) {
            return r.index == 0 ? test::intake_fault::answer(429, "999999999")
                                : test::intake_fault{};
        });
        auto fallback = std::make_shared<test::capture_sink_mt>();
        auto env = test::env_guard{{"DD_API_KEY", "test-api-key"},
                                   {"DD_SITE", nullptr},
                                   {"LOG_DATADOG_URL", intake.url().c_str()},
                                   {"LOG_DATADOG_RETRY_MAX_DELAY", "300ms"},
                                   {"LOG_DATADOG_BATCH_MAX_DELAY", "20ms"},
                                   {"LOG_DATADOG_FALLBACK", "null"}};
        const auto sinks = spdlog_ext::sinks_from_string("datadog", spdlog_ext::strictness::strict);
        REQUIRE(sinks.size() == 1);
        auto sink = std::dynamic_pointer_cast<spdlog_ext::datadog_http_sink>(sinks[0]);
        REQUIRE(sink);
        spdlog::logger logger("retry-after", sink);
        for (int i = 0; i < 20; ++i) {
            logger.info("record {}", i);
        }
        const auto t0 = std::chrono::steady_clock::now();
        CHECK(sink->flush_for(15s));
        MESSAGE("delivered after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - t0)
                                          .count()
                                   << " ms");
        const auto requests = intake.requests();
        REQUIRE(requests.size() >= 2);
        CHECK(requests[0].status == 429);
        CHECK(requests[1].time - requests[0].time < 5s);
        const auto s = sink->stats();
        test::check_accounting(s, 20);
        CHECK(s.delivered == 20);
        CHECK(s.fallback == 0);
        CHECK(intake.item_count() == 20);
        sink->shutdown(1s);
    }

    TEST_CASE("proxy credentials never reach last_error or fallback records or stderr") {
        auto env = no_proxy_env();
        const std::string port = std::to_string(closed_port());
        spdlog_ext::datadog_config cfg;
        cfg.api_key = "test-api-key";
        cfg.url = "https://127.0.0.1:" + std::to_string(closed_port()) + "/api/v2/logs";
        cfg.timeout = 1s;
        cfg.connect_timeout = 500ms;
        cfg.engine.batch_max_delay = 10ms;
        cfg.engine.retry_initial = 10ms;
        cfg.engine.retry_max_delay = 20ms;
        cfg.engine.retry_max_attempts = 3;
        // A raw '@' in the password: libcurl cannot parse it (and its error quoted it whole).
        env.set("https_proxy", ("http://user:s3c@ret@127.0.0.1:" + port).c_str());
        try {
            spdlog_ext::datadog_http_sink sink(cfg);
            sink.shutdown(0ms);
            FAIL("an unparsable https_proxy was accepted");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "https_proxy");
            CHECK_FALSE(contains(e.what(), "s3c"));
            CHECK_FALSE(contains(e.what(), "ret@"));
        }
        // Well-formed: the errors (a refused proxy), the fallback (stderr: the default) and the
        // stats never show it.
        env.set("https_proxy", ("http://user:s3cret@127.0.0.1:" + port).c_str());
        stderr_capture captured;
        std::string last_error;
        std::string stats_json;
        {
            auto sink = std::make_shared<spdlog_ext::datadog_http_sink>(cfg);
            spdlog::logger logger("proxy", sink);
            for (int i = 0; i < 5; ++i) {
                logger.info("record {}", i);
            }
            sink->flush_for(10s);
            for (int i = 0; i < 500 && sink->stats().fallback < 5; ++i) {
                std::this_thread::sleep_for(10ms);
            }
            const auto s = sink->stats();
            test::check_accounting(s, 5);
            CHECK(s.fallback == 5);
            last_error = s.last_error;
            stats_json = s.to_json().dump();
            sink->shutdown(1s);
        }
        captured.restore();
        const std::string err = captured.text();
        CHECK_FALSE(last_error.empty());
        CHECK_MESSAGE(!contains(last_error, "s3cret"), last_error);
        CHECK_MESSAGE(!contains(stats_json, "s3cret"), stats_json);
        CHECK(contains(err, "fallback_reason"));  // the records did reach stderr
        CHECK_MESSAGE(!contains(err, "s3cret"), err);
    }
}
