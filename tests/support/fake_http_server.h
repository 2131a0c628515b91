// A fake HTTP server on 127.0.0.1 for the HTTP sinks' tests (Datadog and Slack are SaaS): it
// records every request and answers through a scriptable responder. Real HTTP (cpp-httplib);
// gzip request bodies are decoded by httplib, so a body that is not valid gzip fails the request.
#pragma once

#include <httplib.h>  // built with CPPHTTPLIB_ZLIB_SUPPORT (see tests/CMakeLists.txt)
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace test {

struct recorded_request {
    std::string method;
    std::string path;
    std::string query;  // raw "a=1&b=2"
    httplib::Headers headers;
    std::string body;  // decoded (gunzipped) body
    int remote_port = 0;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class fake_http_server {
  public:
    // Called for each request with its index (0, 1, ...); sets status, headers, body.
    using responder = std::function<void(const recorded_request&, httplib::Response&, int index)>;

    explicit fake_http_server(responder respond = nullptr) : respond_(std::move(respond)) {
        const auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            recorded_request r{req.method,  req.path, query_of(req),
                               req.headers, req.body, req.remote_port};
            int index = 0;
            {
                std::lock_guard<std::mutex> lock(mu_);
                index = static_cast<int>(requests_.size());
                requests_.push_back(r);
            }
            res.status = 202;
            res.set_content("{}", "application/json");
            if (respond_) {
                respond_(r, res, index);
            }
        };
        server_.Post(".*", handler);
        server_.Get(".*", handler);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        // The socket already listens; wait for the accept loop so stop() cannot miss it.
        while (!server_.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    ~fake_http_server() {
        server_.stop();
        thread_.join();
    }

    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    int port() const { return port_; }

    std::vector<recorded_request> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

  private:
    static std::string query_of(const httplib::Request& req) {
        std::string q;
        for (const auto& [k, v] : req.params) {
            q += (q.empty() ? "" : "&") + k + "=" + v;
        }
        return q;
    }

    responder respond_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<recorded_request> requests_;
};

// Accepts connections and resets them at once (RST), like a crashing peer or a middlebox.
class resetting_server {
  public:
    resetting_server() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd_, 16);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] {
            while (!stop_) {
                const int client = ::accept(fd_, nullptr, nullptr);
                if (client < 0) {
                    break;
                }
                ++accepted_;
                char buf[4096];
                (void)::recv(client, buf, sizeof buf, 0);  // let the request start arriving
                linger l{1, 0};                            // close with RST
                ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                ::close(client);
            }
        });
    }
    ~resetting_server() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string url(const std::string& path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    int accepted() const { return accepted_; }

  private:
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

}  // namespace test
