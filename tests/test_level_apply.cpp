// Applying runtime levels: spdlog's registry behaviour the watcher relies on, and a level watcher
// over a spec file (LOG_LEVELS_FILE) changing registered loggers, loggers created later and
// attached ones; invalid specs and garbage files change nothing and are reported once.
#include <doctest/doctest.h>
#include <spdlog/details/registry.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "config/levels/level_apply.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/runtime_levels.h"
#include "support/env_guard.h"

using namespace std::chrono_literals;
using spdlog::level::level_enum;
namespace fs = std::filesystem;

namespace {

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

std::shared_ptr<spdlog::logger> new_logger(const std::string& name) {
    auto logger =
        std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
    spdlog::initialize_logger(logger);  // registers it with the registry's current levels
    return logger;
}

// Leaves spdlog's registry as the tests found it: no stored levels, global info, no test loggers.
struct registry_reset {
    std::vector<std::string> names;
    explicit registry_reset(std::vector<std::string> n) : names(std::move(n)) { reset(); }
    ~registry_reset() { reset(); }
    void reset() {
        for (const auto& name : names)
            spdlog::drop(name);
        auto info = level_enum::info;
        spdlog::details::registry::instance().set_levels({}, &info);
    }
};

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
    std::size_t count_with(const std::string& needle) {
        std::lock_guard<std::mutex> lock(mu);
        std::size_t n = 0;
        for (const auto& l : lines)
            n += l.find(needle) != std::string::npos ? 1 : 0;
        return n;
    }
};

struct temp_file {
    fs::path path;
    explicit temp_file(const std::string& name)
        : path(fs::temp_directory_path() /
               ("spdlog_ext_levels_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove(path);
    }
    ~temp_file() {
        std::error_code ec;
        fs::remove(path, ec);
        fs::remove(fs::path(path.string() + ".tmp"), ec);
    }
    void write(const std::string& text) const { std::ofstream(path, std::ios::trunc) << text; }
    // As editors save: a new file renamed over the old one (a new inode).
    void replace(const std::string& text) const {
        const fs::path tmp(path.string() + ".tmp");
        std::ofstream(tmp, std::ios::trunc) << text;
        fs::rename(tmp, path);
    }
};

spdlog_ext::level_watcher_options file_options(const temp_file& file) {
    spdlog_ext::level_watcher_options o;
    o.file = file.path.string();
    o.file_check = 10ms;
    return o;
}

}  // namespace

TEST_SUITE("levels") {
    // The watcher relies on both: if a spdlog release changes them, this fails first.
    TEST_CASE("spdlog set_levels stores levels for later loggers and drops unnamed ones") {
        registry_reset reset({"lv_db", "lv_web", "lv_late"});
        auto db = new_logger("lv_db");
        auto web = new_logger("lv_web");
        spdlog_ext::detail::effective_levels levels;
        levels.global = level_enum::warn;
        levels.loggers["lv_db"] = level_enum::debug;
        levels.loggers["lv_late"] = level_enum::trace;
        spdlog_ext::detail::apply_levels(levels, {});
        CHECK(db->level() == level_enum::debug);
        CHECK(web->level() == level_enum::warn);
        auto late = new_logger("lv_late");
        CHECK(late->level() == level_enum::trace);
        // Without lv_db in the map, lv_db returns to the global level.
        levels.loggers.erase("lv_db");
        spdlog_ext::detail::apply_levels(levels, {});
        CHECK(db->level() == level_enum::warn);
        CHECK(late->level() == level_enum::trace);
    }

    TEST_CASE("the spec overlays the baseline") {
        spdlog_ext::detail::level_baseline baseline;
        baseline.global = level_enum::info;
        baseline.loggers["a"] = level_enum::trace;
        const auto spec = spdlog_ext::parse_level_spec("b=err");
        REQUIRE(spec);
        const auto levels = spdlog_ext::detail::overlay(baseline, *spec);
        CHECK(levels.global == level_enum::info);
        CHECK(levels.for_logger("a") == level_enum::trace);
        CHECK(levels.for_logger("b") == level_enum::err);
        CHECK(levels.for_logger("c") == level_enum::info);
        const auto all =
            spdlog_ext::detail::overlay(baseline, *spdlog_ext::parse_level_spec("off,a=debug"));
        CHECK(all.for_logger("a") == level_enum::debug);
        CHECK(all.for_logger("c") == level_enum::off);
    }

    TEST_CASE("a spec file changes registered loggers and loggers created later") {
        registry_reset reset({"lf_db", "lf_web", "lf_late", "lf_later"});
        temp_file file("apply");
        file.write("warn,lf_db=debug\n");
        auto db = new_logger("lf_db");
        auto web = new_logger("lf_web");
        auto watcher = spdlog_ext::level_watcher::start(file_options(file));
        REQUIRE(eventually([&] { return watcher->current_spec() == "warning,lf_db=debug"; }));
        CHECK(db->level() == level_enum::debug);
        CHECK(web->level() == level_enum::warn);
        auto late = new_logger("lf_late");
        CHECK(late->level() == level_enum::warn);

        // Dropping lf_db=debug returns lf_db to the global level.
        file.write("err\n");
        REQUIRE(eventually([&] { return watcher->current_spec() == "error"; }));
        CHECK(db->level() == level_enum::err);
        CHECK(web->level() == level_enum::err);
        CHECK(late->level() == level_enum::err);
        // make_logger's loggers too (its load_env_levels must not undo the spec).
        {
            test::env_guard env({{"LOG_BACKENDS", "null"}, {"SPDLOG_LEVEL", nullptr}});
            auto made = spdlog_ext::make_logger("lf_later");
            CHECK(made->level() == level_enum::err);
            spdlog_ext::shutdown(1s);
        }

        // An empty file: back to the baseline (info).
        file.write("# nothing for now\n");
        REQUIRE(eventually([&] { return watcher->current_spec().empty(); }));
        CHECK(db->level() == level_enum::info);
        CHECK(late->level() == level_enum::info);
    }

    TEST_CASE("an editor's rename over the spec file is picked up") {
        registry_reset reset({"lr_db"});
        temp_file file("rename");
        file.write("lr_db=warn");
        auto db = new_logger("lr_db");
        auto watcher = spdlog_ext::level_watcher::start(file_options(file));
        REQUIRE(eventually([&] { return db->level() == level_enum::warn; }));
        for (const char* spec : {"lr_db=critical", "lr_db=trace", "lr_db=debug"}) {
            file.replace(spec);
            CHECK(eventually([&] { return watcher->current_spec() == spec; }));
        }
        CHECK(db->level() == level_enum::debug);
        // A file that disappears: the baseline.
        fs::remove(file.path);
        CHECK(eventually([&] { return db->level() == level_enum::info; }));
    }

    TEST_CASE("an invalid spec keeps the levels and is reported once") {
        registry_reset reset({"li_db"});
        warnings seen;
        temp_file file("invalid");
        // Written atomically: an in-place write stalled past the 50 ms settle time could be read
        // half-written (empty = the baseline), and this test asserts that the levels stay.
        file.replace("li_db=debug");
        auto db = new_logger("li_db");
        std::mutex mu;
        std::vector<std::pair<std::string, std::string>> changes;
        auto options = file_options(file);
        options.on_change = [&](const std::string& spec, const std::string& error) {
            std::lock_guard<std::mutex> lock(mu);
            changes.emplace_back(spec, error);
        };
        auto watcher = spdlog_ext::level_watcher::start(options);
        REQUIRE(eventually([&] { return db->level() == level_enum::debug; }));

        file.replace("li_db=verbose,info");
        REQUIRE(eventually([&] { return seen.count_with("verbose") == 1; }));
        // Rewritten with the same garbage (a new mtime, a new inode): still one report.
        std::this_thread::sleep_for(50ms);
        file.replace("li_db=verbose,info");
        std::this_thread::sleep_for(200ms);
        CHECK(seen.count_with("verbose") == 1);
        CHECK(seen.count_with("the previous levels stay") == 1);
        CHECK(db->level() == level_enum::debug);
        CHECK(watcher->current_spec() == "li_db=debug");
        {
            std::lock_guard<std::mutex> lock(mu);
            REQUIRE(changes.size() == 2);
            CHECK(changes[0] == std::make_pair(std::string("li_db=debug"), std::string()));
            CHECK(changes[1].first == "li_db=verbose,info");
            CHECK(changes[1].second.find("unknown level 'verbose'") != std::string::npos);
        }

        // Binary garbage: nothing changes either.
        file.replace(std::string("\x01\xff\xfe=\0zz", 7));
        REQUIRE(eventually([&] { return seen.count_with("ignoring the spec") == 2; }));
        CHECK(db->level() == level_enum::debug);

        // A valid spec again applies.
        file.replace("li_db=err");
        CHECK(eventually([&] { return db->level() == level_enum::err; }));
    }

    TEST_CASE("an attached logger that spdlog does not know gets the levels") {
        registry_reset reset({});
        temp_file file("attach");
        file.write("la_bare=critical");
        auto bare = std::make_shared<spdlog::logger>("la_bare");  // never registered
        auto watcher = spdlog_ext::level_watcher::start(file_options(file));
        watcher->attach(bare);
        CHECK(eventually([&] { return bare->level() == level_enum::critical; }));
        file.write("la_bare=trace");
        CHECK(eventually([&] { return bare->level() == level_enum::trace; }));
        bare.reset();  // the watcher holds it weakly
        file.write("la_bare=off");
        CHECK(eventually([&] { return watcher->current_spec() == "la_bare=off"; }));
    }

    TEST_CASE("LOG_LEVELS_FILE makes make_logger start one watcher that shutdown stops") {
        registry_reset reset({"le_app", "le_db"});
        temp_file file("env");
        file.write("warn,le_db=trace");
        test::env_guard env({{"LOG_BACKENDS", "null"},
                             {"SPDLOG_LEVEL", "le_app=debug"},
                             {"LOG_POSTGRES_LEVELS", nullptr}});
        env.set("LOG_LEVELS_FILE", file.path.string());
        auto app = spdlog_ext::make_logger("le_app");
        CHECK(eventually([&] { return spdlog::get("le_app")->level() == level_enum::debug; }));
        auto db = spdlog_ext::make_logger("le_db");
        REQUIRE(eventually([&] { return db->level() == level_enum::trace; }));
        CHECK(app->level() == level_enum::debug);           // SPDLOG_LEVEL's entry is the baseline
        CHECK(spdlog_ext::start_level_watcher_from_env());  // already running: no second one
        file.replace("err");
        REQUIRE(eventually([&] { return db->level() == level_enum::err; }));
        CHECK(app->level() == level_enum::debug);
        spdlog_ext::shutdown(1s);
        file.replace("critical");
        std::this_thread::sleep_for(200ms);
        CHECK(db->level() == level_enum::err);  // stopped with shutdown()
    }

    TEST_CASE("stopping a watcher leaves the levels and returns at once") {
        registry_reset reset({"ls_db"});
        temp_file file("stop");
        file.write("ls_db=warn");
        auto db = new_logger("ls_db");
        auto watcher = spdlog_ext::level_watcher::start(file_options(file));
        REQUIRE(eventually([&] { return db->level() == level_enum::warn; }));
        const auto t0 = std::chrono::steady_clock::now();
        watcher->stop();
        CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
        file.write("ls_db=trace");
        std::this_thread::sleep_for(100ms);
        CHECK(db->level() == level_enum::warn);
        watcher.reset();  // a second stop is harmless
    }

}  // TEST_SUITE
