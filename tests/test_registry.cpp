#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

#include <unistd.h>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"
#include "support/env_guard.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using test::env_guard;

// Collects registry warnings for the duration of a test.
struct warnings {
    std::mutex mu;
    std::vector<std::string> lines;
    warnings() {
        spdlog_ext::set_warning_handler([this](const std::string& w) {
            std::lock_guard<std::mutex> lock(mu);
            lines.push_back(w);
        });
    }
    ~warnings() { spdlog_ext::set_warning_handler(nullptr); }
};

fs::path temp_dir(const std::string& name) {
    auto dir = fs::temp_directory_path() /
               ("spdlog_ext_registry_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

template <typename T>
bool is(const spdlog::sink_ptr& sink) {
    return dynamic_cast<T*>(sink.get()) != nullptr;
}

}  // namespace

TEST_SUITE("registry") {
    TEST_CASE("LOG_BACKENDS parsing: case + spaces + empty items + duplicates") {
        using v = std::vector<std::string>;
        CHECK(spdlog_ext::parse_backend_list("console,file") == v{"console", "file"});
        CHECK(spdlog_ext::parse_backend_list(" Console , FILE,,file, console ") ==
              v{"console", "file"});
        CHECK(spdlog_ext::parse_backend_list("") == v{});
        CHECK(spdlog_ext::parse_backend_list(" , ,, ") == v{});
        CHECK(spdlog_ext::parse_backend_list("NULL") == v{"null"});
        CHECK(spdlog_ext::parse_backend_list("con sole") == v{"console"});  // spaces ignored
        CHECK(spdlog_ext::parse_backend_list("\tstderr\n") == v{"stderr"});
    }

    TEST_CASE("built-in backends build their sinks") {
        const auto dir = temp_dir("builtin");
        env_guard env{{"LOG_FILE_PATH", (dir / "app.jsonl").c_str()}};
        auto sinks = spdlog_ext::sinks_from_string("console, stderr, file, null");
        REQUIRE(sinks.size() == 4);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
        CHECK(is<spdlog::sinks::stderr_color_sink_mt>(sinks[1]));
        CHECK(is<spdlog_ext::jsonl_file_sink_mt>(sinks[2]));
        CHECK(is<spdlog::sinks::null_sink_mt>(sinks[3]));
        fs::remove_all(dir);
    }

    TEST_CASE("unset or blank LOG_BACKENDS means console") {
        env_guard env{{"LOG_BACKENDS", nullptr}};
        auto sinks = spdlog_ext::sinks_from_env();
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
        env.set("LOG_BACKENDS", "  ");
        sinks = spdlog_ext::sinks_from_env();
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
        env.set("LOG_BACKENDS", "null");
        sinks = spdlog_ext::sinks_from_env();
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::null_sink_mt>(sinks[0]));
    }

    TEST_CASE("an unknown backend: one warning naming the known ones - the others are built") {
        warnings w;
        auto sinks = spdlog_ext::sinks_from_string("null,elastic,console,kafka");
        CHECK(sinks.size() == 2);
        REQUIRE(w.lines.size() == 1);
        const auto& line = w.lines[0];
        CHECK(line.find("elastic") != std::string::npos);
        CHECK(line.find("kafka") != std::string::npos);
        for (const auto& known : spdlog_ext::registered_backends()) {
            CHECK_MESSAGE(line.find(known) != std::string::npos, known);
        }
    }

    TEST_CASE("register_backend: a custom backend is usable from LOG_BACKENDS at once") {
        auto custom = std::make_shared<spdlog::sinks::null_sink_mt>();
        int built = 0;
        spdlog_ext::register_backend("My_Custom", [&](const spdlog_ext::env_options& env) {
            ++built;
            CHECK(env.variable("URL") == "LOG_MY_CUSTOM_URL");
            return custom;
        });
        env_guard env{{"LOG_BACKENDS", "my_custom"}};
        auto sinks = spdlog_ext::sinks_from_env();
        REQUIRE(sinks.size() == 1);
        CHECK(sinks[0] == custom);
        CHECK(built == 1);
        CHECK_THROWS_AS(
            spdlog_ext::register_backend("bad name", [](const auto&) { return nullptr; }),
            std::invalid_argument);
        CHECK_THROWS_AS(spdlog_ext::register_backend("x", nullptr), std::invalid_argument);
    }

    TEST_CASE("a malformed setting throws config_error naming the variable") {
        auto expect_error = [](const char* backends, const char* variable) {
            try {
                spdlog_ext::sinks_from_string(backends);
                FAIL("no config_error for " << variable);
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == variable);
                CHECK(std::string(e.what()).find(variable) != std::string::npos);
            }
        };
        {
            env_guard env{{"LOG_FILE_MAX_SIZE", "lots"}};
            expect_error("file", "LOG_FILE_MAX_SIZE");
        }
        {
            env_guard env{{"LOG_FILE_WEEKLY", "maybe"}};
            expect_error("file", "LOG_FILE_WEEKLY");
        }
        {
            env_guard env{{"LOG_FILE_PATH", ""}};
            expect_error("file", "LOG_FILE_PATH");
        }
        {
            env_guard env{{"LOG_NULL_LEVEL", "loud"}};
            expect_error("null", "LOG_NULL_LEVEL");
        }
        {
            env_guard env{{"LOG_CONSOLE_COLOR", "purple"}};
            expect_error("console", "LOG_CONSOLE_COLOR");
        }
    }

    TEST_CASE("a misspelt LOG_<BACKEND>_ variable gets a warning") {
        warnings w;
        env_guard env{{"LOG_NULL_LEVL", "info"}};
        spdlog_ext::sinks_from_string("null");
        REQUIRE(w.lines.size() == 1);
        CHECK(w.lines[0].find("LOG_NULL_LEVL") != std::string::npos);
    }

    TEST_CASE("LOG_<BACKEND>_LEVEL and _PATTERN apply to any backend") {
        spdlog_ext::register_backend("capture", [](const spdlog_ext::env_options&) {
            return std::make_shared<test::capture_sink_mt>();
        });
        env_guard env{{"LOG_CAPTURE_LEVEL", "warn"}, {"LOG_CAPTURE_PATTERN", "%l:%v%*"}};
        auto sinks = spdlog_ext::sinks_from_string("capture");
        REQUIRE(sinks.size() == 1);
        CHECK(sinks[0]->level() == spdlog::level::warn);
        spdlog::logger logger("lvl", sinks[0]);
        logger.info("hidden");
        logger.warn("shown");
        auto* capture = dynamic_cast<test::capture_sink_mt*>(sinks[0].get());
        REQUIRE(capture != nullptr);
        auto got = capture->records();
        REQUIRE(got.size() == 1);
        CHECK(got[0].message == "shown");
    }

    TEST_CASE("LOG_<BACKEND>_PATTERN formats an engine sink's message - the logger's does not") {
        auto seen = std::make_shared<test::backend_log>();
        spdlog_ext::register_backend("pattern_test", [&](const spdlog_ext::env_options& env) {
            spdlog_ext::engine_config cfg;
            env.apply_engine(cfg);
            return std::make_shared<spdlog_ext::engine_sink>(
                std::make_unique<test::scripted_backend>(seen), cfg);
        });
        env_guard env{{"LOG_PATTERN_TEST_PATTERN", "%l:%v%*"}};
        auto sinks = spdlog_ext::sinks_from_string("pattern_test");
        REQUIRE(sinks.size() == 1);
        spdlog::logger logger("pattern_user", sinks[0]);
        logger.set_pattern("%^[%l]%$ %v");  // the console's: must not replace the sink's
        logger.warn("shown");
        auto* sink = dynamic_cast<spdlog_ext::engine_sink*>(sinks[0].get());
        REQUIRE(sink != nullptr);
        REQUIRE(sink->flush_for(5s));
        CHECK(seen->delivered_copy() == std::vector<std::string>{"warning:shown"});
        sink->shutdown(1s);
    }

    TEST_CASE("env_options: sizes + durations + booleans + enums") {
        spdlog_ext::env_options opts("t");
        env_guard env{{"LOG_T_A", "10MB"},  {"LOG_T_B", "512k"}, {"LOG_T_C", "1GiB"},
                      {"LOG_T_D", "250ms"}, {"LOG_T_E", "2s"},   {"LOG_T_F", "5m"},
                      {"LOG_T_G", "100"},   {"LOG_T_H", "On"},   {"LOG_T_I", "12x"}};
        CHECK(opts.get_bytes("A", 0) == 10u << 20);
        CHECK(opts.get_bytes("B", 0) == 512u << 10);
        CHECK(opts.get_bytes("C", 0) == 1u << 30);
        CHECK(opts.get_duration("D", 0ms) == 250ms);
        CHECK(opts.get_duration("E", 0ms) == 2000ms);
        CHECK(opts.get_duration("F", 0ms) == 300000ms);
        CHECK(opts.get_duration("G", 0ms) == 100ms);
        CHECK(opts.get_size("G", 0) == 100);
        CHECK(opts.get_bool("H", false));
        CHECK(opts.get_size("MISSING", 7) == 7);
        CHECK_THROWS_AS(opts.get_size("I", 0), spdlog_ext::config_error);
        CHECK_THROWS_AS(opts.get_bytes("I", 0), spdlog_ext::config_error);
        CHECK_THROWS_AS(opts.get_duration("I", 0ms), spdlog_ext::config_error);
        CHECK_THROWS_AS(opts.get_size("A", 0), spdlog_ext::config_error);  // units not allowed
    }

    TEST_CASE("apply_engine reads every engine option through the one mapping") {
        env_guard env{{"LOG_ENG_QUEUE_MAX_RECORDS", "5000"}, {"LOG_ENG_QUEUE_MAX_BYTES", "8MB"},
                      {"LOG_ENG_OVERFLOW", "Drop_Oldest"},   {"LOG_ENG_BLOCK_TIMEOUT", "1s"},
                      {"LOG_ENG_BATCH_MAX_RECORDS", "250"},  {"LOG_ENG_BATCH_MAX_BYTES", "256k"},
                      {"LOG_ENG_BATCH_MAX_DELAY", "2s"},     {"LOG_ENG_RETRY_INITIAL", "50ms"},
                      {"LOG_ENG_RETRY_MAX_DELAY", "10s"},    {"LOG_ENG_RETRY_MAX_ATTEMPTS", "7"},
                      {"LOG_ENG_RETRY_MAX_ELAPSED", "1m"},   {"LOG_ENG_FLUSH_TIMEOUT", "3s"},
                      {"LOG_ENG_SHUTDOWN_TIMEOUT", "4s"},    {"LOG_ENG_FALLBACK", "null"}};
        spdlog_ext::engine_config cfg;
        spdlog_ext::env_options("eng").apply_engine(cfg);
        CHECK(cfg.name == "eng");
        CHECK(cfg.queue_max_records == 5000);
        CHECK(cfg.queue_max_bytes == 8u << 20);
        CHECK(cfg.overflow == spdlog_ext::overflow_policy::drop_oldest);
        CHECK(cfg.block_timeout == 1s);
        CHECK(cfg.batch_max_records == 250);
        CHECK(cfg.batch_max_bytes == 256u << 10);
        CHECK(cfg.batch_max_delay == 2s);
        CHECK(cfg.retry_initial == 50ms);
        CHECK(cfg.retry_max_delay == 10s);
        CHECK(cfg.retry_max_attempts == 7);
        CHECK(cfg.retry_max_elapsed == 60s);
        CHECK(cfg.flush_timeout == 3s);
        CHECK(cfg.shutdown_timeout == 4s);
        CHECK(is<spdlog::sinks::null_sink_mt>(cfg.fallback));

        env.set("LOG_ENG_OVERFLOW", "sometimes");
        try {
            spdlog_ext::env_options("eng").apply_engine(cfg);
            FAIL("expected config_error");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "LOG_ENG_OVERFLOW");
            CHECK(std::string(e.what()).find("drop_oldest") != std::string::npos);
        }
        env.set("LOG_ENG_OVERFLOW", nullptr);
        env.set("LOG_ENG_BATCH_MAX_RECORDS", "0");
        CHECK_THROWS_AS(spdlog_ext::env_options("eng").apply_engine(cfg), spdlog_ext::config_error);
    }

    TEST_CASE("make_logger: shared sinks + SPDLOG_LEVEL levels + formatters kept + shutdown") {
        const auto dir = temp_dir("make_logger");
        const auto path = dir / "app.jsonl";
        env_guard env{{"LOG_BACKENDS", "file"},
                      {"LOG_FILE_PATH", path.c_str()},
                      {"SPDLOG_LEVEL", "warn,chatty=debug"}};
        auto a = spdlog_ext::make_logger("quiet");
        auto b = spdlog_ext::make_logger("chatty");
        CHECK(spdlog_ext::make_logger("quiet") == a);
        CHECK(spdlog::get("quiet") == a);
        REQUIRE(a->sinks().size() == 1);
        CHECK(a->sinks()[0] == b->sinks()[0]);  // one sink instance for all loggers
        CHECK(a->level() == spdlog::level::warn);
        CHECK(b->level() == spdlog::level::debug);
        {
            spdlog_ext::scoped_fields f{{"k", 1}};
            a->info("dropped by level");
            a->warn("kept");
            b->debug("debug kept");
        }
        CHECK(spdlog_ext::shutdown(2s));
        CHECK(spdlog::get("quiet") == nullptr);
        a.reset();
        b.reset();
        std::ifstream in(path);
        std::vector<nlohmann::json> lines;
        for (std::string line; std::getline(in, line);) {
            lines.push_back(nlohmann::json::parse(line));  // JSON: the formatter was kept
        }
        REQUIRE(lines.size() == 2);
        CHECK(lines[0]["message"] == "kept");
        CHECK(lines[0]["logger"] == "quiet");
        CHECK(lines[0]["fields"]["k"] == 1);
        CHECK(lines[1]["message"] == "debug kept");
        fs::remove_all(dir);
        spdlog::set_level(spdlog::level::info);  // SPDLOG_LEVEL set spdlog's global level
    }

    TEST_CASE("shutdown stops engine sinks built by the registry") {
        auto seen = std::make_shared<test::backend_log>();
        auto fallback = std::make_shared<test::capture_sink_mt>();
        std::weak_ptr<spdlog_ext::engine_sink> weak;
        spdlog_ext::register_backend("engine_test", [&](const spdlog_ext::env_options& env) {
            spdlog_ext::engine_config cfg;
            env.apply_engine(cfg);
            cfg.fallback = fallback;
            auto sink = std::make_shared<spdlog_ext::engine_sink>(
                std::make_unique<test::scripted_backend>(seen), cfg);
            weak = sink;
            return sink;
        });
        env_guard env{{"LOG_BACKENDS", "engine_test"},
                      {"LOG_ENGINE_TEST_BATCH_MAX_DELAY", "1h"},
                      {"SPDLOG_LEVEL", "info"}};
        auto logger = spdlog_ext::make_logger("engine_user");
        for (int i = 0; i < 10; ++i) {
            logger->info("r #{}", i);
        }
        CHECK(spdlog_ext::shutdown(5s));  // drains what max_delay would have held for an hour
        CHECK(seen->delivered_copy().size() == 10);
        auto sink = weak.lock();
        REQUIRE(sink);
        const auto s = sink->stats();
        CHECK(s.delivered == 10);
        logger->info("after shutdown");
        CHECK(sink->stats().fallback == 1);
    }
}
