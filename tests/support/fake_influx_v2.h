// A fake InfluxDB v2 write endpoint (POST /api/v2/write) on 127.0.0.1 that validates every
// request strictly, parses the body with the independent line-protocol parser
// (line_protocol_parser.h), records the points it "writes", and injects faults per request.
//
//   test::fake_influx_v2 influx;  // token, org, bucket: test-token, test-org, test-bucket
//   cfg.url = influx.url();       // http://127.0.0.1:<port> (base URL, no path)
//   influx.set_faults([](const test::influx_request& r, const std::vector<test::lp::point>&) {
//       return r.index == 0 ? test::influx_fault::answer(503, "1") : test::influx_fault{};
//   });
//   ... log, flush ...
//   CHECK(influx.violations().empty());         // the client never broke the protocol
//   CHECK(influx.collapsed().empty());          // no point overwrote a different one
//   auto points = influx.points();              // every written point, in arrival order
//
// Validation (in this order; the first problem decides the answer; every violation is recorded
// as "request <index>: <what>"; error bodies are v2's JSON {"code": ..., "message": ...}):
//   - method POST (else 405 "method not allowed") and path /api/v2/write (else 404 "not found"),
//     both violations. Methods other than GET/POST/PUT/PATCH/DELETE never reach the handler.
//   - query (URL-decoded by httplib): org, bucket and precision each exactly once (missing or
//     repeated: 400 "invalid"); org == options.org and bucket == options.bucket (else 404 "not
//     found", `organization name "x" not found` / `bucket "x" not found`); precision == "ns"
//     (else 400). All violations. Other parameters are ignored. (httplib drops an exact
//     repeat of a key=value pair, so only a repeat with another value counts as repeated.)
//   - Authorization exactly "Token <options.token>": missing, or another scheme (Bearer ...):
//     401 "unauthorized" and a violation; the "Token " scheme with another token: 401
//     "unauthorized" / "unauthorized access", counted in auth_failures(), not a violation (the
//     client followed the protocol with the token it was given).
//   - Content-Type text/plain; charset=utf-8 (case-insensitive, spaces around ';' tolerated,
//     no other parameters), else 400, a violation.
//   - Content-Encoding gzip present iff options.expect_gzip (and no other encoding), else 400, a
//     violation. httplib decodes gzip (and deflate/br) bodies before the handler runs, so an
//     undecodable body is refused by httplib itself and never reaches the handler.
//   - the decoded body at most options.max_body_bytes, else 413 "request too large"; not a
//     violation: the client is expected to split the batch and retry.
//   - the body parses with lp::parse(body, options.allow_unsigned) without errors (else 400
//     "invalid" with the first error as message), holds at least one point (400 "writing
//     requires points"), every point has a timestamp, and no two points of one request share
//     series key and timestamp. All violations.
//
// Faults: for each valid request the function given to set_faults (called without the lock;
// the influx_request it sees has status 0: not decided yet) picks an influx_fault:
//   - default: 204, no body, all points written.
//   - status: the answer; a 2xx writes all points, anything else writes none (the body is
//     fault.body, or v2's usual JSON for the status when empty).
//   - reject_lines: indexes (0-based, into the request's points, i.e. the vector the fault
//     function sees; out-of-range indexes are ignored) refused as a partial write: the other
//     points are written and the answer is 422 (unless the fault sets another status than 204)
//     with {"code":"unprocessable entity","message":"partial write: ... dropped=N"}.
//   - retry_after: sent as Retry-After when not empty (meant for 429 and 503).
//   - hang: sleep before answering, outside the lock; the points are written before the hang
//     (as when a client times out while the server has applied the write).
// Written points are appended to points(). collapsed() lists every time a point was written
// with the series key and timestamp of an earlier written point but different fields (field
// sets not identical): InfluxDB would have overwritten (or merged) the earlier point, losing
// data. Writing identical points again (a retry) is fine.
// Thread safety: every accessor may be called from any thread while requests are served.
#pragma once

#include <httplib.h>  // Debian's compiled cpp-httplib: OpenSSL, zlib (see tests/CMakeLists.txt)

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "line_protocol_parser.h"
#include "text_checks.h"

namespace test {

// How the fake answers one valid request. Default: 204, every point written.
struct influx_fault {
    int status = 204;
    std::string body;                   // empty: v2's usual JSON body for the status (none for 2xx)
    std::string retry_after;            // Retry-After header when not empty (429, 503)
    std::chrono::milliseconds hang{0};  // sleep before answering (the write already happened)
    std::vector<std::size_t> reject_lines;  // partial write: these points (0-based) are refused

    static influx_fault answer(int status, std::string retry_after = {}) {
        influx_fault f;
        f.status = status;
        f.retry_after = std::move(retry_after);
        return f;
    }
    static influx_fault reject(std::vector<std::size_t> lines) {
        influx_fault f;
        f.reject_lines = std::move(lines);
        return f;
    }
    static influx_fault hang_for(std::chrono::milliseconds how_long) {
        influx_fault f;
        f.hang = how_long;
        return f;
    }
};

struct influx_v2_options {
    std::string token = "test-token";
    std::string org = "test-org";
    std::string bucket = "test-bucket";
    bool expect_gzip = false;                // Content-Encoding: gzip required (else forbidden)
    std::size_t max_body_bytes = 25u << 20;  // decoded; over it: 413
    bool allow_unsigned = true;              // 5u accepted (InfluxDB 2.x); false: a violation
};

// One request that reached the handler, and how it was answered.
struct influx_request {
    int index = 0;  // 0, 1, 2, ... over all requests that reached the handler
    std::chrono::steady_clock::time_point arrived;  // when the handler ran (body fully read)
    std::size_t lines = 0;       // points in the body (0 unless the body was parsed)
    int status = 0;              // the answer (0 while the fault function runs)
    std::string violation;       // empty when the client did nothing wrong
    std::size_t written = 0;     // points written from this request
    std::size_t body_bytes = 0;  // decoded body size
    bool gzip = false;           // sent with Content-Encoding: gzip
    bool auth_failed = false;    // answered 401 for a wrong token (not a violation)
};

class fake_influx_v2 {
  public:
    using fault_fn = std::function<influx_fault(const influx_request& request,
                                                const std::vector<lp::point>& points)>;

    explicit fake_influx_v2(influx_v2_options o = {}) : options_(std::move(o)) {
        const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            handle(req, res);
        };
        server_.Post(".*", handler);
        server_.Get(".*", handler);
        server_.Put(".*", handler);
        server_.Patch(".*", handler);
        server_.Delete(".*", handler);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    ~fake_influx_v2() {
        server_.stop();  // waits for running handlers (and their hangs)
        thread_.join();
    }

    fake_influx_v2(const fake_influx_v2&) = delete;
    fake_influx_v2& operator=(const fake_influx_v2&) = delete;

    // The base URL the client should use: http://127.0.0.1:<port> (no path).
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    const influx_v2_options& options() const { return options_; }

    void set_faults(fault_fn f) {
        std::lock_guard<std::mutex> lock(mu_);
        faults_ = std::move(f);
    }

    // Every point written, in arrival order (a point written twice appears twice).
    std::vector<lp::point> points() const {
        std::lock_guard<std::mutex> lock(mu_);
        return points_;
    }
    std::size_t point_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return points_.size();
    }
    std::vector<influx_request> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }
    std::size_t request_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_.size();
    }
    // Protocol violations ("request 2: line 3: tags not sorted ('a' after 'b')").
    std::vector<std::string> violations() const {
        std::lock_guard<std::mutex> lock(mu_);
        return violations_;
    }
    std::size_t auth_failures() const {
        std::lock_guard<std::mutex> lock(mu_);
        return auth_failures_;
    }
    // Overwritten points: "request 4: cpu,host=a @ 1700000000000000000: v=1i overwritten by
    // v=2i". Empty when no written point replaced a different one.
    std::vector<std::string> collapsed() const {
        std::lock_guard<std::mutex> lock(mu_);
        return collapsed_;
    }

    bool wait_for_points(std::size_t n, std::chrono::milliseconds limit) const {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (point_count() < n) {
            if (std::chrono::steady_clock::now() > end) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }

  private:
    // The outcome of the validation of one request.
    struct check {
        int status = 0;  // 0: valid
        std::string code;
        std::string message;
        bool violation = false;
        bool auth_failed = false;
    };

    static check fail(int status, std::string code, std::string message, bool violation = true) {
        check c;
        c.status = status;
        c.code = std::move(code);
        c.message = std::move(message);
        c.violation = violation;
        return c;
    }

    static bool content_type_ok(const std::string& header) {
        const std::string v = text::lower(header);
        const auto semi = v.find(';');
        if (semi == std::string::npos || v.find(';', semi + 1) != std::string::npos) {
            return false;
        }
        return text::trim(v.substr(0, semi)) == "text/plain" &&
               text::trim(v.substr(semi + 1)) == "charset=utf-8";
    }

    // JSON-quoted; invalid UTF-8 replaced (the dump would throw).
    static std::string quoted(const std::string& s) { return dump(nlohmann::json(s)); }
    static std::string dump(const nlohmann::json& j) {
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }

    // Validates everything before the faults; fills `points` for a valid request.
    check validate(const httplib::Request& req, influx_request& r,
                   std::vector<lp::point>& points) const {
        if (req.method != "POST") {
            return fail(405, "method not allowed", "method " + req.method + " (want POST)");
        }
        if (req.path != "/api/v2/write") {
            return fail(404, "not found", "path " + quoted(req.path) + " not found");
        }
        for (const char* name : {"org", "bucket", "precision"}) {
            const std::size_t n = req.get_param_value_count(name);
            if (n != 1) {
                return fail(400, "invalid",
                            std::string(n == 0 ? "missing" : "repeated") + " query parameter " +
                                name + " (query: " + quoted(query_text(req)) + ")");
            }
        }
        const std::string org = req.get_param_value("org");
        if (org != options_.org) {
            return fail(404, "not found", "organization name " + quoted(org) + " not found");
        }
        const std::string bucket = req.get_param_value("bucket");
        if (bucket != options_.bucket) {
            return fail(404, "not found", "bucket " + quoted(bucket) + " not found");
        }
        const std::string precision = req.get_param_value("precision");
        if (precision != "ns") {
            return fail(400, "invalid", "precision " + quoted(precision) + " (want ns)");
        }
        if (!req.has_header("Authorization")) {
            return fail(401, "unauthorized", "no Authorization header");
        }
        const std::string auth = req.get_header_value("Authorization");
        if (auth.rfind("Token ", 0) != 0) {
            return fail(401, "unauthorized",
                        "Authorization " + quoted(auth) + " (want \"Token <token>\")");
        }
        if (auth.substr(6) != options_.token) {
            check c = fail(401, "unauthorized", "unauthorized access", false);
            c.auth_failed = true;
            return c;
        }
        const std::string type = req.get_header_value("Content-Type");
        if (!content_type_ok(type)) {
            return fail(400, "invalid",
                        "Content-Type " + quoted(type) + " (want \"text/plain; charset=utf-8\")");
        }
        const std::size_t encodings = req.get_header_value_count("Content-Encoding");
        const std::string encoding = req.get_header_value("Content-Encoding");
        if (encodings > 1 || (options_.expect_gzip ? encoding != "gzip" : !encoding.empty())) {
            return fail(400, "invalid",
                        "Content-Encoding " + quoted(encoding) +
                            (options_.expect_gzip ? " (want gzip)" : " (want none)"));
        }
        if (req.body.size() > options_.max_body_bytes) {
            return fail(413, "request too large",
                        "unable to read data: body of " + std::to_string(req.body.size()) +
                            " bytes exceeds the limit of " +
                            std::to_string(options_.max_body_bytes),
                        false);
        }
        lp::parse_result parsed = lp::parse(req.body, options_.allow_unsigned);
        if (!parsed.errors.empty()) {
            return fail(400, "invalid", parsed.errors.front());
        }
        if (parsed.points.empty()) {
            return fail(400, "invalid", "writing requires points");
        }
        std::set<std::pair<std::string, std::int64_t>> seen;
        for (std::size_t i = 0; i < parsed.points.size(); ++i) {
            const lp::point& p = parsed.points[i];
            if (!p.timestamp) {
                return fail(
                    400, "invalid",
                    "point " + std::to_string(i) + " (" + p.series_key() + ") has no timestamp");
            }
            if (!seen.emplace(p.series_key(), *p.timestamp).second) {
                return fail(400, "invalid",
                            "point " + std::to_string(i) + ": series " + p.series_key() + " at " +
                                std::to_string(*p.timestamp) +
                                " twice in one request (the second overwrites the first)");
            }
        }
        r.lines = parsed.points.size();
        points = std::move(parsed.points);
        return {};
    }

    static std::string query_text(const httplib::Request& req) {
        std::string q;
        for (const auto& [k, v] : req.params) {
            q += (q.empty() ? "" : "&") + k + "=" + v;
        }
        return q;
    }

    // v2's usual error code for a status (empty for 2xx).
    static std::string usual_code(int status) {
        switch (status) {
            case 400:
                return "invalid";
            case 401:
                return "unauthorized";
            case 403:
                return "forbidden";
            case 404:
                return "not found";
            case 413:
                return "request too large";
            case 422:
                return "unprocessable entity";
            case 429:
                return "too many requests";
            case 503:
                return "unavailable";
            default:
                return status >= 200 && status < 300 ? "" : "internal error";
        }
    }

    static void answer(httplib::Response& res, int status, const std::string& code,
                       const std::string& message, const std::string& body,
                       const std::string& retry_after) {
        res.status = status;
        if (!retry_after.empty()) {
            res.set_header("Retry-After", retry_after);
        }
        if (!body.empty()) {
            res.set_content(body, "application/json; charset=utf-8");
        } else if (!code.empty()) {
            res.set_content(dump(nlohmann::json{{"code", code}, {"message", message}}),
                            "application/json; charset=utf-8");
        }
    }

    // Appends written points and tracks overwrites; mu_ held.
    void write_locked(const influx_request& r, std::vector<lp::point>& written) {
        for (auto& p : written) {
            auto key = std::make_pair(p.series_key(), *p.timestamp);
            auto it = latest_.find(key);
            if (it == latest_.end()) {
                latest_.emplace(std::move(key), p.fields);
            } else if (it->second != p.fields) {
                lp::point before = p;
                before.fields = it->second;
                collapsed_.push_back("request " + std::to_string(r.index) + ": " + key.first +
                                     " @ " + std::to_string(key.second) + ": " +
                                     before.fields_text() + " overwritten by " + p.fields_text());
                it->second = p.fields;
            }
            points_.push_back(std::move(p));
        }
    }

    void handle(const httplib::Request& req, httplib::Response& res) {
        influx_request r;
        r.arrived = std::chrono::steady_clock::now();
        r.body_bytes = req.body.size();
        r.gzip = req.get_header_value("Content-Encoding") == "gzip";
        std::vector<lp::point> points;
        const check c = validate(req, r, points);
        std::size_t slot = 0;
        fault_fn faults;
        {
            std::lock_guard<std::mutex> lock(mu_);
            r.index = next_index_++;
            if (c.status != 0) {
                r.status = c.status;
                r.auth_failed = c.auth_failed;
                if (c.violation) {
                    r.violation = c.message;
                    violations_.push_back("request " + std::to_string(r.index) + ": " + c.message);
                }
                if (c.auth_failed) {
                    ++auth_failures_;
                }
                requests_.push_back(r);
            } else {
                faults = faults_;
                slot = requests_.size();
                requests_.push_back(r);
            }
        }
        if (c.status != 0) {
            answer(res, c.status, c.code, c.message, {}, {});
            return;
        }

        // A valid request: the faults decide (outside the lock: they may call the accessors).
        influx_fault fault;
        if (faults) {
            fault = faults(r, points);
        }
        int status = fault.status;
        std::string code = usual_code(status);
        std::string message = code;
        std::vector<lp::point> written;
        if (!fault.reject_lines.empty()) {
            const std::set<std::size_t> rejected(fault.reject_lines.begin(),
                                                 fault.reject_lines.end());
            std::string which;
            std::size_t dropped = 0;
            for (std::size_t i = 0; i < points.size(); ++i) {
                if (rejected.count(i) != 0) {
                    ++dropped;
                    which += (which.empty() ? "" : ", ") + std::to_string(i + 1);
                } else {
                    written.push_back(std::move(points[i]));
                }
            }
            if (status == 204) {
                status = 422;
            }
            code = usual_code(status);
            message =
                "failure writing points to database: partial write: points rejected by "
                "the test (line " +
                which + ") dropped=" + std::to_string(dropped);
        } else if (status >= 200 && status < 300) {
            written = std::move(points);
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            requests_[slot].status = status;
            requests_[slot].written = written.size();
            write_locked(requests_[slot], written);
        }
        if (fault.hang.count() > 0) {
            std::this_thread::sleep_for(fault.hang);
        }
        answer(res, status, code, message, fault.body, fault.retry_after);
    }

    influx_v2_options options_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;

    mutable std::mutex mu_;
    fault_fn faults_;
    int next_index_ = 0;
    std::vector<lp::point> points_;
    std::vector<influx_request> requests_;
    std::vector<std::string> violations_;
    std::size_t auth_failures_ = 0;
    std::map<std::pair<std::string, std::int64_t>, std::map<std::string, lp::value>> latest_;
    std::vector<std::string> collapsed_;
};

}  // namespace test
