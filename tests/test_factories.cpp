// The <sink>_logger_mt/_st factories and make_logger follow spdlog's global settings the way
// spdlog's own factories do (registry.h, at make_logger): level, SPDLOG_LEVEL per-logger levels,
// flush level, error handler, automatic registration.
#include <doctest/doctest.h>
#include <spdlog/cfg/env.h>
#include <spdlog/cfg/helpers.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <unistd.h>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/features.h"
#include "spdlog_ext/registry.h"
#include "support/env_guard.h"
#include "support/test_backends.h"

#if SPDLOG_EXT_WITH_POSTGRES
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#endif
#if SPDLOG_EXT_WITH_HTTP
#include "spdlog_ext/sinks/datadog_http_sink.h"
#include "spdlog_ext/sinks/influx_timeseries_sink.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#endif

using namespace std::chrono_literals;

namespace {

std::atomic<int> handler_calls{0};
void counting_handler(const std::string&) {
    ++handler_calls;
}

// Sets spdlog's global settings for one test and puts spdlog's defaults back afterwards.
struct spdlog_globals {
    spdlog_globals() {
        handler_calls = 0;
        spdlog::set_level(spdlog::level::debug);
        spdlog::flush_on(spdlog::level::warn);
        spdlog::set_error_handler(counting_handler);
    }
    ~spdlog_globals() {
        spdlog::set_error_handler(nullptr);
        spdlog::flush_on(spdlog::level::off);
        spdlog::set_automatic_registration(true);
        spdlog::cfg::helpers::load_levels("info");  // no per-logger levels, global info
        spdlog::set_level(spdlog::level::info);
        spdlog::set_pattern("%+");
    }
};

// A malformed format string: the logger hands the fmt error to its error handler.
void log_bad_format(spdlog::logger& logger) {
    logger.info(fmt::runtime("{} {}"), 1);
}

struct factory_case {
    const char* name;
    // Makes a logger with the factory; its one sink is an engine sink whose fallback is
    // `fallback` and whose backend cannot be reached.
    std::function<std::shared_ptr<spdlog::logger>(const std::string&,
                                                  std::shared_ptr<test::capture_sink_mt>)>
        make;
};

template <typename Config>
void unreachable_engine(Config& cfg, std::shared_ptr<test::capture_sink_mt> fallback) {
    cfg.engine.fallback = std::move(fallback);
    cfg.engine.retry_max_attempts = 1;
    cfg.engine.batch_max_delay = 1ms;
    cfg.engine.error_handler = [](const std::string&) {};  // "cannot connect": expected here
}

std::vector<factory_case> factories() {
    std::vector<factory_case> out;
#if SPDLOG_EXT_WITH_POSTGRES
    out.push_back({"postgres_logger_mt", [](const std::string& name, auto fallback) {
                       spdlog_ext::postgres_config cfg;
                       cfg.conninfo = "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::postgres_logger_mt(name, cfg);
                   }});
    out.push_back({"postgres_logger_st", [](const std::string& name, auto fallback) {
                       spdlog_ext::postgres_config cfg;
                       cfg.conninfo = "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::postgres_logger_st(name, cfg);
                   }});
#endif
#if SPDLOG_EXT_WITH_HTTP
    out.push_back({"datadog_logger_mt", [](const std::string& name, auto fallback) {
                       spdlog_ext::datadog_config cfg;
                       cfg.api_key = "factory-test-key";
                       cfg.url = "http://127.0.0.1:1/api/v2/logs";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::datadog_logger_mt(name, cfg);
                   }});
    out.push_back({"datadog_logger_st", [](const std::string& name, auto fallback) {
                       spdlog_ext::datadog_config cfg;
                       cfg.api_key = "factory-test-key";
                       cfg.url = "http://127.0.0.1:1/api/v2/logs";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::datadog_logger_st(name, cfg);
                   }});
    out.push_back({"slack_logger_mt", [](const std::string& name, auto fallback) {
                       spdlog_ext::slack_config cfg;
                       cfg.webhook_url = "http://127.0.0.1:1/services/T/B/x";
                       cfg.level = spdlog::level::trace;
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::slack_logger_mt(name, cfg);
                   }});
    out.push_back({"influx_logger_mt", [](const std::string& name, auto fallback) {
                       spdlog_ext::influx_config cfg;
                       cfg.url = "http://127.0.0.1:1";
                       cfg.token = "factory-test-token";
                       cfg.org = "o";
                       cfg.bucket = "b";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::influx_logger_mt(name, cfg);
                   }});
    out.push_back({"influx_logger_st", [](const std::string& name, auto fallback) {
                       spdlog_ext::influx_config cfg;
                       cfg.url = "http://127.0.0.1:1";
                       cfg.token = "factory-test-token";
                       cfg.org = "o";
                       cfg.bucket = "b";
                       unreachable_engine(cfg, fallback);
                       return spdlog_ext::influx_logger_st(name, cfg);
                   }});
#endif
    return out;
}

}  // namespace

TEST_SUITE("registry") {
    TEST_CASE("factories: spdlog's global level + flush level + error handler apply") {
        for (const auto& f : factories()) {
            INFO(f.name);
            spdlog_globals globals;
            auto fallback = std::make_shared<test::capture_sink_mt>();
            const std::string name = std::string("fx_") + f.name;
            auto logger = f.make(name, fallback);
            REQUIRE(logger);
            CHECK(logger->level() == spdlog::level::debug);
            CHECK(logger->flush_level() == spdlog::level::warn);
            CHECK(spdlog::get(name) == logger);  // registered, as spdlog's factories do
            log_bad_format(*logger);
            CHECK(handler_calls == 1);

            logger->debug("a debug record");
            REQUIRE(logger->sinks().size() == 1);
            auto engine = std::dynamic_pointer_cast<spdlog_ext::engine_sink>(logger->sinks()[0]);
            REQUIRE(engine);
            CHECK(engine->stats().enqueued == 1);  // the logger let it through to the sink
            engine->shutdown(5s);  // the backend is unreachable: the record ends in the fallback
            const auto got = fallback->records();
            REQUIRE(got.size() == 1);
            CHECK(got[0].message.find("a debug record") != std::string::npos);
            spdlog::drop(name);
        }
    }

    TEST_CASE("factories: SPDLOG_LEVEL per-logger levels + automatic registration off") {
        for (const auto& f : factories()) {
            INFO(f.name);
            spdlog_globals globals;
            spdlog::set_level(spdlog::level::info);
            test::env_guard env{{"SPDLOG_LEVEL", "warn,fx_chatty=trace"}};
            spdlog::cfg::load_env_levels();
            auto fallback = std::make_shared<test::capture_sink_mt>();
            auto chatty = f.make("fx_chatty", fallback);
            auto quiet = f.make("fx_quiet", fallback);
            CHECK(chatty->level() == spdlog::level::trace);
            CHECK(quiet->level() == spdlog::level::warn);
            spdlog::drop("fx_chatty");
            spdlog::drop("fx_quiet");

            spdlog::set_automatic_registration(false);
            auto unregistered = f.make("fx_unregistered", fallback);
            CHECK(spdlog::get("fx_unregistered") == nullptr);
            CHECK(unregistered->level() == spdlog::level::warn);  // the rest still applies
        }
    }

    TEST_CASE("make_logger: spdlog's flush level + error handler + level apply + formatters kept") {
        spdlog_globals globals;
        const auto dir = std::filesystem::temp_directory_path() /
                         ("spdlog_ext_factories_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        const auto path = dir / "app.jsonl";
        test::env_guard env{{"LOG_BACKENDS", "file"},
                            {"LOG_FILE_PATH", path.c_str()},
                            {"SPDLOG_LEVEL", nullptr},
                            {"LOG_STRICT", nullptr}};
        spdlog::set_pattern("plain %v");  // must not replace the file sink's JSON formatter
        auto logger = spdlog_ext::make_logger("ml_globals");
        CHECK(logger->level() == spdlog::level::debug);
        CHECK(logger->flush_level() == spdlog::level::warn);
        log_bad_format(*logger);
        CHECK(handler_calls == 1);
        logger->debug("a debug record");
        CHECK(spdlog_ext::shutdown(2s));
        logger.reset();
        std::ifstream in(path);
        std::string line;
        REQUIRE(std::getline(in, line));
        CHECK(line.rfind("{", 0) == 0);  // JSON, not "plain ..."
        CHECK(line.find("a debug record") != std::string::npos);
        in.close();
        std::filesystem::remove_all(dir);
    }
}
