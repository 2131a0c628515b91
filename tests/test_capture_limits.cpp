// What the logging call keeps of a record (issue 15, items 11 and 12): a sink's
// max_record_bytes cuts an oversized message or fields at capture, before they are copied, with
// a visible marker, counted in stats; fields nest at most 64 levels deep, deeper subtrees
// become "[depth limit]", and no walk over fields recurses without bound.
#include <doctest/doctest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/utf8.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/engine/engine_sink.h"
#include "spdlog_ext/env_options.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/json_formatter.h"
#include "spdlog_ext/record.h"
#include "spdlog_ext/redaction.h"
#include "support/env_guard.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr std::size_t max_marker = 40;  // "…[truncated 104857600 bytes]" and then some

// What the backend received, kept whole (the scripted backend keeps messages only).
struct received {
    std::mutex mu;
    std::vector<spdlog_ext::record> records;

    std::vector<spdlog_ext::record> copy() {
        std::lock_guard<std::mutex> lock(mu);
        return records;
    }
};

struct fixture {
    std::shared_ptr<test::backend_log> seen = std::make_shared<test::backend_log>();
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<received> got = std::make_shared<received>();

    spdlog_ext::engine_config config() const {
        spdlog_ext::engine_config cfg;
        cfg.name = "test";
        cfg.fallback = fallback;
        cfg.batch_max_delay = 5ms;
        cfg.error_handler = [](const std::string&) {};
        return cfg;
    }

    std::shared_ptr<spdlog_ext::engine_sink> make(spdlog_ext::engine_config cfg) {
        auto keep = got;
        return std::make_shared<spdlog_ext::engine_sink>(
            std::make_unique<test::scripted_backend>(
                seen,
                [keep](spdlog_ext::record_span batch, int) {
                    std::lock_guard<std::mutex> lock(keep->mu);
                    keep->records.insert(keep->records.end(), batch.begin(), batch.end());
                    return spdlog_ext::batch_result::delivered();
                }),
            std::move(cfg));
    }
};

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Containers nested in `j` (a container is 1), and whether a string equal to `marker` is in it;
// iterative, so a tree of any depth is safe to measure.
std::size_t depth_of(const json& j, const std::string& marker, bool& found) {
    std::size_t deepest = 0;
    std::vector<std::pair<const json*, std::size_t>> todo{{&j, 1}};
    while (!todo.empty()) {
        const auto node = todo.back();
        todo.pop_back();
        if (node.first->is_string() && node.first->get<std::string>() == marker) {
            found = true;
        }
        if (!node.first->is_structured()) {
            continue;
        }
        deepest = std::max(deepest, node.second);
        for (const auto& child : *node.first) {
            todo.emplace_back(&child, node.second + 1);
        }
    }
    return deepest;
}

// {"k": {"k": ... "leaf" ...}} with `levels` objects, built without recursion.
json deep_object(std::size_t levels) {
    json deep = "leaf";
    for (std::size_t i = 0; i < levels; ++i) {
        json wrapper = json::object();
        wrapper["k"] = std::move(deep);
        deep = std::move(wrapper);
    }
    return deep;
}

// Takes a deep tree apart without recursion (whatever the nlohmann version's destructor does).
void dismantle(json& j) {
    std::vector<json> todo;
    todo.push_back(std::move(j));
    while (!todo.empty()) {
        json node = std::move(todo.back());
        todo.pop_back();
        for (auto& child : node) {
            if (child.is_structured()) {
                todo.push_back(std::move(child));
            }
        }
    }
}

}  // namespace

TEST_SUITE("capture") {
    TEST_CASE("a 100 MB message is cut to max_record_bytes in the logging call") {
        fixture f;
        auto cfg = f.config();
        REQUIRE(cfg.max_record_bytes == (1u << 20));  // the default: 1 MiB
        auto sink = f.make(cfg);
        spdlog::logger logger("app", sink);
        std::string big(100u << 20, 'x');
        {
            spdlog_ext::scoped_fields scope{{"order", 42}};
            logger.error(std::string_view(big));  // not formatted: spdlog passes the view
        }
        REQUIRE(sink->flush_for(10s));
        const auto records = f.got->copy();
        REQUIRE(records.size() == 1);
        const std::string& m = records[0].message;
        MESSAGE("the backend received " << m.size() << " bytes");
        CHECK(m.size() <= cfg.max_record_bytes + max_marker);
        CHECK(m.size() >= cfg.max_record_bytes / 2);
        const std::size_t kept = m.find("\xe2\x80\xa6[truncated ");
        REQUIRE(kept != std::string::npos);
        CHECK(m.substr(0, kept) == big.substr(0, kept));
        CHECK(ends_with(m, "[truncated " + std::to_string(big.size() - kept) + " bytes]"));
        CHECK(records[0].fields["order"] == 42);  // small fields stay whole
        auto s = sink->stats();
        CHECK(s.truncated == 1);
        CHECK(s.to_json()["truncated"] == 1);

        // The fallback path (here: after shutdown) cuts the same way.
        sink->shutdown(1s);
        logger.error(std::string_view(big));
        const auto fell = f.fallback->records();
        REQUIRE(fell.size() == 1);
        CHECK(fell[0].message.size() <= cfg.max_record_bytes + max_marker);
        CHECK(ends_with(fell[0].message, " bytes]"));
        s = sink->stats();
        CHECK(s.truncated == 2);
        test::check_accounting(s, 2);
    }

    TEST_CASE("max_record_bytes never cuts inside a UTF-8 sequence") {
        fixture f;
        auto cfg = f.config();
        cfg.max_record_bytes = 1025;  // odd: a cut at the cap would split an é
        auto sink = f.make(cfg);
        spdlog::logger logger("app", sink);
        std::string text;
        for (int i = 0; i < 2000; ++i) {
            text += "\xc3\xa9";  // é
        }
        logger.warn(std::string_view(text));
        logger.warn("short");  // under the cap: untouched, not counted
        REQUIRE(sink->flush_for(5s));
        const auto records = f.got->copy();
        REQUIRE(records.size() == 2);
        const std::string& m = records[0].message;
        CHECK(spdlog_ext::utf8::is_valid(m));
        CHECK(m.size() <= cfg.max_record_bytes + max_marker);
        const std::size_t kept = m.find("\xe2\x80\xa6");
        REQUIRE(kept != std::string::npos);
        CHECK(kept % 2 == 0);
        CHECK(m.substr(0, kept) == text.substr(0, kept));
        CHECK(ends_with(m, "[truncated " + std::to_string(text.size() - kept) + " bytes]"));
        CHECK(records[1].message == "short");
        CHECK(sink->stats().truncated == 1);
    }

    TEST_CASE("fields over max_record_bytes are cut with a marker - the small ones kept") {
        fixture f;
        auto cfg = f.config();
        cfg.max_record_bytes = 8192;
        auto sink = f.make(cfg);
        spdlog::logger logger("app", sink);
        const std::string blob(200000, 'b');
        json array = json::array();
        for (int i = 0; i < 2000; ++i) {
            array.push_back(i);
        }
        {
            spdlog_ext::scoped_fields scope{{"a_id", 7}, {"blob", blob}, {"c_list", array}};
            logger.error("with big fields");
        }
        REQUIRE(sink->flush_for(5s));
        const auto records = f.got->copy();
        REQUIRE(records.size() == 1);
        const auto& r = records[0];
        CHECK(r.message == "with big fields");
        CHECK(r.fields["a_id"] == 7);
        REQUIRE(r.fields["blob"].is_string());
        const std::string cut = r.fields["blob"].get<std::string>();
        CHECK(cut.size() < 8192);
        CHECK(ends_with(cut, " bytes]"));
        CHECK(cut.rfind("bbbb", 0) == 0);
        CHECK(r.fields.count("c_list") == 0);  // no room left: left out, and said so
        REQUIRE(r.fields.contains("fields_truncated"));
        CHECK(ends_with(r.fields["fields_truncated"].get<std::string>(), " bytes]"));
        CHECK(r.message.size() + spdlog_ext::approx_json_bytes(r.fields) <=
              cfg.max_record_bytes + max_marker);
        CHECK(sink->stats().truncated == 1);
    }

    TEST_CASE("max_record_bytes - 0 or malformed is a config_error naming the variable") {
        fixture f;
        auto cfg = f.config();
        cfg.max_record_bytes = 0;
        CHECK_THROWS_AS(f.make(cfg), spdlog_ext::config_error);

        for (const char* bad : {"0", "abc", "-5", "12xb", "100"}) {
            CAPTURE(std::string(bad));
            test::env_guard env{{"LOG_TEST_MAX_RECORD_BYTES", bad}};
            spdlog_ext::engine_config c;
            try {
                spdlog_ext::env_options("test").apply_engine(c);
                FAIL("no config_error");
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_TEST_MAX_RECORD_BYTES");
                CHECK(std::string(e.what()).find("LOG_TEST_MAX_RECORD_BYTES") != std::string::npos);
            }
        }
        test::env_guard env{{"LOG_TEST_MAX_RECORD_BYTES", "2MiB"}};
        spdlog_ext::engine_config c;
        spdlog_ext::env_options("test").apply_engine(c);
        CHECK(c.max_record_bytes == (2u << 20));
    }

    TEST_CASE("fields nested 50k deep are cut to 64 levels at capture - an engine sink") {
        fixture f;
        auto sink = f.make(f.config());
        spdlog::logger logger("app", sink);
        // Through spdlog_ext::log (a field_list, moved in) and scoped_fields (an initializer
        // list, copied).
        spdlog_ext::field_list list;
        list.emplace_back("deep", deep_object(50000));
        spdlog_ext::log(logger, spdlog::level::err, std::move(list), "deep {}", 1);
        {
            spdlog_ext::scoped_fields scope{{"deep", deep_object(50000)}, {"id", 2}};
            logger.error("deep 2");
        }
        REQUIRE(sink->flush_for(10s));
        const auto records = f.got->copy();
        REQUIRE(records.size() == 2);
        for (const auto& r : records) {
            CAPTURE(r.message);
            bool marker = false;
            const std::size_t depth = depth_of(r.fields, "[depth limit]", marker);
            CHECK(depth == 64);  // the fields object is level 1
            CHECK(marker);
        }
        CHECK(records[1].fields["id"] == 2);
        test::check_accounting(sink->stats(), 2);
    }

    TEST_CASE("fields nested 50k deep through the JSON formatter and the redactor") {
        std::ostringstream out;
        auto ostream = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        ostream->set_formatter(std::make_unique<spdlog_ext::json_formatter>());
        spdlog::logger logger("app", ostream);
        spdlog_ext::field_list list;
        list.emplace_back("deep", deep_object(50000));
        spdlog_ext::log(logger, spdlog::level::info, std::move(list), "formatted");
        const json line = json::parse(out.str());
        CHECK(line["message"] == "formatted");
        bool marker = false;
        CHECK(depth_of(line["fields"], "[depth limit]", marker) == 64);
        CHECK(marker);

        // A tree that never went through capture: the redactor and the size estimate stop at
        // the same depth instead of recursing 50k frames.
        json deep = json::object();
        deep["deep"] = deep_object(50000);
        CHECK(spdlog_ext::approx_json_bytes(deep) > 0);
        spdlog_ext::redactor::defaults()->redact_json(deep);
        marker = false;
        CHECK(depth_of(deep, "[depth limit]", marker) == 64);
        CHECK(marker);
        dismantle(deep);
    }
}
