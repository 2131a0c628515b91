#include <doctest/doctest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <unistd.h>

#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/features.h"
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

    TEST_CASE("strict mode: a malformed setting throws config_error naming the variable") {
        auto expect_error = [](const char* backends, const char* variable) {
            try {
                spdlog_ext::sinks_from_string(backends, spdlog_ext::strictness::strict);
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
        expect_error("null,kafka", "LOG_BACKENDS");  // an unknown name too
    }

    TEST_CASE("lenient (default): a broken backend is reported and the others are built") {
        warnings w;
        env_guard env{{"LOG_STRICT", nullptr}, {"LOG_FILE_MAX_SIZE", "lots"}};
        auto sinks = spdlog_ext::sinks_from_string("null,file");
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::null_sink_mt>(sinks[0]));
        REQUIRE(w.lines.size() == 1);
        CHECK(w.lines[0].find("'file'") != std::string::npos);
        CHECK(w.lines[0].find("LOG_FILE_MAX_SIZE") != std::string::npos);
        CHECK(w.lines[0].find("e.g. 1048576") != std::string::npos);  // the fix

        // A factory that throws anything, or returns no sink, is reported the same way.
        spdlog_ext::register_backend("throwing",
                                     [](const spdlog_ext::env_options&) -> spdlog::sink_ptr {
                                         throw std::runtime_error("cannot open the device");
                                     });
        spdlog_ext::register_backend(
            "empty", [](const spdlog_ext::env_options&) { return spdlog::sink_ptr{}; });
        w.lines.clear();
        sinks = spdlog_ext::sinks_from_string("throwing,null,empty");
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::null_sink_mt>(sinks[0]));
        REQUIRE(w.lines.size() == 2);
        CHECK(w.lines[0].find("cannot open the device") != std::string::npos);
        CHECK(w.lines[1].find("returned no sink") != std::string::npos);
    }

    TEST_CASE("a broken network backend does not take the console down") {
        // The README's sample with no DD_API_KEY, and a typo in a PostgreSQL engine option.
        warnings w;
        env_guard env{{"LOG_STRICT", nullptr},
                      {"DD_API_KEY", nullptr},
                      {"LOG_POSTGRES_BATCH_MAX_DELAY", "fast"},
                      {"LOG_POSTGRES_URL", "host=127.0.0.1 port=1 password=pg-secret-pw"}};
        std::string list = "console";
        std::size_t broken = 0;
#if SPDLOG_EXT_WITH_HTTP
        list += ",datadog";
        ++broken;
#endif
#if SPDLOG_EXT_WITH_POSTGRES
        list += ",postgres";
        ++broken;
#endif
        auto sinks = spdlog_ext::sinks_from_string(list);
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
        REQUIRE(w.lines.size() == broken);
        for (const auto& line : w.lines) {
            CHECK(line.find("pg-secret-pw") == std::string::npos);
        }
#if SPDLOG_EXT_WITH_HTTP
        CHECK(w.lines[0].find("DD_API_KEY") != std::string::npos);
#endif
#if SPDLOG_EXT_WITH_POSTGRES
        CHECK(w.lines.back().find("LOG_POSTGRES_BATCH_MAX_DELAY") != std::string::npos);
        CHECK(w.lines.back().find("'fast'") != std::string::npos);
#endif

        // make_logger: the same, and the console logs.
        env.set("LOG_BACKENDS", list.c_str());
        env.set("SPDLOG_LEVEL", "info");
        w.lines.clear();
        auto logger = spdlog_ext::make_logger("survivor");
        REQUIRE(logger->sinks().size() == 1);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(logger->sinks()[0]));
        CHECK(w.lines.size() == broken);
        CHECK(spdlog_ext::shutdown(2s));
    }

    TEST_CASE("LOG_BACKENDS: semicolons separate too + unknown names get a did-you-mean hint") {
        using v = std::vector<std::string>;
        CHECK(spdlog_ext::parse_backend_list("console;null") == v{"console", "null"});
        CHECK(spdlog_ext::parse_backend_list(" console ; null,file") ==
              v{"console", "null", "file"});
        auto sinks = spdlog_ext::sinks_from_string("console;null");
        REQUIRE(sinks.size() == 2);
        CHECK(is<spdlog::sinks::null_sink_mt>(sinks[1]));

        warnings w;
        sinks = spdlog_ext::sinks_from_string("null,consle,kafka,nul|file");
        CHECK(sinks.size() == 1);
        REQUIRE(w.lines.size() == 1);
        CHECK(w.lines[0].find("'consle' (did you mean 'console'?)") != std::string::npos);
        CHECK(w.lines[0].find("'kafka',") != std::string::npos);  // nothing near: no hint
        CHECK(w.lines[0].find("'nul|file' (separate backend names with ',')") != std::string::npos);
#if SPDLOG_EXT_WITH_POSTGRES
        w.lines.clear();
        (void)spdlog_ext::sinks_from_string("null,postgress");
        REQUIRE(!w.lines.empty());
        CHECK(w.lines[0].find("did you mean 'postgres'?") != std::string::npos);
#endif
    }

    TEST_CASE("nothing valid left: console with a warning") {
        warnings w;
        env_guard env{{"LOG_STRICT", nullptr}, {"LOG_FILE_PATH", ""}};
        for (const char* list : {"postgress", "kafka,elastic", "file"}) {
            INFO(list);
            w.lines.clear();
            auto sinks = spdlog_ext::sinks_from_string(list);
            REQUIRE(sinks.size() == 1);
            CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
            REQUIRE(w.lines.size() == 2);
            CHECK(w.lines[1].find("logging to 'console' instead") != std::string::npos);
        }
        // Even when the console's own settings are broken.
        env.set("LOG_CONSOLE_COLOR", "purple");
        w.lines.clear();
        auto sinks = spdlog_ext::sinks_from_string("console");
        REQUIRE(sinks.size() == 1);
        CHECK(is<spdlog::sinks::stdout_color_sink_mt>(sinks[0]));
        CHECK(w.lines.size() == 2);
        // make_logger never ends with no sink.
        env.set("LOG_BACKENDS", "postgress");
        auto logger = spdlog_ext::make_logger("no_sinkless");
        CHECK(logger->sinks().size() == 1);
        CHECK(spdlog_ext::shutdown(2s));
    }

    TEST_CASE("strict mode: the argument and LOG_STRICT=true throw - unset or false do not") {
        warnings w;
        env_guard env{{"LOG_STRICT", nullptr}, {"LOG_FILE_MAX_SIZE", "lots"}};
        CHECK(spdlog_ext::sinks_from_string("null,file").size() == 1);
        CHECK_THROWS_AS(spdlog_ext::sinks_from_string("null,file", spdlog_ext::strictness::strict),
                        spdlog_ext::config_error);
        for (const char* on : {"true", "1", "ON", " yes "}) {
            env.set("LOG_STRICT", on);
            CHECK_THROWS_AS(spdlog_ext::sinks_from_string("null,file"), spdlog_ext::config_error);
        }
        // The argument wins over LOG_STRICT.
        CHECK(spdlog_ext::sinks_from_string("null,file", spdlog_ext::strictness::lenient).size() ==
              1);
        env.set("LOG_BACKENDS", "null,file");
        CHECK_THROWS_AS(spdlog_ext::sinks_from_env(), spdlog_ext::config_error);
        CHECK_THROWS_AS(spdlog_ext::make_logger("strict_env"), spdlog_ext::config_error);
        CHECK(spdlog::get("strict_env") == nullptr);
        env.set("LOG_STRICT", "false");
        CHECK(spdlog_ext::sinks_from_env().size() == 1);
        CHECK_THROWS_AS(spdlog_ext::make_logger("strict_arg", spdlog_ext::strictness::strict),
                        spdlog_ext::config_error);
        // A value that is not a boolean: a warning, and lenient.
        env.set("LOG_STRICT", "maybe");
        w.lines.clear();
        CHECK(spdlog_ext::sinks_from_env().size() == 1);
        REQUIRE(w.lines.size() >= 1);
        CHECK(w.lines[0].find("LOG_STRICT") != std::string::npos);
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

    TEST_CASE("env_options: a duration over a year is refused in any unit - never wrapped") {
        spdlog_ext::env_options opts("t");
        // 3e12 h overflowed the milliseconds (checked before the unit): a negative duration.
        env_guard env{{"LOG_T_A", "3000000000000h"},
                      {"LOG_T_B", "8760h"},
                      {"LOG_T_C", "8761h"},
                      {"LOG_T_D", "525601m"}};
        CHECK_THROWS_AS(opts.get_duration("A", 0ms), spdlog_ext::config_error);
        CHECK(opts.get_duration("B", 0ms) == std::chrono::hours(8760));
        CHECK_THROWS_AS(opts.get_duration("C", 0ms), spdlog_ext::config_error);
        CHECK_THROWS_AS(opts.get_duration("D", 0ms), spdlog_ext::config_error);
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

    TEST_CASE("apply_engine: LOG_<BACKEND>_FALLBACK builds stdout - null - file - stderr") {
        const auto dir = temp_dir("fallback");
        env_guard env{{"LOG_FB_FALLBACK", " StdOut "}};
        const auto fallback_of = [] {
            spdlog_ext::engine_config cfg;
            cfg.fallback = std::make_shared<spdlog::sinks::null_sink_st>();  // replaced or kept
            spdlog_ext::env_options("fb").apply_engine(cfg);
            return cfg.fallback;
        };
        CHECK(is<spdlog::sinks::stdout_sink_mt>(fallback_of()));
        env.set("LOG_FB_FALLBACK", "NULL");
        CHECK(is<spdlog::sinks::null_sink_mt>(fallback_of()));
        const std::string path = (dir / "fallback.jsonl").string();
        env.set("LOG_FB_FALLBACK", "File:" + path);
        const auto file = fallback_of();
        REQUIRE(is<spdlog_ext::jsonl_file_sink_mt>(file));
        file->log(spdlog::details::log_msg("fb", spdlog::level::info, "to the fallback"));
        file->flush();
        CHECK(dynamic_cast<spdlog_ext::jsonl_file_sink_mt&>(*file).current_file() == path);
        CHECK(fs::exists(path));
        env.set("LOG_FB_FALLBACK", "stderr");
        CHECK(fallback_of() == nullptr);  // the engine's own stderr fallback
        env.set("LOG_FB_FALLBACK", nullptr);
        CHECK(is<spdlog::sinks::null_sink_st>(fallback_of()));  // unset: the config's own kept
        const std::pair<const char*, const char*> bad_values[] = {{"file:", "file:"},
                                                                  {" syslog ", "syslog"}};
        for (const auto& bad : bad_values) {
            env.set("LOG_FB_FALLBACK", bad.first);
            std::string what;
            try {
                (void)fallback_of();
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_FB_FALLBACK");
                what = e.what();
            }
            CHECK(what == "LOG_FB_FALLBACK: '" + std::string(bad.second) +
                              "' is not one of: stderr, stdout, null, file:<path>");
        }
        fs::remove_all(dir);
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
