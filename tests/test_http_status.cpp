// The HTTP backends' status tables, run on hand-built responses: no server.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "sinks/datadog/datadog_backend.h"
#include "sinks/http/http_status.h"
#include "sinks/influx/influx_backend.h"
#include "sinks/slack/slack_backend.h"

using namespace std::chrono_literals;
using spdlog_ext::batch_result;
using spdlog_ext::detail::http_response;
using outcome = batch_result::outcome;

namespace {

enum class table { generic, datadog, slack, influx_v1, influx_v2 };

const char* name_of(table t) {
    switch (t) {
        case table::generic:
            return "generic";
        case table::datadog:
            return "datadog";
        case table::slack:
            return "slack";
        case table::influx_v1:
            return "influx v1";
        case table::influx_v2:
            return "influx v2";
    }
    return "?";
}

batch_result classify(table t, const http_response& r) {
    namespace d = spdlog_ext::detail;
    switch (t) {
        case table::generic:
            return d::classify(r, d::status_table("intake"));
        case table::datadog:
            return d::datadog_backend::classify(r);
        case table::slack:
            return d::slack_backend::classify(r);
        case table::influx_v1:
            return d::influx_backend::classify(r, spdlog_ext::influx_api::v1);
        case table::influx_v2:
            return d::influx_backend::classify(r, spdlog_ext::influx_api::v2);
    }
    return {};
}

constexpr long long no_retry_after = -1;

struct row {
    table in;
    long status;
    std::string body;
    std::string retry_after;  // the raw header
    std::string error;        // libcurl's text (status 0)
    bool request_sent;
    outcome kind;
    std::string reason;
    long long retry_after_ms;  // expected; no_retry_after: none
    bool outcome_unknown;
};

const std::string slack_webhook_tail =
    "): the webhook is invalid or revoked, or its channel is archived; check SLACK_WEBHOOK_URL. "
    "The sink has stopped posting";

const std::vector<row>& rows() {
    static const std::vector<row> all = {
        // The generic rules (today's transport classification).
        {table::generic, 200, "", "", "", true, outcome::delivered, "", no_retry_after, false},
        {table::generic, 204, "", "", "", true, outcome::delivered, "", no_retry_after, false},
        {table::generic, 408, "", "", "", true, outcome::retry, "intake answered HTTP 408",
         no_retry_after, true},
        {table::generic, 429, "slow down", "2", "", true, outcome::retry,
         "intake answered HTTP 429: slow down", 2000, false},
        {table::generic, 429, "", "Wed, 21 Oct 2099 07:28:00 GMT", "", true, outcome::retry,
         "intake answered HTTP 429", no_retry_after, false},  // absurdly far ahead: absent
        {table::generic, 500, "oops", "", "", true, outcome::retry,
         "intake answered HTTP 500: oops", no_retry_after, true},  // a 5xx may have been applied
        {table::generic, 503, "", "7", "", true, outcome::retry, "intake answered HTTP 503", 7000,
         true},
        {table::generic, 413, "payload too large", "", "", true, outcome::split,
         "intake answered HTTP 413: payload too large", no_retry_after, false},
        {table::generic, 400, "{\"errors\":[{\"detail\":\"bad item\"}]}\nsecond line", "", "", true,
         outcome::rejected, R"(intake answered HTTP 400: {"errors":[{"detail":"bad item"}]})",
         no_retry_after, false},
        {table::generic, 403, "Forbidden", "", "", true, outcome::rejected,
         "intake answered HTTP 403: Forbidden", no_retry_after, false},
        {table::generic, 302, "  moved {status}  \n", "", "", true, outcome::rejected,
         "intake answered HTTP 302: moved {status}", no_retry_after, false},
        {table::generic, 0, "", "", "Connection refused", false, outcome::retry,
         "intake: Connection refused", no_retry_after, false},  // known unsent
        {table::generic, 0, "", "", "Operation timed out", true, outcome::retry,
         "intake: Operation timed out", no_retry_after, true},
        // Datadog: 400 isolate, 401/403 disable.
        {table::datadog, 202, "{}", "", "", true, outcome::delivered, "", no_retry_after, false},
        {table::datadog, 400, " bad item \nmore", "", "", true, outcome::isolate,
         "Datadog intake answered HTTP 400: bad item", no_retry_after, false},
        {table::datadog, 401, "denied", "", "", true, outcome::disable,
         "Datadog refused the API key (HTTP 401): check DD_API_KEY and DD_SITE; the sink has "
         "stopped sending",
         no_retry_after, false},
        {table::datadog, 403, "", "", "", true, outcome::disable,
         "Datadog refused the API key (HTTP 403): check DD_API_KEY and DD_SITE; the sink has "
         "stopped sending",
         no_retry_after, false},
        {table::datadog, 402, "x", "", "", true, outcome::rejected,
         "Datadog intake answered HTTP 402: x", no_retry_after, false},
        {table::datadog, 413, "", "", "", true, outcome::split, "Datadog intake answered HTTP 413",
         no_retry_after, false},
        {table::datadog, 429, "", "3", "", true, outcome::retry, "Datadog intake answered HTTP 429",
         3000, false},
        {table::datadog, 0, "", "", "timeout", true, outcome::retry, "Datadog intake: timeout",
         no_retry_after, true},
        // Slack: 400 isolate (write() retries it as plain text), 403/404/410 disable; its body
        // reason is Slack's answer, first line, untrimmed.
        {table::slack, 200, "ok", "", "", true, outcome::delivered, "", no_retry_after, false},
        {table::slack, 400, "invalid_blocks", "", "", true, outcome::isolate,
         "Slack refused the message (HTTP 400: invalid_blocks)", no_retry_after, false},
        {table::slack, 400, " spaced \nnext", "", "", true, outcome::isolate,
         "Slack refused the message (HTTP 400:  spaced )", no_retry_after, false},
        {table::slack, 400, "", "", "", true, outcome::isolate,
         "Slack refused the message (HTTP 400)", no_retry_after, false},
        {table::slack, 403, "invalid_token", "", "", true, outcome::disable,
         "Slack refused the webhook (HTTP 403: invalid_token" + slack_webhook_tail, no_retry_after,
         false},
        {table::slack, 404, "no_service", "", "", true, outcome::disable,
         "Slack refused the webhook (HTTP 404: no_service" + slack_webhook_tail, no_retry_after,
         false},
        {table::slack, 410, "", "", "", true, outcome::disable,
         "Slack refused the webhook (HTTP 410" + slack_webhook_tail, no_retry_after, false},
        {table::slack, 405, " x ", "", "", true, outcome::rejected,
         "Slack webhook answered HTTP 405: x", no_retry_after, false},
        {table::slack, 500, "", "", "", true, outcome::retry, "Slack webhook answered HTTP 500",
         no_retry_after, true},
        // InfluxDB: 400/422 isolate, 401/403 disable, 404 rejected, with each API's hints; its
        // body reason is the server's JSON message.
        {table::influx_v2, 204, "", "", "", true, outcome::delivered, "", no_retry_after, false},
        {table::influx_v2, 400, R"({"code":"invalid","message":"unable to parse"})", "", "", true,
         outcome::isolate, "InfluxDB (HTTP 400): unable to parse", no_retry_after, false},
        {table::influx_v2, 422, "", "", "", true, outcome::isolate,
         "InfluxDB (HTTP 422): ", no_retry_after, false},
        {table::influx_v2, 401, R"({"code":"unauthorized","message":"unauthorized access"})", "",
         "", true, outcome::disable,
         "InfluxDB (HTTP 401): unauthorized access; check INFLUX_TOKEN (and that it may write to "
         "INFLUX_BUCKET). The sink has stopped writing",
         no_retry_after, false},
        {table::influx_v2, 403, "forbidden\nmore", "", "", true, outcome::disable,
         "InfluxDB (HTTP 403): forbidden; check INFLUX_TOKEN (and that it may write to "
         "INFLUX_BUCKET). The sink has stopped writing",
         no_retry_after, false},
        {table::influx_v2, 404, R"({"message":"bucket not found"})", "", "", true,
         outcome::rejected,
         "InfluxDB (HTTP 404): bucket not found; check INFLUX_ORG and INFLUX_BUCKET",
         no_retry_after, false},
        {table::influx_v2, 413, R"({"message":"too big"})", "", "", true, outcome::split,
         R"(InfluxDB answered HTTP 413: {"message":"too big"})", no_retry_after, false},
        {table::influx_v2, 503, "", "1", "", true, outcome::retry, "InfluxDB answered HTTP 503",
         1000, true},
        {table::influx_v2, 0, "", "", "Could not resolve host", false, outcome::retry,
         "InfluxDB: Could not resolve host", no_retry_after, false},
        {table::influx_v1, 400, R"({"error":"partial write: field type conflict"})", "", "", true,
         outcome::isolate, "InfluxDB (HTTP 400): partial write: field type conflict",
         no_retry_after, false},
        {table::influx_v1, 401, R"({"error":"authorization failed"})", "", "", true,
         outcome::disable,
         "InfluxDB (HTTP 401): authorization failed; check INFLUX_USERNAME and INFLUX_PASSWORD. "
         "The sink has stopped writing",
         no_retry_after, false},
        {table::influx_v1, 404, R"({"error":"database not found: \"logs\""})", "", "", true,
         outcome::rejected,
         "InfluxDB (HTTP 404): database not found: \"logs\"; check INFLUX_DATABASE (create it "
         "first)",
         no_retry_after, false},
    };
    return all;
}

}  // namespace

TEST_SUITE("http") {
    TEST_CASE("each HTTP backend's status table gives today's outcome and reason") {
        for (const row& expected : rows()) {
            http_response response;
            response.status = expected.status;
            response.body = expected.body;
            response.retry_after = expected.retry_after;
            response.error = expected.error;
            response.request_sent = expected.request_sent;
            const batch_result got = classify(expected.in, response);
            const std::string label = std::string(name_of(expected.in)) + " HTTP " +
                                      std::to_string(expected.status) + " body '" + expected.body +
                                      "'";
            INFO(label);
            CHECK(got.kind == expected.kind);
            CHECK(got.reason == expected.reason);
            CHECK(got.outcome_unknown == expected.outcome_unknown);
            if (expected.retry_after_ms == no_retry_after) {
                CHECK_FALSE(got.retry_after.has_value());
            } else {
                REQUIRE(got.retry_after.has_value());
                CHECK(got.retry_after->count() == expected.retry_after_ms);
            }
        }
    }

    TEST_CASE("the generic rules are every table's default") {
        // A status no backend lists falls through to the same outcome in every table.
        for (const table t :
             {table::generic, table::datadog, table::slack, table::influx_v1, table::influx_v2}) {
            const std::string label = name_of(t);
            INFO(label);
            http_response response;
            response.request_sent = true;
            response.body = "busy";
            response.retry_after = "5";
            for (const long status : {408L, 429L, 500L, 502L, 599L}) {
                response.status = status;
                const batch_result got = classify(t, response);
                CHECK(got.kind == outcome::retry);
                CHECK(got.outcome_unknown == (status != 429));
                REQUIRE(got.retry_after.has_value());
                CHECK(*got.retry_after == 5000ms);
            }
            response.status = 413;
            CHECK(classify(t, response).kind == outcome::split);
            response.status = 299;
            CHECK(classify(t, response).kind == outcome::delivered);
            response.status = 418;
            CHECK(classify(t, response).kind == outcome::rejected);
        }
    }
}
