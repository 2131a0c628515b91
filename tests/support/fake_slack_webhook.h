// A fake Slack incoming webhook on 127.0.0.1 that validates every request strictly, records what
// it received and what it answered, and injects faults per request.
//
//   test::slack_webhook_options options;
//   options.min_interval = std::chrono::milliseconds(200);  // faster than Slack, for quick tests
//   test::fake_slack_webhook slack(options);
//   cfg.webhook_url = slack.url();              // http://127.0.0.1:<port>/services/T.../B.../...
//   slack.set_faults([](const test::slack_post& p) {
//       return p.index == 0 ? test::slack_fault::answer(429, "1") : test::slack_fault{};
//   });
//   ... log, flush ...
//   CHECK(slack.violations().empty());          // the client never broke the protocol
//   auto messages = slack.accepted();           // payloads that "appeared in the channel"
//
// Validation (every violation is recorded as "request <index>: <what>"; a request with several
// problems gets one entry listing them all, joined by "; "):
//   - path exactly options.path: a request on another path (any method) is answered 404
//     "no_service", recorded, and is not a violation: the client was just given a wrong URL.
//   - method POST (a GET is a violation; other methods never reach the handler: httplib answers
//     them itself and they are not recorded).
//   - Content-Type application/json, optionally with parameters; a charset parameter must be
//     utf-8 (case-insensitive, quotes allowed).
//   - The body is strictly valid UTF-8 (no overlong forms, surrogates, code points above
//     U+10FFFF or truncated sequences) and parses as a JSON object. Top-level keys other than
//     `text` and `blocks` are not checked.
//   - `text`: a non-empty string of at most 40000 characters (Unicode code points).
//   - `blocks` (optional: a text-only message is valid): an array of 1..50 objects. Each has a
//   `type` (header, section, context, divider),
//     an optional `block_id` string of at most 255 characters (unique within the message, as
//     Slack requires), and only the keys of its type:
//       header:  `text`, a plain_text object of 1..150 characters;
//       section: `text` (a text object of 1..3000 characters) and/or `fields` (1..10 text objects
//                of 1..2000 characters each), at least one of the two;
//       context: `elements`, 1..10 text objects of 1..3000 characters each;
//       divider: nothing else.
//     A text object is {"type": "plain_text"|"mrkdwn", "text": string} with an optional boolean
//     "emoji" (plain_text only) or "verbatim" (mrkdwn only), and no other keys.
//   - Escaping, for `text` and every text object: once each token of options.allowed_mentions is
//     removed, no '<' or '>' remains and every '&' starts "&amp;", "&lt;" or "&gt;". So
//     <!channel>, <!here>, <@U123> or <http://x|y> are violations unless allowed.
//   - Rate, for a request on the webhook path: arriving less than (min_interval - tolerance)
//     after the previous request on that path (valid or not) is "posted too soon"; arriving
//     before (the time of an earlier 429 answer + its Retry-After seconds - tolerance) is
//     "ignored Retry-After". Either is answered 429 "rate_limited" with a Retry-After ("1" for
//     too soon, the seconds left for an ignored Retry-After).
// A request with an invalid payload (or method, Content-Type, encoding) is answered 400
// "invalid_payload". Nothing that is a violation is accepted.
//
// Faults: for each valid request the function given to set_faults picks a slack_fault (status,
// body, Retry-After, a hang before answering); the default is 200 "ok". The slack_post it sees
// has status 0 and accepted false: the answer is not decided yet. A request answered 200 is
// accepted when its hang starts (the message is in the channel, only the answer is late, as
// after a client timeout). Every answer body is text/plain. A 429 answer with a Retry-After of N
// whole seconds (from a fault or a rate violation) sets the Retry-After window above.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fake_http_server.h"
#include "text_checks.h"

namespace test {

// What the webhook answers to one valid request. Default: 200 "ok".
struct slack_fault {
    int status = 200;
    std::string body;                   // empty: Slack's usual text for the status (see below)
    std::string retry_after;            // sent as Retry-After when not empty (for 429), e.g. "2"
    std::chrono::milliseconds hang{0};  // sleep before answering (past the client's timeout)

    static slack_fault answer(int status, std::string retry_after = {}) {
        slack_fault f;
        f.status = status;
        f.retry_after = std::move(retry_after);
        return f;
    }
    // A status with a given body, e.g. answer_body(400, "invalid_blocks").
    static slack_fault answer_body(int status, std::string body) {
        slack_fault f;
        f.status = status;
        f.body = std::move(body);
        return f;
    }

    // Slack's usual answer body for a status ("" for a status Slack does not document).
    static std::string usual_body(int status) {
        switch (status) {
            case 200:
                return "ok";
            case 400:
                return "invalid_payload";
            case 403:
                return "invalid_token";
            case 404:
                return "no_service";
            case 410:
                return "channel_is_archived";
            case 429:
                return "rate_limited";
            case 500:
                return "rollup_error";
            default:
                return {};
        }
    }
};

// One request that reached the webhook's handler, and how it was answered.
struct slack_post {
    int index = 0;  // 0, 1, 2, ... over all requests that reached the handler (any path)
    std::chrono::steady_clock::time_point arrived;
    nlohmann::json payload;  // the parsed body; null when invalid (or on a wrong path)
    int status = 0;          // what was answered (0 while the fault function runs)
    bool accepted = false;   // valid and answered 200: the message "appears in the channel"
    std::string path;        // the request path
    std::string violation;   // empty when the client did nothing wrong
};

struct slack_webhook_options {
    std::string path = "/services/T0000TEST/B0000TEST/abcdefghijklmnopqrstuvwx";
    std::chrono::milliseconds min_interval{1000};  // Slack: about 1 message per second
    std::chrono::milliseconds tolerance{50};       // timing slack for the interval checks
    std::vector<std::string> allowed_mentions;     // e.g. {"<!here>"}: may appear unescaped
};

class fake_slack_webhook {
  public:
    using fault_fn = std::function<slack_fault(const slack_post& request)>;

    explicit fake_slack_webhook(slack_webhook_options options = {})
        : options_(std::move(options)),
          server_([this](const recorded_request& r, httplib::Response& res, int /*index*/) {
              handle(r, res);
          }) {}

    fake_slack_webhook(const fake_slack_webhook&) = delete;
    fake_slack_webhook& operator=(const fake_slack_webhook&) = delete;

    // The webhook URL the client should use: http://127.0.0.1:<port><path>.
    std::string url() const { return server_.url(options_.path); }
    // A URL on the same server with another path (answered 404 "no_service").
    std::string url_with_path(const std::string& path) const { return server_.url(path); }

    // Called (without the webhook's lock held) for each valid request, before answering.
    void set_faults(fault_fn faults) {
        std::lock_guard<std::mutex> lock(mu_);
        faults_ = std::move(faults);
    }

    // Every request that reached the handler, in arrival order.
    std::vector<slack_post> posts() const {
        std::lock_guard<std::mutex> lock(mu_);
        return posts_;
    }
    // The payloads of the accepted posts, in arrival order.
    std::vector<nlohmann::json> accepted() const {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<nlohmann::json> out;
        for (const auto& p : posts_) {
            if (p.accepted) {
                out.push_back(p.payload);
            }
        }
        return out;
    }
    std::size_t accepted_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return static_cast<std::size_t>(std::count_if(
            posts_.begin(), posts_.end(), [](const slack_post& p) { return p.accepted; }));
    }
    // Protocol violations ("request 2: blocks[0] (section): text: 3001 characters (max 3000)").
    std::vector<std::string> violations() const {
        std::lock_guard<std::mutex> lock(mu_);
        return violations_;
    }
    // The raw requests (headers, bodies) as the underlying server recorded them.
    std::vector<recorded_request> requests() const { return server_.requests(); }

    bool wait_for_accepted(std::size_t n, std::chrono::milliseconds limit) const {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (accepted_count() < n) {
            if (std::chrono::steady_clock::now() > end) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }

    // Kept as members for tests written against them.
    static std::size_t invalid_utf8_at(const std::string& s) { return text::invalid_utf8_at(s); }
    static std::size_t characters(const std::string& s) { return text::characters(s); }

  private:
    using clock = std::chrono::steady_clock;

    // Empty when the Content-Type is application/json with an acceptable charset.
    static std::string check_content_type(const std::string& header) {
        const std::string value = text::lower(header);
        const auto semi = value.find(';');
        if (text::trim(value.substr(0, semi)) != "application/json") {
            return "Content-Type '" + header + "' (want application/json)";
        }
        std::size_t pos = semi;
        while (pos != std::string::npos) {
            const auto next = value.find(';', pos + 1);
            const std::string param = text::trim(value.substr(
                pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1));
            pos = next;
            const auto eq = param.find('=');
            if (eq == std::string::npos || text::trim(param.substr(0, eq)) != "charset") {
                continue;
            }
            std::string charset = text::trim(param.substr(eq + 1));
            if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') {
                charset = charset.substr(1, charset.size() - 2);
            }
            if (charset != "utf-8" && charset != "utf8") {
                return "Content-Type '" + header + "' (charset must be utf-8)";
            }
        }
        return {};
    }

    // Empty when `s` is escaped as Slack requires (see the file comment).
    std::string check_escaping(const std::string& s) const {
        std::string rest = s;
        for (const auto& token : options_.allowed_mentions) {
            if (token.empty()) {
                continue;
            }
            for (auto at = rest.find(token); at != std::string::npos; at = rest.find(token, at)) {
                rest.erase(at, token.size());
            }
        }
        for (std::size_t i = 0; i < rest.size(); ++i) {
            if (rest[i] == '<' || rest[i] == '>') {
                return std::string("unescaped '") + rest[i] + "' in " + excerpt(s);
            }
            if (rest[i] == '&' && rest.compare(i, 5, "&amp;") != 0 &&
                rest.compare(i, 4, "&lt;") != 0 && rest.compare(i, 4, "&gt;") != 0) {
                return "unescaped '&' in " + excerpt(s);
            }
        }
        return {};
    }

    static std::string excerpt(const std::string& s) {
        nlohmann::json j = s.size() <= 80 ? s : s.substr(0, 80) + "...";
        // A cut in the middle of a code point would make dump() throw; replace it instead.
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }

    static std::string length_problem(const std::string& what, std::size_t n, std::size_t min,
                                      std::size_t max) {
        if (n >= min && n <= max) {
            return {};
        }
        return what + ": " + std::to_string(n) + " characters (want " + std::to_string(min) + ".." +
               std::to_string(max) + ")";
    }

    // Checks a text object; `only` restricts its type ("" for either). Empty when valid.
    std::string check_text_object(const nlohmann::json& t, const std::string& where,
                                  const std::string& only, std::size_t max) const {
        if (!t.is_object()) {
            return where + ": not a text object";
        }
        if (!t.contains("type") || !t["type"].is_string()) {
            return where + ": no string type";
        }
        const std::string type = t["type"].get<std::string>();
        if (type != "plain_text" && type != "mrkdwn") {
            return where + ": type '" + type + "' (want plain_text or mrkdwn)";
        }
        if (!only.empty() && type != only) {
            return where + ": type '" + type + "' (want " + only + ")";
        }
        for (const auto& item : t.items()) {
            const std::string& key = item.key();
            if (key == "type" || key == "text") {
                continue;
            }
            const bool known =
                (key == "emoji" && type == "plain_text") || (key == "verbatim" && type == "mrkdwn");
            if (!known) {
                return where + ": key '" + key + "' not allowed in a " + type + " object";
            }
            if (!item.value().is_boolean()) {
                return where + ": " + key + " is not a boolean";
            }
        }
        if (!t.contains("text") || !t["text"].is_string()) {
            return where + ": no string text";
        }
        const auto& text = t["text"].get_ref<const std::string&>();
        std::string problem = length_problem(where + ".text", characters(text), 1, max);
        if (!problem.empty()) {
            return problem;
        }
        problem = check_escaping(text);
        return problem.empty() ? problem : where + ".text: " + problem;
    }

    std::string check_text_array(const nlohmann::json& block, const std::string& key,
                                 const std::string& where, std::size_t max_chars) const {
        const nlohmann::json& a = block[key];
        if (!a.is_array() || a.empty() || a.size() > 10) {
            return where + ": " + key + " is not an array of 1..10 text objects" +
                   (a.is_array() ? " (has " + std::to_string(a.size()) + ")" : "");
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string problem = check_text_object(
                a[i], where + ": " + key + "[" + std::to_string(i) + "]", "", max_chars);
            if (!problem.empty()) {
                return problem;
            }
        }
        return {};
    }

    std::string check_block(const nlohmann::json& block, std::size_t i,
                            std::set<std::string>& block_ids) const {
        std::string where = "blocks[" + std::to_string(i) + "]";
        if (!block.is_object()) {
            return where + ": not an object";
        }
        if (!block.contains("type") || !block["type"].is_string()) {
            return where + ": no string type";
        }
        const std::string type = block["type"].get<std::string>();
        where += " (" + type + ")";
        std::set<std::string> keys;
        if (type == "header") {
            keys = {"text"};
        } else if (type == "section") {
            keys = {"text", "fields"};
        } else if (type == "context") {
            keys = {"elements"};
        } else if (type != "divider") {
            return where + ": unknown block type (want header, section, context or divider)";
        }
        for (const auto& item : block.items()) {
            if (item.key() != "type" && item.key() != "block_id" && keys.count(item.key()) == 0) {
                return where + ": key '" + item.key() + "' not allowed";
            }
        }
        if (block.contains("block_id")) {
            if (!block["block_id"].is_string()) {
                return where + ": block_id is not a string";
            }
            const auto& id = block["block_id"].get_ref<const std::string&>();
            if (characters(id) > 255) {
                return where + ": block_id: " + std::to_string(characters(id)) +
                       " characters (max 255)";
            }
            if (!block_ids.insert(id).second) {
                return where + ": duplicate block_id '" + id + "'";
            }
        }
        if (type == "header") {
            if (!block.contains("text")) {
                return where + ": no text";
            }
            return check_text_object(block["text"], where + ": text", "plain_text", 150);
        }
        if (type == "section") {
            if (!block.contains("text") && !block.contains("fields")) {
                return where + ": neither text nor fields";
            }
            if (block.contains("text")) {
                const std::string problem =
                    check_text_object(block["text"], where + ": text", "", 3000);
                if (!problem.empty()) {
                    return problem;
                }
            }
            return block.contains("fields") ? check_text_array(block, "fields", where, 2000)
                                            : std::string();
        }
        if (type == "context") {
            if (!block.contains("elements")) {
                return where + ": no elements";
            }
            return check_text_array(block, "elements", where, 3000);
        }
        return {};  // divider
    }

    // Checks the payload; empty when valid.
    std::string check_payload(const nlohmann::json& payload) const {
        if (!payload.is_object()) {
            return "body is not a JSON object";
        }
        if (!payload.contains("text") || !payload["text"].is_string()) {
            return "no string text";
        }
        const auto& text = payload["text"].get_ref<const std::string&>();
        std::string problem = length_problem("text", characters(text), 1, 40000);
        if (!problem.empty()) {
            return problem;
        }
        problem = check_escaping(text);
        if (!problem.empty()) {
            return "text: " + problem;
        }
        if (!payload.contains("blocks")) {
            return {};  // a text-only message
        }
        if (!payload["blocks"].is_array()) {
            return "blocks is not an array";
        }
        const nlohmann::json& blocks = payload["blocks"];
        if (blocks.empty() || blocks.size() > 50) {
            return "blocks: " + std::to_string(blocks.size()) + " blocks (want 1..50)";
        }
        std::set<std::string> block_ids;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            problem = check_block(blocks[i], i, block_ids);
            if (!problem.empty()) {
                return problem;
            }
        }
        return {};
    }

    // Checks everything but the path and the rate; fills `payload` when the body parses.
    std::string check_request(const recorded_request& r, nlohmann::json& payload) const {
        if (r.method != "POST") {
            return "method " + r.method + " (want POST)";
        }
        std::string problem = check_content_type(r.header("Content-Type"));
        if (!problem.empty()) {
            return problem;
        }
        const std::size_t bad = invalid_utf8_at(r.body);
        if (bad != std::string::npos) {
            return "body is not valid UTF-8 (at byte " + std::to_string(bad) + ")";
        }
        nlohmann::json parsed;
        try {
            parsed = nlohmann::json::parse(r.body);
        } catch (const std::exception& e) {
            return std::string("body is not JSON: ") + e.what();
        }
        problem = check_payload(parsed);
        if (problem.empty()) {
            payload = std::move(parsed);
        }
        return problem;
    }

    // Whole seconds in a Retry-After value, or -1 when it is not a plain number of seconds.
    static long retry_after_seconds(const std::string& value) {
        const std::string v = text::trim(value);
        if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
            return -1;
        }
        return std::stol(v);
    }

    static std::string ms(clock::duration d) {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) +
               " ms";
    }

    void handle(const recorded_request& r, httplib::Response& res) {
        const bool right_path = r.path == options_.path;
        nlohmann::json payload;
        std::string problem = right_path ? check_request(r, payload) : std::string();
        const bool payload_ok = right_path && problem.empty();

        slack_post post;
        post.path = r.path;
        std::size_t slot = 0;
        int status = 0;
        std::string retry_after;
        fault_fn faults;
        {
            std::lock_guard<std::mutex> lock(mu_);
            post.index = next_index_++;
            post.arrived = clock::now();
            std::vector<std::string> problems;
            if (!problem.empty()) {
                problems.push_back(problem);
            }
            bool rate_violation = false;
            if (right_path) {
                if (retry_deadline_ && post.arrived < *retry_deadline_) {
                    const auto left = *retry_deadline_ - post.arrived;
                    problems.push_back("ignored Retry-After (came " + ms(left) + " early)");
                    const auto secs =
                        std::chrono::ceil<std::chrono::seconds>(left + options_.tolerance);
                    retry_after = std::to_string(std::max<long long>(1, secs.count()));
                    rate_violation = true;
                } else if (payload_ok && last_arrival_ &&
                           post.arrived - *last_arrival_ <
                               options_.min_interval - options_.tolerance) {
                    problems.push_back("posted too soon (" + ms(post.arrived - *last_arrival_) +
                                       " after the previous request, want " +
                                       ms(options_.min_interval) + ")");
                    retry_after = "1";
                    rate_violation = true;
                }
                last_arrival_ = post.arrived;
            }
            for (const auto& p : problems) {
                post.violation += (post.violation.empty() ? "" : "; ") + p;
            }
            if (!right_path) {
                status = 404;
            } else if (!payload_ok) {
                status = 400;
            } else if (rate_violation) {
                status = 429;
            }
            if (!post.violation.empty()) {
                violations_.push_back("request " + std::to_string(post.index) + ": " +
                                      post.violation);
            }
            if (payload_ok) {
                post.payload = payload;
            }
            if (status != 429) {
                retry_after.clear();  // only a 429 carries a Retry-After
            }
            if (status != 0) {
                post.status = status;
                if (status == 429) {
                    note_retry_after(retry_after, post.arrived);
                }
            } else {
                faults = faults_;
            }
            slot = posts_.size();
            posts_.push_back(post);
        }
        if (status != 0) {
            answer(res, status, {}, retry_after);
            return;
        }

        // A valid request: the faults decide (outside the lock: they may call the accessors).
        slack_fault fault;
        if (faults) {
            fault = faults(post);
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            posts_[slot].status = fault.status;
            posts_[slot].accepted = fault.status == 200;
        }
        if (fault.hang.count() > 0) {
            std::this_thread::sleep_for(fault.hang);
        }
        if (fault.status == 429) {
            std::lock_guard<std::mutex> lock(mu_);
            note_retry_after(fault.retry_after, clock::now());
        }
        answer(res, fault.status, fault.body, fault.retry_after);
    }

    // After a 429 answered at `when`: requests before when + Retry-After - tolerance violate it.
    void note_retry_after(const std::string& retry_after, clock::time_point when) {
        const long secs = retry_after_seconds(retry_after);
        if (secs < 0) {
            return;
        }
        const auto deadline = when + std::chrono::seconds(secs) - options_.tolerance;
        if (!retry_deadline_ || deadline > *retry_deadline_) {
            retry_deadline_ = deadline;
        }
    }

    static void answer(httplib::Response& res, int status, const std::string& body,
                       const std::string& retry_after) {
        res.status = status;
        if (!retry_after.empty()) {
            res.set_header("Retry-After", retry_after);
        }
        res.set_content(body.empty() ? slack_fault::usual_body(status) : body, "text/plain");
    }

    slack_webhook_options options_;

    mutable std::mutex mu_;
    fault_fn faults_;
    int next_index_ = 0;
    std::vector<slack_post> posts_;
    std::vector<std::string> violations_;
    std::optional<clock::time_point> last_arrival_;    // previous request on the webhook path
    std::optional<clock::time_point> retry_deadline_;  // no request before this (Retry-After)

    fake_http_server server_;  // last: starts serving once everything above is initialized
};

}  // namespace test
