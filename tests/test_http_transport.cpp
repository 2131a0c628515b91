#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "spdlog_ext/config_error.h"
#include "support/env_guard.h"
#include "support/fake_http_server.h"
#include "support/test_tls.h"
#include "transport/http_transport.h"

using namespace std::chrono_literals;
using spdlog_ext::detail::http_options;
using spdlog_ext::detail::http_request;
using spdlog_ext::detail::http_response;
using spdlog_ext::detail::http_transport;

namespace {
http_options quick_options() {
    http_options o;
    o.connect_timeout = 1s;
    o.total_timeout = 2s;
    return o;
}
}  // namespace

TEST_SUITE("http") {
    TEST_CASE("a gzip POST arrives with its headers and body on one kept-alive connection") {
        test::fake_http_server server;
        http_transport transport(quick_options());
        http_request req;
        req.url = server.url("/api/v2/logs?dd-tags=x");
        req.headers = {{"Content-Type", "application/json"}, {"DD-API-KEY", "k-123"}};
        req.body = R"([{"message":"hello"}])";
        req.gzip = true;
        const http_response first = transport.post(req);
        const http_response second = transport.post(req);
        CHECK(first.status == 202);
        CHECK(second.status == 202);
        const auto got = server.requests();
        REQUIRE(got.size() == 2);
        CHECK(got[0].method == "POST");
        CHECK(got[0].path == "/api/v2/logs");
        CHECK(got[0].header("Content-Encoding") == "gzip");
        CHECK(got[0].header("Content-Type") == "application/json");
        CHECK(got[0].header("DD-API-KEY") == "k-123");
        CHECK(got[0].body == req.body);                   // httplib could gunzip it: valid gzip
        CHECK(got[0].remote_port == got[1].remote_port);  // the connection was reused
    }

    TEST_CASE("responses carry the status and body and the raw Retry-After") {
        // Their classification is each backend's status table (test_http_status.cpp).
        struct answer {
            int status;
            const char* retry_after;
            const char* body;
        };
        const std::vector<answer> answers = {
            {200, "", ""},
            {204, "", ""},
            {408, "", ""},
            {429, "2", "slow down"},
            {429, "Wed, 21 Oct 2099 07:28:00 GMT", ""},
            {500, "", "oops"},
            {503, "7", ""},
            {413, "", "payload too large"},
            {400, "", "{\"errors\":[{\"detail\":\"bad item\"}]}\nsecond line"},
            {403, "", "Forbidden"},
        };
        test::fake_http_server server(
            [&](const test::recorded_request&, httplib::Response& res, int i) {
                const answer& a = answers.at(static_cast<std::size_t>(i));
                res.status = a.status;
                if (*a.retry_after) {
                    res.set_header("Retry-After", a.retry_after);
                }
                res.set_content(a.body, "text/plain");
            });
        http_transport transport(quick_options());
        http_request req;
        req.url = server.url("/x");
        req.body = "{}";
        for (const answer& a : answers) {
            const http_response r = transport.post(req);
            INFO(std::to_string(a.status));
            CHECK(r.status == a.status);
            CHECK(r.retry_after == a.retry_after);
            CHECK(r.body == a.body);
            CHECK(r.request_sent);
            CHECK(r.error.empty());
        }
    }

    TEST_CASE("network failures are retries - refused is known unsent") {
        http_transport transport(quick_options());
        http_request req;
        {
            test::fake_http_server server;
            req.url = server.url("/gone");
        }  // the port is closed now
        req.body = "{}";
        const http_response r = transport.post(req);
        CHECK(r.status == 0);
        CHECK_FALSE(r.error.empty());
        CHECK_FALSE(r.request_sent);
    }

    TEST_CASE("a reset connection is a retry with an unknown outcome") {
        test::resetting_server server;
        http_transport transport(quick_options());
        http_request req;
        req.url = server.url("/reset");
        req.body = std::string(1000, 'x');
        const http_response r = transport.post(req);
        CHECK(r.status == 0);
        CHECK(server.accepted() >= 1);
        CHECK(r.request_sent);  // the request may have arrived: outcome unknown
    }

    TEST_CASE("a server that hangs past the timeout is a retry") {
        test::fake_http_server server([](const test::recorded_request&, httplib::Response&, int) {
            std::this_thread::sleep_for(1500ms);
        });
        http_options o = quick_options();
        o.total_timeout = 300ms;
        http_transport transport(o);
        http_request req;
        req.url = server.url("/slow");
        req.body = "{}";
        const http_response r = transport.post(req);
        CHECK(r.status == 0);
        CHECK(r.request_sent);
        CHECK(r.error.find("timed out") != std::string::npos);
    }

    TEST_CASE("interrupt makes a post in progress return") {
        test::fake_http_server server([](const test::recorded_request&, httplib::Response&, int) {
            std::this_thread::sleep_for(1500ms);
        });
        http_options o = quick_options();
        o.total_timeout = 10s;
        http_transport transport(o);
        http_request req;
        req.url = server.url("/slow");
        req.body = "{}";
        std::thread stopper([&] {
            std::this_thread::sleep_for(200ms);
            transport.interrupt();
        });
        const auto t0 = std::chrono::steady_clock::now();
        const http_response r = transport.post(req);
        const auto took = std::chrono::steady_clock::now() - t0;
        stopper.join();
        CHECK(r.status == 0);
        CHECK(r.error == "interrupted (shutdown deadline)");
        CHECK(took < 1400ms);  // returned before the server would have answered
    }

    TEST_CASE("Retry-After parsing: seconds and HTTP dates") {
        using spdlog_ext::detail::parse_retry_after;
        const auto now =
            std::chrono::system_clock::from_time_t(1700000000);  // 2023-11-14T22:13:20Z
        CHECK(parse_retry_after("120", now) == std::chrono::milliseconds(120000));
        CHECK(parse_retry_after(" 0 ", now) == std::chrono::milliseconds(0));
        CHECK(parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) ==
              std::chrono::milliseconds(30000));
        CHECK(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) ==
              std::chrono::milliseconds(0));  // in the past
        CHECK_FALSE(parse_retry_after("", now).has_value());
        CHECK_FALSE(parse_retry_after("soon", now).has_value());
    }

    TEST_CASE("Retry-After - huge seconds and far dates are absent and nothing overflows") {
        using spdlog_ext::detail::parse_retry_after;
        const auto now = std::chrono::system_clock::from_time_t(1700000000);
        CHECK(parse_retry_after("86400", now) == std::chrono::milliseconds(86400000));  // 1 day
        CHECK_FALSE(parse_retry_after("86401", now).has_value());
        CHECK_FALSE(parse_retry_after("999999999", now).has_value());  // 31 years
        CHECK_FALSE(parse_retry_after("99999999999", now).has_value());
        CHECK_FALSE(parse_retry_after(std::string(400, '9'), now).has_value());
        CHECK(parse_retry_after("Tue, 14 Nov 2023 23:13:20 GMT", now) ==
              std::chrono::milliseconds(3600000));
        CHECK(parse_retry_after("Wed, 15 Nov 2023 22:13:20 GMT", now) ==
              std::chrono::milliseconds(86400000));
        CHECK_FALSE(parse_retry_after("Wed, 15 Nov 2023 22:13:21 GMT", now).has_value());
        CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", now).has_value());
        // Past 2262 the clock's nanoseconds overflow (UBSan: signed overflow; it wrapped to 0).
        CHECK_FALSE(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).has_value());
        CHECK_FALSE(parse_retry_after("Sat, 01 Jan 2300 00:00:00 GMT", now).has_value());
        CHECK(parse_retry_after("Thu, 01 Jan 1970 00:00:01 GMT", now) ==
              std::chrono::milliseconds(0));
        // A `now` with milliseconds: the date's second minus them.
        CHECK(parse_retry_after("Tue, 14 Nov 2023 22:13:21 GMT",
                                now + std::chrono::milliseconds(250)) ==
              std::chrono::milliseconds(750));
    }

    TEST_CASE("an interrupt that lands before the transfer starts is not lost") {
        test::fake_http_server server;
        http_transport transport(quick_options());
        http_request req;
        req.url = server.url("/x");
        req.body = "{}";
        // The engine's deadline passed just before write() called post(): post must not send.
        transport.interrupt();
        const http_response r = transport.post(req);
        CHECK(r.status == 0);
        CHECK(r.error == "interrupted (shutdown deadline)");
        CHECK_FALSE(r.request_sent);
        CHECK(server.requests().empty());
    }

    TEST_CASE("only http and https - other protocols are refused by libcurl") {
        const auto path = std::filesystem::temp_directory_path() /
                          ("spdlog_ext_proto_" + std::to_string(::getpid()));
        {
            std::ofstream out(path);
            out << "file-content-marker";
        }
        http_transport transport(quick_options());
        http_request req;
        req.url = "file://" + path.string();
        req.body = "{}";
        const http_response r = transport.post(req);
        std::filesystem::remove(path);
        CHECK(r.status == 0);
        CHECK(r.body.find("file-content-marker") == std::string::npos);
        CHECK_MESSAGE(r.error.find("not supported") != std::string::npos, r.error);
    }

    TEST_CASE("URLs lose credentials and queries in messages") {
        using spdlog_ext::detail::redact_url;
        CHECK(redact_url("https://user:pw@host:443/p/a?api_key=SECRET#frag") ==
              "https://host:443/p/a");
        CHECK(redact_url("https://hooks.example/services/T0/B0/XYZ") ==
              "https://hooks.example/services/T0/B0/XYZ");
        CHECK(redact_url("http://h/x@y") == "http://h/x@y");  // '@' in the path is not userinfo
        // Userinfo ends at the last '@' before the host: a raw '@' in a password leaks nothing.
        CHECK(redact_url("http://user:s3c@ret@127.0.0.1:9/p@q") == "http://127.0.0.1:9/p@q");
        CHECK(redact_url("user:pw@host:3128") == "host:3128");
    }

    TEST_CASE("gzip round trip with zlib") {
        using spdlog_ext::detail::gzip_compress;
        using spdlog_ext::detail::gzip_decompress;
        std::string data;
        for (int i = 0; i < 10000; ++i) {
            data += "line " + std::to_string(i) + " \xe2\x9c\x93\n";
        }
        const std::string packed = gzip_compress(data);
        CHECK(packed.size() < data.size() / 3);
        CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);  // gzip magic
        CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
        CHECK(gzip_decompress(packed) == data);
        CHECK(gzip_decompress(gzip_compress("")).empty());
        CHECK_THROWS(gzip_decompress(packed.substr(0, packed.size() / 2)));
    }
}

TEST_SUITE("http") {
    TEST_CASE("HTTPS with a private CA: refused without its bundle and delivered with it") {
        const auto dir = std::filesystem::temp_directory_path() /
                         ("spdlog_ext_tls_" + std::to_string(::getpid()));
        const test::test_pki pki = test::make_test_pki(dir);
        httplib::SSLServer server(pki.server_cert.c_str(), pki.server_key.c_str());
        REQUIRE(server.is_valid());
        int hits = 0;
        server.Post(".*", [&](const httplib::Request&, httplib::Response& res) {
            ++hits;
            res.status = 202;
        });
        const int port = server.bind_to_any_port("127.0.0.1");
        std::thread loop([&] { server.listen_after_bind(); });
        while (!server.is_running()) {
            std::this_thread::sleep_for(1ms);
        }
        http_request req;
        req.url = "https://127.0.0.1:" + std::to_string(port) + "/api";
        req.body = "{}";

        http_transport untrusting(quick_options());
        const http_response refused = untrusting.post(req);
        CHECK(refused.status == 0);
        CHECK(refused.error.find("certificate") != std::string::npos);

        http_options trusting = quick_options();
        trusting.ca_bundle = pki.ca_cert;
        http_transport transport(trusting);
        const http_response ok = transport.post(req);
        CHECK(ok.status == 202);
        CHECK(hits == 1);  // only the verified connection reached the server

        server.stop();
        loop.join();
        std::filesystem::remove_all(dir);
    }
}

TEST_SUITE("http") {
    // Every proxy variable libcurl reads, unset: the machine's own must not leak into a test.
    test::env_guard no_proxy_env() {
        return test::env_guard{{"http_proxy", nullptr},  {"HTTP_PROXY", nullptr},
                               {"https_proxy", nullptr}, {"HTTPS_PROXY", nullptr},
                               {"all_proxy", nullptr},   {"ALL_PROXY", nullptr},
                               {"no_proxy", nullptr},    {"NO_PROXY", nullptr}};
    }

    TEST_CASE("the proxy variables are read once at construction") {
        test::fake_http_server proxy;
        http_request req;
        req.url = "http://intake.example.invalid/api/v2/logs";  // resolvable only by a proxy
        req.body = "{}";
        auto env = no_proxy_env();
        env.set("http_proxy", proxy.url().c_str());
        http_transport transport(quick_options());
        env.unset("http_proxy");  // the application changes its environment afterwards
        const http_response r = transport.post(req);
        CHECK(r.status == 202);
        auto got = proxy.requests();
        REQUIRE(got.size() == 1);
        CHECK(got[0].header("Host") == "intake.example.invalid");

        // And the other way round: a proxy set after construction is not used.
        test::fake_http_server server;
        http_transport direct(quick_options());
        env.set("http_proxy", "http://127.0.0.1:1");  // nothing listens there
        req.url = server.url("/direct");
        CHECK(direct.post(req).status == 202);
        CHECK(server.requests().size() == 1);
    }

    TEST_CASE("proxy variables follow libcurl's precedence and no_proxy") {
        test::fake_http_server proxy;
        test::fake_http_server other;
        http_request req;
        req.url = "http://intake.example.invalid/api/v2/logs";
        req.body = "{}";
        auto env = no_proxy_env();
        // HTTP_PROXY is ignored for http:// (CGI sets it from a request header); all_proxy
        // applies when http_proxy is unset.
        env.set("HTTP_PROXY", other.url().c_str());
        env.set("all_proxy", proxy.url().c_str());
        {
            http_transport transport(quick_options());
            CHECK(transport.post(req).status == 202);
            CHECK(proxy.requests().size() == 1);
            CHECK(other.requests().empty());
        }
        env.set("no_proxy", "example.invalid");  // bypass: now it must fail to resolve
        {
            http_transport transport(quick_options());
            const http_response r = transport.post(req);
            CHECK(r.status == 0);
            CHECK(proxy.requests().size() == 1);
        }
    }

    TEST_CASE("proxy credentials are sent to the proxy but never quoted") {
        test::fake_http_server proxy;
        http_request req;
        req.url = "http://intake.example.invalid/api/v2/logs";
        req.body = "{}";
        auto env = no_proxy_env();
        // Percent-encoded '@' in the password: decoded for the proxy.
        env.set("http_proxy",
                ("http://user:s3%40cret@127.0.0.1:" + std::to_string(proxy.port())).c_str());
        {
            http_transport transport(quick_options());
            CHECK(transport.post(req).status == 202);
            const auto got = proxy.requests();
            REQUIRE(got.size() == 1);
            // base64("user:s3@cret")
            CHECK(got[0].header("Proxy-Authorization") == "Basic dXNlcjpzM0BjcmV0");
        }
        // A raw '@' in the password: libcurl cannot parse it; a config_error that does not
        // echo it, naming the variable and the fix.
        env.set("http_proxy", "http://user:s3c@ret@127.0.0.1:9");
        try {
            http_transport transport(quick_options());
            FAIL("an unparsable http_proxy was accepted");
        } catch (const spdlog_ext::config_error& e) {
            const std::string what = e.what();
            CHECK(e.variable() == "http_proxy");
            CHECK(what.find("percent-encoded") != std::string::npos);
            CHECK(what.find("s3c") == std::string::npos);
            CHECK(what.find("ret@") == std::string::npos);
        }
    }

    TEST_CASE("URL checks - loopback hosts and malformed URLs") {
        using spdlog_ext::detail::check_http_url;
        using spdlog_ext::detail::is_loopback_host;
        for (const char* host :
             {"127.0.0.1", "127.255.0.9", "localhost", "LocalHost", "[::1]", "::1"}) {
            CHECK_MESSAGE(is_loopback_host(host), host);
        }
        for (const char* host : {"example.com", "128.0.0.1", "10.0.0.1", "[::2]", "localhost.evil",
                                 "127.0.0.1.nip.io", ""}) {
            CHECK_FALSE_MESSAGE(is_loopback_host(host), host);
        }
        CHECK_FALSE(check_http_url("https://example.com/x", "V", false, "A"));
        CHECK_FALSE(check_http_url("http://127.0.0.1:8086", "V", false, "A"));
        CHECK_FALSE(check_http_url("http://[::1]:8086/", "V", false, "A"));
        CHECK_FALSE(check_http_url("http://localhost/", "V", false, "A"));
        CHECK(check_http_url("http://example.com/", "V", true, "A"));  // allowed: warn
        for (const char* bad :
             {"http://example.com/", "ftp://example.com/", "not a url", "https://exa mple.com/",
              "https://", "https://h:99999/", "//example.com/x"}) {
            try {
                check_http_url(bad, "V", false, "A");
                FAIL("accepted " << bad);
            } catch (const spdlog_ext::config_error& e) {
                CHECK(e.variable() == "V");
            }
        }
    }
}
