// A fake Datadog Logs intake (HTTP API v2) on 127.0.0.1 that validates every request as strictly
// as Datadog documents it, records the items it accepts, and injects faults per request.
//
//   test::fake_datadog_intake intake({/*api_key*/ "k"});
//   cfg.url = intake.url();                     // http://127.0.0.1:<port>/api/v2/logs
//   intake.set_faults([](const test::intake_request& r, const nlohmann::json& items) {
//       return r.index == 0 ? test::intake_fault::answer(429, "1") : test::intake_fault{};
//   });
//   ... log, flush ...
//   CHECK(intake.violations().empty());         // the client never broke the protocol
//   auto items = intake.items();                // every accepted log item, in arrival order
//
// Validation (in this order; the first failure decides the answer and is counted):
//   method POST and path /api/v2/logs (else 405 / 404), a DD-API-KEY header (missing: 403 and a
//   violation; present but not the expected key: 403 counted as an auth failure, not a
//   violation: the client followed the protocol with the key it was given), Content-Type
//   application/json (else 415), Content-Encoding gzip when options.gzip says so (else 400;
//   httplib gunzips the body before the handler runs, so an invalid gzip body never reaches it
//   and shows up as a request the intake never saw), an uncompressed body of at most 5 MB
//   (else 413), a JSON array (else 400) of 1..1000 objects (else 400), each with a string
//   `message`, a `status` in debug/info/warning/error/critical, an integer `timestamp`, string
//   `service`/`ddsource`/`hostname`/`ddtags` when present, and at most 1 MB serialized (else
//   400: the real intake truncates such a log, this one is strict). MB means 10^6 bytes, the
//   stricter reading (the Datadog Agent's own batch limit is 5000000 bytes).
//
// Faults: a function picks an intake_fault for every valid request (status to answer, a
// Retry-After, a hang before answering, a connection reset, and whether the items count as
// accepted despite the failure, i.e. the intake applied them but the answer was lost).
//
// Connection resets: httplib cannot drop a connection from a handler, so the intake sits behind
// a small TCP proxy (reset_proxy below): the client connects to the proxy, which forwards bytes
// to the httplib server. For a "reset" fault the handler marks its connection, and the proxy,
// instead of forwarding the response, closes the client's side with SO_LINGER 0, which sends a
// real RST after the request was fully received: the client sees "connection reset" with an
// unknown outcome. The proxy only moves bytes, so it works for HTTPS too.
#pragma once

#include <httplib.h>  // Debian's compiled cpp-httplib: OpenSSL, zlib (see tests/CMakeLists.txt)
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace test {

// A TCP proxy on 127.0.0.1 in front of a local server, able to reset a connection on command.
class reset_proxy {
  public:
    explicit reset_proxy(int backend_port) : backend_port_(backend_port) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr = loopback(0);
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(listen_fd_, 64);
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~reset_proxy() {
        stop_ = true;
        ::shutdown(listen_fd_, SHUT_RDWR);
        accept_thread_.join();
        ::close(listen_fd_);
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& c : conns_) {
            c->thread.join();  // each pump polls with a short timeout and sees stop_
        }
    }

    reset_proxy(const reset_proxy&) = delete;
    reset_proxy& operator=(const reset_proxy&) = delete;

    int port() const { return port_; }

    // The connection whose proxy→server side has local port `server_side_port` (the request's
    // remote_port as the server sees it) is reset instead of receiving its next response bytes.
    bool reset_on_response(int server_side_port) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& c : conns_) {
            if (c->server_side_port == server_side_port && !c->done) {
                c->reset = true;
                return true;
            }
        }
        return false;
    }

    int resets() const { return resets_; }
    int connections() const { return connections_; }

  private:
    struct conn {
        int client_fd = -1;
        int server_fd = -1;
        int server_side_port = 0;
        std::atomic<bool> reset{false};
        std::atomic<bool> done{false};
        std::thread thread;
    };

    static sockaddr_in loopback(int port) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        return addr;
    }

    static bool send_all(int fd, const char* data, std::size_t n) {
        while (n > 0) {
            const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                return false;
            }
            data += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }

    void accept_loop() {
        while (!stop_) {
            const int client = ::accept(listen_fd_, nullptr, nullptr);
            if (client < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;  // shut down
            }
            const int server = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr = loopback(backend_port_);
            if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                ::close(server);
                ::close(client);
                continue;
            }
            sockaddr_in local{};
            socklen_t len = sizeof local;
            ::getsockname(server, reinterpret_cast<sockaddr*>(&local), &len);
            auto c = std::make_unique<conn>();
            c->client_fd = client;
            c->server_fd = server;
            c->server_side_port = ntohs(local.sin_port);
            ++connections_;
            std::lock_guard<std::mutex> lock(mu_);
            // Reap finished connections so a long test does not accumulate threads.
            for (auto it = conns_.begin(); it != conns_.end();) {
                if ((*it)->done) {
                    (*it)->thread.join();
                    it = conns_.erase(it);
                } else {
                    ++it;
                }
            }
            conn* raw = c.get();
            c->thread = std::thread([this, raw] { pump(*raw); });
            conns_.push_back(std::move(c));
        }
    }

    void pump(conn& c) {
        std::vector<char> buf(64 * 1024);
        pollfd fds[2] = {{c.client_fd, POLLIN, 0}, {c.server_fd, POLLIN, 0}};
        bool open = true;
        while (open && !stop_) {
            const int n = ::poll(fds, 2, 50);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                break;
            }
            if (n == 0) {
                continue;
            }
            if (fds[0].revents != 0) {  // client → server
                const ssize_t r = ::recv(c.client_fd, buf.data(), buf.size(), 0);
                if (r <= 0 || !send_all(c.server_fd, buf.data(), static_cast<std::size_t>(r))) {
                    open = false;
                }
            }
            if (open && fds[1].revents != 0) {  // server → client
                const ssize_t r = ::recv(c.server_fd, buf.data(), buf.size(), 0);
                if (r > 0 && c.reset) {
                    linger l{1, 0};  // close with RST: the response is never delivered
                    ::setsockopt(c.client_fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                    ++resets_;
                    open = false;
                } else if (r <= 0 ||
                           !send_all(c.client_fd, buf.data(), static_cast<std::size_t>(r))) {
                    open = false;
                }
            }
        }
        ::close(c.client_fd);
        ::close(c.server_fd);
        c.done = true;
    }

    int backend_port_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> resets_{0};
    std::atomic<int> connections_{0};
    std::thread accept_thread_;
    std::mutex mu_;
    std::vector<std::unique_ptr<conn>> conns_;
};

struct intake_options {
    std::string api_key = "test-api-key";  // the expected DD-API-KEY
    std::optional<bool> gzip = true;       // Content-Encoding: gzip required / forbidden / either
    std::size_t max_items = 1000;
    std::size_t max_body_bytes = 5'000'000;  // uncompressed
    std::size_t max_item_bytes = 1'000'000;  // one item, serialized
    std::string tls_cert;                    // both set: HTTPS (httplib::SSLServer)
    std::string tls_key;
};

// How the intake answers one valid request. Default: 202 and the items are accepted.
struct intake_fault {
    int status = 0;                     // 0: 202 Accepted
    std::string retry_after;            // sent as Retry-After when not empty
    std::string body;                   // response body; empty: "{}"
    std::chrono::milliseconds hang{0};  // sleep before answering (past the client's timeout)
    bool reset = false;                 // reset the connection instead of answering
    bool apply = false;                 // accept the items although the answer is a failure / lost

    static intake_fault answer(int status, std::string retry_after = {}, std::string body = {}) {
        intake_fault f;
        f.status = status;
        f.retry_after = std::move(retry_after);
        f.body = std::move(body);
        return f;
    }
    static intake_fault hang_for(std::chrono::milliseconds how_long, bool applied) {
        intake_fault f;
        f.hang = how_long;
        f.apply = applied;
        return f;
    }
    static intake_fault reset_connection(bool applied) {
        intake_fault f;
        f.reset = true;
        f.apply = applied;
        return f;
    }
};

// What the intake saw of one request and how it answered.
struct intake_request {
    int index = 0;
    std::chrono::steady_clock::time_point time;  // when the handler ran (body fully read)
    std::string method;
    std::string path;
    httplib::Headers headers;
    std::size_t body_bytes = 0;  // uncompressed
    std::size_t items = 0;       // items in a valid request
    int status = 0;              // the answer (for a reset: the status that was not delivered)
    bool reset = false;
    bool accepted = false;  // its items were recorded
    bool auth_failed = false;
    std::string violation;  // empty when the request was valid

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class fake_datadog_intake {
  public:
    using fault_fn =
        std::function<intake_fault(const intake_request& request, const nlohmann::json& items)>;

    explicit fake_datadog_intake(intake_options options = {}) : options_(std::move(options)) {
        if (!options_.tls_cert.empty() && !options_.tls_key.empty()) {
            server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(),
                                                           options_.tls_key.c_str());
        } else {
            server_ = std::make_unique<httplib::Server>();
        }
        const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            handle(req, res);
        };
        server_->Post(".*", handler);
        server_->Get(".*", handler);
        server_->Put(".*", handler);
        server_->Patch(".*", handler);
        server_->Delete(".*", handler);
        server_port_ = server_->bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_->listen_after_bind(); });
        while (!server_->is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        proxy_ = std::make_unique<reset_proxy>(server_port_);
    }

    ~fake_datadog_intake() {
        server_->stop();  // waits for running handlers, which may still use the proxy
        thread_.join();
        proxy_.reset();
    }

    fake_datadog_intake(const fake_datadog_intake&) = delete;
    fake_datadog_intake& operator=(const fake_datadog_intake&) = delete;

    bool tls() const { return !options_.tls_cert.empty() && !options_.tls_key.empty(); }

    // The intake URL the client should use (through the proxy).
    std::string url(const std::string& path = "/api/v2/logs") const {
        return std::string(tls() ? "https" : "http") +
               "://127.0.0.1:" + std::to_string(proxy_->port()) + path;
    }

    void set_faults(fault_fn faults) {
        std::lock_guard<std::mutex> lock(mu_);
        faults_ = std::move(faults);
    }

    // What to keep of each accepted item, after validation (default: all of it). Long runs that
    // only need ids keep those, so that the intake's storage does not hide the client's memory.
    void set_keep(std::function<nlohmann::json(nlohmann::json&&)> keep) {
        std::lock_guard<std::mutex> lock(mu_);
        keep_ = std::move(keep);
    }

    // Accepted items (or what set_keep kept of them), in arrival order.
    std::vector<nlohmann::json> items() const {
        std::lock_guard<std::mutex> lock(mu_);
        return items_;
    }
    std::size_t item_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return items_.size();
    }
    std::vector<intake_request> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }
    std::size_t request_count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_.size();
    }
    // Protocol violations ("request 3: item 7: status 'warn' is not a Datadog status").
    std::vector<std::string> violations() const {
        std::lock_guard<std::mutex> lock(mu_);
        return violations_;
    }
    int auth_failures() const {
        std::lock_guard<std::mutex> lock(mu_);
        return auth_failures_;
    }
    int resets() const { return proxy_->resets(); }

    bool wait_for_items(std::size_t n, std::chrono::milliseconds limit) const {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (item_count() < n) {
            if (std::chrono::steady_clock::now() > end) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }

  private:
    // Returns the violation text (empty when valid) and the status to answer with.
    std::string validate(const httplib::Request& req, intake_request& r, nlohmann::json& items,
                         int& status) {
        if (req.method != "POST") {
            status = 405;
            return "method " + req.method + " (want POST)";
        }
        if (req.path != "/api/v2/logs") {
            status = 404;
            return "path " + req.path + " (want /api/v2/logs)";
        }
        if (!req.has_header("DD-API-KEY")) {
            status = 403;
            return "no DD-API-KEY header";
        }
        if (req.get_header_value("DD-API-KEY") != options_.api_key) {
            status = 403;
            r.auth_failed = true;
            return {};  // not a protocol violation (see the file comment)
        }
        const std::string type = req.get_header_value("Content-Type");
        if (type != "application/json" && type.rfind("application/json;", 0) != 0) {
            status = 415;
            return "Content-Type '" + type + "' (want application/json)";
        }
        const std::string encoding = req.get_header_value("Content-Encoding");
        if (options_.gzip && *options_.gzip && encoding != "gzip") {
            status = 400;
            return "Content-Encoding '" + encoding + "' (want gzip)";
        }
        if (options_.gzip && !*options_.gzip && !encoding.empty()) {
            status = 400;
            return "Content-Encoding '" + encoding + "' (want none)";
        }
        if (req.body.size() > options_.max_body_bytes) {
            status = 413;
            return "body of " + std::to_string(req.body.size()) + " bytes (max " +
                   std::to_string(options_.max_body_bytes) + ")";
        }
        status = 400;
        try {
            items = nlohmann::json::parse(req.body);
        } catch (const std::exception& e) {
            return std::string("body is not JSON: ") + e.what();
        }
        if (!items.is_array()) {
            return "body is not a JSON array";
        }
        if (items.empty()) {
            return "empty array";
        }
        if (items.size() > options_.max_items) {
            return std::to_string(items.size()) + " items (max " +
                   std::to_string(options_.max_items) + ")";
        }
        static const std::set<std::string> statuses = {"debug", "info", "warning", "error",
                                                       "critical"};
        for (std::size_t i = 0; i < items.size(); ++i) {
            const nlohmann::json& item = items[i];
            const std::string where = "item " + std::to_string(i) + ": ";
            if (!item.is_object()) {
                return where + "not an object";
            }
            if (!item.contains("message") || !item["message"].is_string()) {
                return where + "no string message";
            }
            if (!item.contains("status") || !item["status"].is_string() ||
                statuses.count(item["status"].get<std::string>()) == 0) {
                return where + "status " + (item.contains("status") ? item["status"].dump() : "-") +
                       " is not one of debug/info/warning/error/critical";
            }
            if (!item.contains("timestamp") || !item["timestamp"].is_number_integer()) {
                return where + "timestamp " +
                       (item.contains("timestamp") ? item["timestamp"].dump() : "-") +
                       " is not an integer";
            }
            for (const char* key : {"service", "ddsource", "hostname", "ddtags"}) {
                if (item.contains(key) && !item[key].is_string()) {
                    return where + key + " is not a string";
                }
            }
            const std::size_t bytes = item.dump().size();
            if (bytes > options_.max_item_bytes) {
                return where + std::to_string(bytes) + " bytes serialized (max " +
                       std::to_string(options_.max_item_bytes) + ")";
            }
        }
        status = 202;
        r.items = items.size();
        return {};
    }

    void handle(const httplib::Request& req, httplib::Response& res) {
        intake_request r;
        r.time = std::chrono::steady_clock::now();
        r.method = req.method;
        r.path = req.path;
        r.headers = req.headers;
        r.body_bytes = req.body.size();
        nlohmann::json items;
        int status = 202;
        const std::string violation = validate(req, r, items, status);
        fault_fn faults;
        {
            std::lock_guard<std::mutex> lock(mu_);
            r.index = next_index_++;
            faults = faults_;
        }
        intake_fault fault;
        const bool valid = violation.empty() && !r.auth_failed;
        if (valid && faults) {
            fault = faults(r, items);
        }
        if (valid && fault.status != 0) {
            status = fault.status;
        }
        r.status = status;
        r.reset = valid && fault.reset;
        r.violation = violation;
        r.accepted = valid && ((status >= 200 && status < 300 && !fault.reset) || fault.apply);
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!violation.empty()) {
                violations_.push_back("request " + std::to_string(r.index) + ": " + violation);
            }
            if (r.auth_failed) {
                ++auth_failures_;
            }
            if (r.accepted) {
                for (auto& item : items) {
                    items_.push_back(keep_ ? keep_(std::move(item)) : std::move(item));
                }
            }
            requests_.push_back(r);
        }
        if (valid && fault.hang.count() > 0) {
            std::this_thread::sleep_for(fault.hang);
        }
        if (r.reset) {
            proxy_->reset_on_response(req.remote_port);
        }
        res.status = status;
        if (valid && !fault.retry_after.empty()) {
            res.set_header("Retry-After", fault.retry_after);
        }
        if (r.auth_failed || violation == "no DD-API-KEY header") {
            res.set_content(R"({"errors":[{"status":"403","title":"Forbidden"}]})",
                            "application/json");
        } else if (!violation.empty()) {
            res.set_content(nlohmann::json{{"errors", {{{"detail", violation}}}}}.dump(),
                            "application/json");
        } else {
            res.set_content(fault.body.empty() ? std::string("{}") : fault.body,
                            "application/json");
        }
    }

    intake_options options_;
    std::unique_ptr<httplib::Server> server_;
    int server_port_ = 0;
    std::thread thread_;
    std::unique_ptr<reset_proxy> proxy_;

    mutable std::mutex mu_;
    fault_fn faults_;
    int next_index_ = 0;
    std::vector<nlohmann::json> items_;
    std::function<nlohmann::json(nlohmann::json&&)> keep_;
    std::vector<intake_request> requests_;
    std::vector<std::string> violations_;
    int auth_failures_ = 0;
};

}  // namespace test
