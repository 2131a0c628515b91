#include <doctest/doctest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/civil_time.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/sinks/jsonl_file_sink.h"

namespace fs = std::filesystem;

namespace {

using spdlog_ext::detail::days_from_civil;

std::time_t utc_time_t(int y, unsigned mo, unsigned d, int h = 12, int mi = 0, int s = 0) {
    return static_cast<std::time_t>(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s);
}

spdlog::log_clock::time_point utc_time(int y, unsigned mo, unsigned d, int h = 12, int mi = 0,
                                       int s = 0) {
    return spdlog::log_clock::from_time_t(utc_time_t(y, mo, d, h, mi, s));
}

// A fresh directory under the system temp dir, removed with everything in it at the end.
class temp_dir {
  public:
    temp_dir() {
        static std::atomic<int> counter{0};
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                ("spdlog_ext_jsonl_" + std::to_string(rd()) + "_" + std::to_string(counter++));
        fs::remove_all(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    std::string str(const std::string& rel) const { return (path_ / rel).string(); }

  private:
    fs::path path_;
};

std::vector<std::string> read_lines(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<std::string> lines;
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Every line must be complete (newline-terminated): no line is split across files.
    if (!content.empty()) {
        CHECK(content.back() == '\n');
    }
    std::size_t start = 0;
    for (std::size_t nl = content.find('\n'); nl != std::string::npos;
         nl = content.find('\n', start)) {
        lines.push_back(content.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

std::set<std::string> file_names(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

spdlog::details::log_msg msg_at(spdlog::log_clock::time_point t, spdlog::string_view_t text) {
    return spdlog::details::log_msg(t, spdlog::source_loc{}, "file", spdlog::level::info, text);
}

}  // namespace

TEST_SUITE("file_sink") {
    TEST_CASE("jsonl_file_sink: ISO week names") {
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = "logs/app.jsonl";
        cfg.utc = true;
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2026, 11, 21)) == "logs/app.jsonl");

        cfg.weekly = true;
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2026, 11, 21)) ==
              "logs/app_2026-W47.jsonl");
        // 2021-01-03 is a Sunday that belongs to the last week of 2020, which has 53 weeks.
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2021, 1, 3)) ==
              "logs/app_2020-W53.jsonl");
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2021, 1, 4)) ==
              "logs/app_2021-W01.jsonl");
        // 2024-12-30 (Monday) already belongs to 2025-W01.
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2024, 12, 30), true) == "2025-W01");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2024, 12, 29), true) == "2024-W52");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2026, 12, 31), true) == "2026-W53");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2027, 1, 3), true) == "2026-W53");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2027, 1, 4), true) == "2027-W01");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2026, 1, 1), true) == "2026-W01");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2026, 11, 16, 0, 0, 0), true) == "2026-W47");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2026, 11, 22, 23, 59, 59), true) == "2026-W47");
        CHECK(spdlog_ext::iso_week_key(utc_time_t(2026, 11, 23, 0, 0, 0), true) == "2026-W48");

        // Local time: a Wednesday noon is in the same week in every time zone.
        cfg.utc = false;
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2026, 11, 18)) ==
              "logs/app_2026-W47.jsonl");

        // No extension, and a dot in a directory name.
        cfg.path = "logs.d/app";
        CHECK(spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2026, 11, 18)) ==
              "logs.d/app_2026-W47");
    }

    TEST_CASE("jsonl_file_sink: writes JSON lines and creates the directory") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("nested/deeper/app.jsonl");
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_mt>(cfg);
        CHECK(fs::is_directory(dir.path() / "nested/deeper"));
        CHECK(sink->current_file().empty());

        spdlog::logger logger("file", sink);
        {
            spdlog_ext::scoped_fields f{{"request", 9}};
            logger.info("hello {}", "file");
        }
        logger.warn(spdlog::string_view_t("nul\0here", 8));
        logger.flush();
        CHECK(sink->current_file() == cfg.path);

        const auto lines = read_lines(cfg.path);
        REQUIRE(lines.size() == 2);
        const auto first = nlohmann::json::parse(lines[0]);
        CHECK(first["message"] == "hello file");
        CHECK(first["logger"] == "file");
        CHECK(first["fields"]["request"] == 9);
        const auto second = nlohmann::json::parse(lines[1]);
        CHECK(second["message"] == std::string("nul\0here", 8));
        CHECK(second["level"] == "warning");
    }

    TEST_CASE("jsonl_file_sink: appends to an existing file") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        for (int round = 0; round < 2; ++round) {
            auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
            sink->log(msg_at(spdlog::log_clock::now(), "line"));
            sink->flush();
        }
        CHECK(read_lines(cfg.path).size() == 2);
    }

    TEST_CASE("jsonl_file_sink: utc config gives UTC timestamps") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        cfg.utc = true;
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
        sink->log(msg_at(utc_time(2026, 11, 21, 19, 37, 21), "utc"));
        sink->flush();
        const auto lines = read_lines(cfg.path);
        REQUIRE(lines.size() == 1);
        CHECK(nlohmann::json::parse(lines[0])["timestamp"] == "2026-11-21T19:37:21.000000+00:00");
    }

    TEST_CASE("jsonl_file_sink: set_pattern and set_formatter still work") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
        sink->set_pattern("[%l] %v");
        sink->log(msg_at(spdlog::log_clock::now(), "plain text"));
        sink->set_formatter(
            std::make_unique<spdlog_ext::json_formatter>(spdlog_ext::json_time_zone::utc));
        sink->log(msg_at(spdlog::log_clock::now(), "json again"));
        sink->flush();
        const auto lines = read_lines(cfg.path);
        REQUIRE(lines.size() == 2);
        CHECK(lines[0] == "[info] plain text");
        CHECK(nlohmann::json::parse(lines[1])["message"] == "json again");
    }

    TEST_CASE("jsonl_file_sink: size rotation loses and splits no line") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        cfg.max_size = 2000;
        cfg.max_files = 100;  // enough to keep everything
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_mt>(cfg);
        spdlog::logger logger("rot", sink);
        const int count = 300;
        for (int i = 0; i < count; ++i) {
            spdlog_ext::scoped_fields f{{"seq", i}};
            // Lines of varying length, some multi-byte.
            logger.info("message {} {}", i,
                        std::string(static_cast<std::size_t>(i % 37), 'x') +
                            (i % 5 == 0 ? "\xE2\x82\xAC" : ""));
        }
        logger.flush();

        const auto names = file_names(dir.path());
        CHECK(names.size() > 5);
        std::vector<int> seen;
        for (const auto& name : names) {
            CAPTURE(name);
            CHECK(fs::file_size(dir.path() / name) <= cfg.max_size);
            for (const auto& line : read_lines(dir.path() / name)) {
                const auto j = nlohmann::json::parse(line);  // throws (fails) on a split line
                seen.push_back(j["fields"]["seq"].get<int>());
            }
        }
        CHECK(seen.size() == static_cast<std::size_t>(count));
        std::sort(seen.begin(), seen.end());
        for (int i = 0; i < count && i < static_cast<int>(seen.size()); ++i) {
            REQUIRE(seen[static_cast<std::size_t>(i)] == i);
        }
        // Rotated files are named app.N.jsonl, N = 1..n contiguous.
        for (std::size_t n = 1; n < names.size(); ++n) {
            CHECK(names.count("app." + std::to_string(n) + ".jsonl") == 1);
        }
    }

    TEST_CASE(
        "jsonl_file_sink: size rotation keeps max_files rotated files with the newest lines") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        cfg.max_size = 1000;
        cfg.max_files = 3;
        cfg.utc = true;
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
        const int count = 500;
        for (int i = 0; i < count; ++i) {
            sink->log(msg_at(spdlog::log_clock::now(), "seq " + std::to_string(i)));
        }
        sink->flush();
        CHECK(file_names(dir.path()) ==
              std::set<std::string>{"app.jsonl", "app.1.jsonl", "app.2.jsonl", "app.3.jsonl"});
        // Oldest to newest: app.3, app.2, app.1, app: one contiguous run ending at the last line.
        const std::vector<std::string> order = {"app.3.jsonl", "app.2.jsonl", "app.1.jsonl",
                                                "app.jsonl"};
        std::vector<int> seqs;
        std::vector<std::vector<std::string>> contents;
        for (const auto& name : order) {
            CAPTURE(name);
            CHECK(fs::file_size(dir.path() / name) <= cfg.max_size);
            contents.push_back(read_lines(dir.path() / name));
            CHECK(!contents.back().empty());
            for (const auto& line : contents.back()) {
                const std::string m = nlohmann::json::parse(line)["message"];
                seqs.push_back(std::stoi(m.substr(4)));
            }
        }
        REQUIRE(!seqs.empty());
        CHECK(seqs.back() == count - 1);
        for (std::size_t i = 1; i < seqs.size(); ++i) {
            REQUIRE(seqs[i] == seqs[i - 1] + 1);
        }
        // Each rotated file was rotated only when full: the next line would not have fit.
        for (std::size_t i = 0; i + 1 < order.size(); ++i) {
            CAPTURE(order[i]);
            REQUIRE(!contents[i + 1].empty());
            CHECK(fs::file_size(dir.path() / order[i]) + contents[i + 1].front().size() + 1 >
                  cfg.max_size);
        }
    }

    TEST_CASE("jsonl_file_sink: a line longer than max_size is written whole") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("big.jsonl");
        cfg.max_size = 300;
        cfg.max_files = 5;
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
        const std::string huge(2000, 'h');
        sink->log(msg_at(spdlog::log_clock::now(), "small"));
        sink->log(msg_at(spdlog::log_clock::now(), huge));
        sink->log(msg_at(spdlog::log_clock::now(), "after"));
        sink->flush();
        CHECK(file_names(dir.path()) ==
              std::set<std::string>{"big.jsonl", "big.1.jsonl", "big.2.jsonl"});
        const auto oldest = read_lines(dir.path() / "big.2.jsonl");
        const auto middle = read_lines(dir.path() / "big.1.jsonl");
        const auto newest = read_lines(dir.path() / "big.jsonl");
        REQUIRE(oldest.size() == 1);
        REQUIRE(middle.size() == 1);
        REQUIRE(newest.size() == 1);
        CHECK(nlohmann::json::parse(oldest[0])["message"] == "small");
        CHECK(nlohmann::json::parse(middle[0])["message"] == huge);
        CHECK(nlohmann::json::parse(newest[0])["message"] == "after");
    }

    TEST_CASE("jsonl_file_sink: weekly files follow the records' event time") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("logs/app.jsonl");
        cfg.weekly = true;
        cfg.utc = true;
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);

        sink->log(msg_at(utc_time(2021, 1, 2), "sat"));
        CHECK(sink->current_file() == dir.str("logs/app_2020-W53.jsonl"));
        sink->log(msg_at(utc_time(2021, 1, 3, 23, 59, 59), "sun"));
        CHECK(sink->current_file() == dir.str("logs/app_2020-W53.jsonl"));
        sink->log(msg_at(utc_time(2021, 1, 4, 0, 0, 0), "mon"));
        CHECK(sink->current_file() == dir.str("logs/app_2021-W01.jsonl"));
        sink->log(msg_at(utc_time(2021, 1, 5), "tue"));
        // A late record of the previous week goes back to that week's file.
        sink->log(msg_at(utc_time(2021, 1, 3), "late sun"));
        CHECK(sink->current_file() == dir.str("logs/app_2020-W53.jsonl"));
        sink->log(msg_at(utc_time(2026, 11, 21), "later"));
        CHECK(sink->current_file() == dir.str("logs/app_2026-W47.jsonl"));
        CHECK(sink->current_file() ==
              spdlog_ext::jsonl_file_name_for(cfg, utc_time_t(2026, 11, 21)));
        sink->flush();

        auto messages = [&](const std::string& name) {
            std::vector<std::string> out;
            for (const auto& line : read_lines(dir.path() / "logs" / name)) {
                out.push_back(nlohmann::json::parse(line)["message"]);
            }
            return out;
        };
        CHECK(file_names(dir.path() / "logs") == std::set<std::string>{"app_2020-W53.jsonl",
                                                                       "app_2021-W01.jsonl",
                                                                       "app_2026-W47.jsonl"});
        CHECK(messages("app_2020-W53.jsonl") == std::vector<std::string>{"sat", "sun", "late sun"});
        CHECK(messages("app_2021-W01.jsonl") == std::vector<std::string>{"mon", "tue"});
        CHECK(messages("app_2026-W47.jsonl") == std::vector<std::string>{"later"});
    }

    TEST_CASE("jsonl_file_sink: weekly and size rotation together") {
        temp_dir dir;
        spdlog_ext::jsonl_file_config cfg;
        cfg.path = dir.str("app.jsonl");
        cfg.weekly = true;
        cfg.utc = true;
        cfg.max_size = 600;
        cfg.max_files = 10;
        auto sink = std::make_shared<spdlog_ext::jsonl_file_sink_st>(cfg);
        const int per_week = 12;
        for (int i = 0; i < per_week; ++i) {
            sink->log(msg_at(utc_time(2026, 11, 20), "w47 " + std::to_string(i)));
        }
        for (int i = 0; i < per_week; ++i) {
            sink->log(msg_at(utc_time(2026, 11, 24), "w48 " + std::to_string(i)));
        }
        sink->flush();
        const auto names = file_names(dir.path());
        CHECK(names.count("app_2026-W47.jsonl") == 1);
        CHECK(names.count("app_2026-W47.1.jsonl") == 1);
        CHECK(names.count("app_2026-W48.jsonl") == 1);
        CHECK(names.count("app_2026-W48.1.jsonl") == 1);
        std::map<std::string, int> per_prefix;
        for (const auto& name : names) {
            CHECK(fs::file_size(dir.path() / name) <= cfg.max_size);
            for (const auto& line : read_lines(dir.path() / name)) {
                const std::string m = nlohmann::json::parse(line)["message"];
                CHECK(name.substr(0, 12) == "app_2026-" + m.substr(0, 3).replace(0, 1, "W"));
                ++per_prefix[m.substr(0, 3)];
            }
        }
        CHECK(per_prefix["w47"] == per_week);
        CHECK(per_prefix["w48"] == per_week);
    }

    TEST_CASE("jsonl_file_sink: an empty path is rejected") {
        spdlog_ext::jsonl_file_config cfg;
        cfg.path.clear();
        CHECK_THROWS_AS(spdlog_ext::jsonl_file_sink_st{cfg}, spdlog::spdlog_ex);
    }
}
