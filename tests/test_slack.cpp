// slack_error_sink against a fake Slack webhook that validates every request strictly
// (tests/support/fake_slack_webhook.h): the rate limit and coalescing under an error storm, levels,
// Retry-After, Block Kit limits for hostile messages, a revoked webhook, secrets, configuration.
#include <doctest/doctest.h>
#include <spdlog/logger.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sinks/slack/slack_backend.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/slack_error_sink.h"
#include "support/env_guard.h"
#include "support/fake_slack_webhook.h"
#include "support/sink_checks.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;
using nlohmann::json;
using test::check_accounting;
using test::slack_fault;

namespace {

using clock_type = std::chrono::steady_clock;

test::env_guard clean_slack_env() {
    return test::env_guard{
        {"SLACK_WEBHOOK_URL", nullptr},  {"LOG_SLACK_LEVEL", nullptr},
        {"LOG_SLACK_MENTION", nullptr},  {"LOG_SLACK_SERVICE", nullptr},
        {"LOG_SLACK_HOSTNAME", nullptr}, {"LOG_SLACK_MAX_DETAILED", nullptr},
        {"LOG_SLACK_FALLBACK", nullptr}, {"LOG_SLACK_MIN_WRITE_INTERVAL", nullptr},
        {"LOG_SLACK_CA_BUNDLE", nullptr}};
}

struct slack_fixture {
    std::shared_ptr<test::capture_sink_mt> fallback = std::make_shared<test::capture_sink_mt>();
    std::shared_ptr<test::error_log> errors = std::make_shared<test::error_log>();

    spdlog_ext::slack_config config(const test::fake_slack_webhook& webhook) const {
        spdlog_ext::slack_config cfg;
        cfg.webhook_url = webhook.url();
        cfg.service = "checkout";
        cfg.hostname = "test-host";
        cfg.timeout = 500ms;
        cfg.connect_timeout = 500ms;
        cfg.engine.retry_initial = 20ms;
        cfg.engine.fallback = fallback;
        auto errs = errors;
        cfg.engine.error_handler = [errs](const std::string& line) { errs->add(line); };
        return cfg;
    }
};

void check_no_violations(const test::fake_slack_webhook& webhook) {
    const auto v = webhook.violations();
    for (std::size_t i = 0; i < v.size() && i < 5; ++i) {
        MESSAGE("protocol violation: " << v[i]);
    }
    CHECK(v.size() == 0);
}

// How many records a message stands for: each shown record ("record-<n>" blocks, "*×N* " when
// identical ones were counted) plus the "and N more" summary.
std::size_t records_in(const json& payload) {
    std::size_t n = 0;
    for (const auto& block : payload["blocks"]) {
        const std::string id = block.value("block_id", std::string());
        const std::string text =
            block.contains("text") ? block["text"].value("text", std::string()) : std::string();
        if (id.rfind("record-", 0) == 0) {
            n += text.rfind("*×", 0) == 0 ? std::stoul(text.substr(std::string("*×").size())) : 1;
        } else if (id == "more") {
            n += std::stoul(text.substr(std::string("_and ").size()));
        }
    }
    return n;
}

std::string all_text(const json& payload) {
    return payload.dump();
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("slack") {
    TEST_CASE("10k errors within 2 s - at most 3 posts and every record counted") {
        test::fake_slack_webhook webhook;  // Slack's pace: one message a second
        slack_fixture fx;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(fx.config(webhook));
        spdlog::logger logger("storm", sink);

        const auto start = clock_type::now();
        // 20 bursts of 500 over ~1.9 s; half of each burst is one repeated message.
        for (int burst = 0; burst < 20; ++burst) {
            for (int i = 0; i < 500; ++i) {
                if (i % 2 == 0) {
                    logger.error("database connection lost");
                } else if (i % 50 == 1) {
                    logger.critical("disk full on /var ({} of 20)", burst);
                } else {
                    logger.error("request {} failed", burst * 500 + i);
                }
            }
            std::this_thread::sleep_until(start + (burst + 1) * 95ms);
        }
        const auto logged_by = clock_type::now();
        CHECK(logged_by - start < 2s);
        REQUIRE(sink->flush_for(10s));

        const auto posts = webhook.posts();
        std::size_t in_first_two_seconds = 0;
        for (const auto& p : posts) {
            in_first_two_seconds += p.arrived < start + 2s ? 1 : 0;
        }
        CHECK(in_first_two_seconds <= 3);
        CHECK(posts.size() <= 4);  // the tail after 2 s: one more at most
        check_no_violations(webhook);

        std::size_t counted = 0;
        for (const auto& payload : webhook.accepted()) {
            counted += records_in(payload);
        }
        CHECK(counted == 10000);
        const auto s = sink->stats();
        CHECK(s.delivered == 10000);
        CHECK(s.fallback == 0);
        check_accounting(s, 10000);
        // The repeated message is counted, not repeated: it appears once per post.
        for (const auto& payload : webhook.accepted()) {
            const std::string body = all_text(payload);
            std::size_t seen = 0;
            for (auto pos = body.find("database connection lost"); pos != std::string::npos;
                 pos = body.find("database connection lost", pos + 1)) {
                ++seen;
            }
            CHECK(seen <= 2);  // its section, and the notification text when it came first
        }
    }

    TEST_CASE("identical errors in one window become one record with a count") {
        test::fake_slack_webhook webhook;
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.batch_max_delay = 300ms;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app", sink);
        for (int i = 0; i < 500; ++i) {
            logger.error("payment gateway timeout");
        }
        for (int i = 0; i < 7; ++i) {
            logger.error("cache miss storm {}", i);
        }
        REQUIRE(sink->flush_for(5s));
        check_no_violations(webhook);
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 1);
        const json& m = messages[0];
        CHECK(records_in(m) == 507);
        std::map<std::string, std::string> sections;
        for (const auto& b : m["blocks"]) {
            if (b.contains("block_id")) {
                sections[b["block_id"]] = b["text"]["text"];
            }
        }
        CHECK(sections["record-1"] == "*×500* payment gateway timeout");
        CHECK(sections["record-2"] == "cache miss storm 0");
        CHECK(sections.count("record-6") == 0);               // 5 shown in full by default
        CHECK(sections["more"] == "_and 3 more: 3 errors_");  // the rest, counted by level
        CHECK(m["blocks"][0]["text"]["text"].get<std::string>().find("507 errors · app") !=
              std::string::npos);
    }

    TEST_CASE("info and warning records never post") {
        test::fake_slack_webhook webhook;
        slack_fixture fx;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(fx.config(webhook));
        spdlog::logger logger("app", sink);
        logger.set_level(spdlog::level::trace);
        for (int i = 0; i < 100; ++i) {
            logger.trace("t {}", i);
            logger.debug("d {}", i);
            logger.info("i {}", i);
            logger.warn("w {}", i);
        }
        REQUIRE(sink->flush_for(2s));
        std::this_thread::sleep_for(400ms);  // longer than the batch delay
        CHECK(webhook.posts().empty());
        CHECK(sink->stats().enqueued == 0);

        logger.error("the one that matters");
        REQUIRE(sink->flush_for(5s));
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 1);
        CHECK(records_in(messages[0]) == 1);
        CHECK(contains(all_text(messages[0]), "the one that matters"));
        check_accounting(sink->stats(), 1);
    }

    TEST_CASE("429 with Retry-After 2 - nothing is sent for 2 s then it is delivered") {
        test::fake_slack_webhook webhook;
        webhook.set_faults([](const test::slack_post& p) {
            return p.index == 0 ? slack_fault::answer(429, "2") : slack_fault{};
        });
        slack_fixture fx;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(fx.config(webhook));
        spdlog::logger logger("app", sink);
        logger.error("first");
        REQUIRE(webhook.posts().size() <= 1);
        std::this_thread::sleep_for(600ms);
        logger.error("second, logged while waiting");
        REQUIRE(sink->flush_for(6s));
        const auto posts = webhook.posts();
        REQUIRE(posts.size() >= 2);
        CHECK(posts[0].status == 429);
        CHECK(posts[1].arrived - posts[0].arrived >= 1950ms);
        check_no_violations(webhook);  // also checks the Retry-After window
        std::size_t counted = 0;
        for (const auto& m : webhook.accepted()) {
            counted += records_in(m);
        }
        CHECK(counted == 2);
        const auto s = sink->stats();
        CHECK(s.delivered == 2);
        CHECK(s.retries >= 1);
        check_accounting(s, 2);
    }

    TEST_CASE("5xx and timeouts are retried at the allowed pace") {
        test::slack_webhook_options options;
        options.min_interval = 300ms;
        test::fake_slack_webhook webhook(options);
        webhook.set_faults([](const test::slack_post& p) {
            if (p.index == 0) {
                return slack_fault::answer(500);
            }
            if (p.index == 1) {
                slack_fault f;
                f.status = 503;
                f.hang = 800ms;  // past the client's 500 ms timeout
                return f;
            }
            return slack_fault{};
        });
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.min_write_interval = 300ms;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app", sink);
        logger.error("must arrive");
        REQUIRE(sink->flush_for(5s));
        check_no_violations(webhook);
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 1);
        CHECK(contains(all_text(messages[0]), "must arrive"));
        CHECK(sink->stats().retries >= 2);
        check_accounting(sink->stats(), 1);
    }

    TEST_CASE("a 200 KB hostile message is valid Block Kit within Slack's limits") {
        test::fake_slack_webhook webhook;
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.urgent_level = spdlog::level::off;  // the four records in one message
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app<&>", sink);

        std::string hostile =
            "*bold* _it_ ~x~ ```code``` <!channel> <!here> <@U123> "
            "<http://evil.example|click me> a & b > c \xff\xfe\xc0\xaf "
            "\x01\x7f tab\tend ";
        std::string big;
        while (big.size() < 200 * 1024) {
            big += hostile;
        }
        spdlog_ext::field_list many;
        for (int i = 0; i < 15; ++i) {
            many.emplace_back("field<" + std::to_string(i) + ">", big.substr(0, 5000));
        }
        {
            spdlog_ext::scoped_fields scope(many);
            logger.error("{}", big);               // single line: not fenced
            logger.error("multi\nline\n{}", big);  // fenced
            logger.critical("{}", hostile);        // short
        }
        try {
            throw std::runtime_error(big);
        } catch (const std::exception& e) {
            spdlog_ext::log_exception(logger, spdlog::level::err, e, "with an exception");
        }
        REQUIRE(sink->flush_for(5s));
        check_no_violations(webhook);
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 1);
        const json& m = messages[0];
        CHECK(m["blocks"].size() <= 50);
        CHECK(records_in(m) == 4);
        const std::string body = all_text(m);
        CHECK(contains(body, "&lt;!channel&gt;"));  // shown, escaped: no mention, no link
        CHECK(contains(body, "&lt;http://evil.example|click me&gt;"));
        CHECK(contains(body, "a &amp; b &gt; c"));
        CHECK(contains(body, "…[truncated by spdlog_ext]"));
        CHECK(contains(body, "and 6 more fields"));
        CHECK(contains(body, "\u200b"));  // ``` inside a fence is broken up
        check_accounting(sink->stats(), 4);
    }

    TEST_CASE("LOG_SLACK_MENTION pings only when a critical record is in the message") {
        test::slack_webhook_options options;
        options.allowed_mentions = {"<!here>"};
        test::fake_slack_webhook webhook(options);
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.mention = "<!here>";
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app", sink);
        logger.error("just an error");
        REQUIRE(sink->flush_for(5s));
        logger.critical("on fire");
        REQUIRE(sink->flush_for(5s));
        check_no_violations(webhook);
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 2);
        CHECK_FALSE(contains(all_text(messages[0]), "<!here>"));
        CHECK(messages[1]["text"].get<std::string>().rfind("<!here> ", 0) == 0);
    }

    TEST_CASE("404 or 410 or 403 stops posting with one clear error") {
        for (int status : {404, 410, 403}) {
            CAPTURE(status);
            test::fake_slack_webhook webhook;
            webhook.set_faults(
                [status](const test::slack_post&) { return slack_fault::answer(status); });
            slack_fixture fx;
            auto sink = std::make_shared<spdlog_ext::slack_error_sink>(fx.config(webhook));
            spdlog::logger logger("app", sink);
            logger.error("first");
            REQUIRE(sink->flush_for(3s));
            for (int i = 0; i < 20; ++i) {
                logger.error("after the webhook was revoked {}", i);
            }
            REQUIRE(sink->flush_for(3s));
            CHECK(webhook.posts().size() == 1);  // stopped after the first answer
            const auto s = sink->stats();
            CHECK(s.disabled);
            CHECK(s.fallback == 21);
            check_accounting(s, 21);

            const auto errors = fx.errors->copy();
            const auto refused =
                std::count_if(errors.begin(), errors.end(), [](const std::string& e) {
                    return contains(e, "Slack refused the webhook (HTTP");
                });
            CHECK(refused == 1);
            CHECK(contains(fx.errors->text(), "SLACK_WEBHOOK_URL"));
            CHECK(contains(fx.errors->text(), slack_fault::usual_body(status)));

            // The webhook URL (its path is the credential) appears nowhere.
            const std::string secret_path = "T0000TEST/B0000TEST/abcdefghijklmnopqrstuvwx";
            CHECK_FALSE(contains(fx.errors->text(), secret_path));
            CHECK_FALSE(contains(s.to_json().dump(), secret_path));
            for (const auto& r : fx.fallback->records()) {
                CHECK_FALSE(contains(r.fields.dump(), secret_path));
            }
        }
    }

    TEST_CASE("400 invalid_blocks - the message goes again as plain text and posting goes on") {
        // A 400 is about the payload, not the webhook: it used to disable the sink for good.
        test::slack_webhook_options options;
        options.min_interval = 200ms;
        test::fake_slack_webhook webhook(options);
        webhook.set_faults([](const test::slack_post& p) {
            const bool blocks = p.payload.contains("blocks");
            return blocks && contains(p.payload.dump(), "poison")
                       ? slack_fault::answer_body(400, "invalid_blocks")
                       : slack_fault{};
        });
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.min_write_interval = 250ms;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app", sink);
        logger.error("poison record");
        REQUIRE(sink->flush_for(10s));
        for (int i = 0; i < 5; ++i) {
            logger.error("later {}", i);
        }
        REQUIRE(sink->flush_for(10s));

        const auto posts = webhook.posts();
        REQUIRE(posts.size() >= 3);
        CHECK(posts[0].status == 400);
        CHECK(posts[1].accepted);
        CHECK_FALSE(posts[1].payload.contains("blocks"));  // the plain-text form
        CHECK(contains(posts[1].payload["text"].get<std::string>(), "poison record"));
        std::string later;
        for (std::size_t i = 2; i < posts.size(); ++i) {
            CHECK(posts[i].accepted);
            later += posts[i].payload.dump();
        }
        CHECK(contains(later, "later 4"));
        const auto s = sink->stats();
        CHECK_FALSE(s.disabled);
        CHECK(s.delivered == 6);
        CHECK(s.fallback == 0);
        check_accounting(s, 6);
        CHECK(contains(fx.errors->text(), "invalid_blocks"));
        CHECK_FALSE(contains(fx.errors->text(), "stopped posting"));
        check_no_violations(webhook);
    }

    TEST_CASE("400 even as plain text - only the offending record goes to the fallback") {
        test::slack_webhook_options options;
        options.min_interval = 100ms;
        test::fake_slack_webhook webhook(options);
        webhook.set_faults([](const test::slack_post& p) {
            return contains(p.payload.dump(), "poison")
                       ? slack_fault::answer_body(400, "invalid_payload")
                       : slack_fault{};
        });
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.min_write_interval = 150ms;
        cfg.engine.batch_max_delay = 300ms;  // the three records in one batch, as a rule
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("app", sink);
        logger.error("alpha");
        logger.error("poison record");
        logger.error("omega");
        REQUIRE(sink->flush_for(20s));
        logger.error("later");
        REQUIRE(sink->flush_for(10s));

        const auto s = sink->stats();
        CHECK_FALSE(s.disabled);
        CHECK(s.delivered == 3);
        CHECK(s.fallback == 1);
        check_accounting(s, 4);
        const auto refused = fx.fallback->records();
        REQUIRE(refused.size() == 1);
        CHECK(refused[0].message == "poison record");
        const std::string reason = refused[0].fields.value("fallback_reason", std::string());
        CHECK(contains(reason, "HTTP 400"));
        CHECK(contains(reason, "invalid_payload"));
        std::string accepted;
        for (const auto& m : webhook.accepted()) {
            accepted += m.dump();
        }
        for (const char* m : {"alpha", "omega", "later"}) {
            CHECK(contains(accepted, m));
        }
        CHECK_FALSE(contains(accepted, "poison"));
        check_no_violations(webhook);
    }

    TEST_CASE("an error storm stays within the queue bounds and is fully counted") {
        test::slack_webhook_options options;
        options.min_interval = 200ms;
        test::fake_slack_webhook webhook(options);
        slack_fixture fx;
        auto cfg = fx.config(webhook);
        cfg.engine.min_write_interval = 200ms;
        cfg.engine.queue_max_records = 2000;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(cfg);
        spdlog::logger logger("storm", sink);
        for (int i = 0; i < 50000; ++i) {
            logger.error("storm {}", i);
            CHECK_LE(sink->stats().queue_depth, 2000);  // never more than the bound held
            if (i % 10000 == 0) {
                std::this_thread::sleep_for(250ms);
            }
        }
        REQUIRE(sink->flush_for(5s));
        check_no_violations(webhook);
        std::size_t counted = 0;
        for (const auto& m : webhook.accepted()) {
            counted += records_in(m);
        }
        const auto s = sink->stats();
        CHECK(counted == s.delivered);
        CHECK(s.fallback > 0);  // the overflow went to the fallback, each with its reason
        CHECK(fx.fallback->records().size() == s.fallback);
        check_accounting(s, 50000);
    }

    TEST_CASE("the sink's pattern shapes the message") {
        test::fake_slack_webhook webhook;
        slack_fixture fx;
        auto sink = std::make_shared<spdlog_ext::slack_error_sink>(fx.config(webhook));
        sink->set_message_pattern("[%n] %v (pid %P)");
        spdlog::logger logger("billing", sink);
        logger.error("charge failed");
        REQUIRE(sink->flush_for(5s));
        const auto messages = webhook.accepted();
        REQUIRE(messages.size() == 1);
        CHECK(contains(all_text(messages[0]), "[billing] charge failed (pid "));
    }

    TEST_CASE("configuration - SLACK_WEBHOOK_URL is required and never printed") {
        auto env = clean_slack_env();
        try {
            spdlog_ext::slack_config::from_env();
            FAIL("no exception without SLACK_WEBHOOK_URL");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "SLACK_WEBHOOK_URL");
        }
        const std::string bad = "hooks.slack.com/services/TSECRET/BSECRET/xyzsecret";
        test::env_guard url{{"SLACK_WEBHOOK_URL", bad.c_str()}};
        try {
            spdlog_ext::slack_config::from_env();
            FAIL("a URL without https:// was accepted");
        } catch (const spdlog_ext::config_error& e) {
            CHECK(e.variable() == "SLACK_WEBHOOK_URL");
            CHECK_FALSE(contains(e.what(), "xyzsecret"));
        }
    }

    TEST_CASE("configuration - LOG_SLACK_* options and the registry") {
        auto env = clean_slack_env();
        test::fake_slack_webhook webhook;
        test::env_guard vars{{"SLACK_WEBHOOK_URL", webhook.url().c_str()},
                             {"LOG_SLACK_MENTION", "@channel"}};
        CHECK_THROWS_AS(spdlog_ext::slack_config::from_env(), spdlog_ext::config_error);
        {
            test::env_guard mention{{"LOG_SLACK_MENTION", "<!subteam^S0123ABC>"},
                                    {"LOG_SLACK_LEVEL", "warn"},
                                    {"LOG_SLACK_MAX_DETAILED", "3"},
                                    {"LOG_SLACK_MIN_WRITE_INTERVAL", "2s"}};
            const auto cfg = spdlog_ext::slack_config::from_env();
            CHECK(cfg.mention == "<!subteam^S0123ABC>");
            CHECK(cfg.level == spdlog::level::warn);
            CHECK(cfg.max_detailed == 3);
            CHECK(cfg.engine.min_write_interval == 2s);
        }
        {
            test::env_guard detailed{{"LOG_SLACK_MENTION", nullptr},
                                     {"LOG_SLACK_MAX_DETAILED", "20"}};
            try {
                spdlog_ext::slack_config::from_env();
                FAIL("20 records in full would exceed 50 blocks");
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "LOG_SLACK_MAX_DETAILED");
            }
        }
        // Through LOG_BACKENDS: the sink's level defaults to err.
        test::env_guard no_mention{{"LOG_SLACK_MENTION", nullptr}};
        const auto sinks = spdlog_ext::sinks_from_string("slack");
        REQUIRE(sinks.size() == 1);
        CHECK(sinks[0]->level() == spdlog::level::err);
        {
            test::env_guard level{{"LOG_SLACK_LEVEL", "critical"}};
            const auto critical_only = spdlog_ext::sinks_from_string("slack");
            REQUIRE(critical_only.size() == 1);
            CHECK(critical_only[0]->level() == spdlog::level::critical);
        }
    }
}
