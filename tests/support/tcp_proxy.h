// A loopback TCP proxy for tests: forwards every connection to an upstream port, and on request
// becomes a "blackhole" (stops forwarding in both directions but keeps every socket open), as a
// path that swallows packets does. Plain sockets and one poll() thread.
//
//   test::tcp_proxy proxy(5432);               // listens on 127.0.0.1:proxy.port()
//   proxy.blackhole_when("marker");            // blackhole before forwarding data holding it
//   proxy.blackhole();  proxy.resume();        // or by hand; resume() closes the stuck pairs
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace test {

class tcp_proxy {
  public:
    explicit tcp_proxy(int upstream_port) : upstream_port_(upstream_port) {
        listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (listener_ < 0) {
            throw std::runtime_error("tcp_proxy: socket failed");
        }
        const int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr = loopback(0);
        socklen_t len = sizeof addr;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_, 64) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ::close(listener_);
            throw std::runtime_error("tcp_proxy: cannot listen on 127.0.0.1");
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~tcp_proxy() {
        stop_.store(true);
        thread_.join();
        for (auto& p : pairs_) {
            close_pair(p);
        }
        ::close(listener_);
    }
    tcp_proxy(const tcp_proxy&) = delete;
    tcp_proxy& operator=(const tcp_proxy&) = delete;

    int port() const noexcept { return port_; }

    // Stops forwarding now: data already read is dropped, sockets stay open, new connections
    // are accepted and held without an upstream.
    void blackhole() { blackholed_.store(true); }
    // Blackholes just before forwarding client data that contains `marker` (that data is
    // dropped): e.g. in the middle of a COPY, once its rows start to flow.
    void blackhole_when(const std::string& marker) {
        std::lock_guard<std::mutex> lock(mu_);
        marker_ = marker;
    }
    bool blackholed() const noexcept { return blackholed_.load(); }
    // Forwards again. The connections held meanwhile are closed (the path lost their packets),
    // new ones are forwarded.
    void resume() {
        std::lock_guard<std::mutex> lock(mu_);
        resume_requested_ = true;
    }
    // Connections accepted so far.
    int accepted() const noexcept { return accepted_.load(); }

  private:
    struct pair {
        int client = -1;
        int server = -1;  // -1: accepted while blackholed, never connected upstream
        bool held = false;
        std::string tail;  // the end of the last client chunk (a marker may span two)
    };

    static sockaddr_in loopback(int port) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return addr;
    }

    static void close_pair(pair& p) {
        if (p.client >= 0) {
            ::close(p.client);
        }
        if (p.server >= 0) {
            ::close(p.server);
        }
        p.client = p.server = -1;
    }

    static bool send_all(int fd, const char* data, std::size_t size) {
        while (size > 0) {
            const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return true;
    }

    void accept_one() {
        const int client = ::accept(listener_, nullptr, nullptr);
        if (client < 0) {
            return;
        }
        ++accepted_;
        pair p;
        p.client = client;
        if (blackholed_.load()) {
            p.held = true;
        } else {
            p.server = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr = loopback(upstream_port_);
            if (p.server < 0 ||
                ::connect(p.server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
                close_pair(p);
                return;
            }
        }
        pairs_.push_back(std::move(p));
    }

    // Forwards one chunk from `from` to `to`; false when the pair is finished.
    bool forward(pair& p, bool from_client) {
        char buf[65536];
        const ssize_t n = ::recv(from_client ? p.client : p.server, buf, sizeof buf, 0);
        if (n <= 0) {
            return false;
        }
        if (from_client) {
            std::string marker;
            {
                std::lock_guard<std::mutex> lock(mu_);
                marker = marker_;
            }
            if (!marker.empty()) {
                const std::string seen = p.tail + std::string(buf, static_cast<std::size_t>(n));
                if (seen.find(marker) != std::string::npos) {
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        marker_.clear();
                    }
                    blackholed_.store(true);
                    p.held = true;
                    return true;  // dropped: never reaches the server
                }
                p.tail = seen.substr(seen.size() > marker.size() ? seen.size() - marker.size() : 0);
            }
        }
        return send_all(from_client ? p.server : p.client, buf, static_cast<std::size_t>(n));
    }

    void run() {
        while (!stop_.load()) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (resume_requested_) {
                    resume_requested_ = false;
                    for (auto& p : pairs_) {
                        if (p.held || blackholed_.load()) {
                            close_pair(p);
                        }
                    }
                    blackholed_.store(false);
                }
            }
            std::vector<pollfd> fds{{listener_, POLLIN, 0}};
            const bool hole = blackholed_.load();
            for (const auto& p : pairs_) {
                // While blackholed nothing is read: the sockets stay open, data piles up.
                fds.push_back({hole || p.held ? -1 : p.client, POLLIN, 0});
                fds.push_back({hole || p.held ? -1 : p.server, POLLIN, 0});
            }
            if (::poll(fds.data(), fds.size(), 20) <= 0) {
                continue;
            }
            if (fds[0].revents != 0) {
                accept_one();
            }
            for (std::size_t i = 0; i < pairs_.size() && 1 + 2 * i + 1 < fds.size(); ++i) {
                if (blackholed_.load()) {
                    break;  // a marker just cut the path: forward nothing more
                }
                pair& p = pairs_[i];
                const bool ok = (fds[1 + 2 * i].revents == 0 || forward(p, true)) &&
                                (p.held || fds[2 + 2 * i].revents == 0 || forward(p, false));
                if (!ok) {
                    close_pair(p);
                }
            }
            std::vector<pair> open;
            for (auto& p : pairs_) {
                if (p.client >= 0) {
                    open.push_back(std::move(p));
                }
            }
            pairs_ = std::move(open);
        }
    }

    const int upstream_port_;
    int listener_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> blackholed_{false};
    std::atomic<int> accepted_{0};
    std::mutex mu_;
    std::string marker_;
    bool resume_requested_ = false;
    std::vector<pair> pairs_;  // the proxy thread's only
    std::thread thread_;
};

}  // namespace test
