#include "transport/http_transport.h"

#include <curl/curl.h>
#include <zlib.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>

#include "core/process_init.h"
#include "core/text.h"
#include "core/url_parts.h"
#include "spdlog_ext/config_error.h"

namespace spdlog_ext::detail {

namespace {

constexpr std::size_t max_body_kept = 64 * 1024;

// libcurl's URL API, owned.
struct url_handle {
    CURLU* h = curl_url();
    url_handle() {
        if (h == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~url_handle() { curl_url_cleanup(h); }
    url_handle(const url_handle&) = delete;
    url_handle& operator=(const url_handle&) = delete;
    // A part, or "" when absent.
    std::string get(CURLUPart part, unsigned int flags = 0) const {
        char* value = nullptr;
        if (curl_url_get(h, part, &value, flags) != CURLUE_OK || value == nullptr) {
            return {};
        }
        std::string out(value);
        curl_free(value);
        return out;
    }
};

// A proxy as libcurl is given it: the URL without userinfo, the credentials apart (so that no
// libcurl error text can quote them).
struct proxy_setting {
    std::string url;  // empty: no proxy
    std::string user;
    std::string password;
};

// An environment variable as libcurl reads it (curl_getenv): unset and empty are the same.
const char* env_value(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
}

proxy_setting parse_proxy(const std::string& value, const std::string& variable) {
    const auto invalid = [&] {
        return config_error(variable,
                            variable +
                                " is not a valid proxy URL (libcurl cannot parse it): use "
                                "scheme://[user:password@]host:port; a '@', ':' or '/' in the "
                                "user name or password must be percent-encoded (%40, %3A, %2F)");
    };
    // libcurl's default proxy scheme is http.
    const std::string full = value.find("://") == std::string::npos ? "http://" + value : value;
    url_handle u;
    if (curl_url_set(u.h, CURLUPART_URL, full.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        throw invalid();
    }
    proxy_setting p;
    p.user = u.get(CURLUPART_USER, CURLU_URLDECODE);
    p.password = u.get(CURLUPART_PASSWORD, CURLU_URLDECODE);
    curl_url_set(u.h, CURLUPART_USER, nullptr, 0);
    curl_url_set(u.h, CURLUPART_PASSWORD, nullptr, 0);
    p.url = u.get(CURLUPART_URL);
    if (p.url.empty()) {
        throw invalid();
    }
    return p;
}

// libcurl's choice (lib/url.c, detect_proxy): http uses http_proxy only (HTTP_PROXY is ignored,
// as CGI sets it from a request header), https uses https_proxy then HTTPS_PROXY; then all_proxy,
// ALL_PROXY.
proxy_setting proxy_from_env(bool https) {
    const char* names[] = {https ? "https_proxy" : "http_proxy", https ? "HTTPS_PROXY" : nullptr,
                           "all_proxy", "ALL_PROXY"};
    for (const char* name : names) {
        if (name != nullptr) {
            if (const char* v = env_value(name)) {
                return parse_proxy(v, name);
            }
        }
    }
    return {};
}

}  // namespace

struct http_transport::impl {
    http_options options;
    CURL* curl = nullptr;
    // Set by interrupt() and never reset: a transfer starting after it returns at once.
    std::atomic<bool> abort{false};
    // Resolved once at construction (libcurl would getenv() on the worker for every request).
    proxy_setting http_proxy;
    proxy_setting https_proxy;
    std::string no_proxy;
    http_response* current = nullptr;
    std::string error_buffer = std::string(CURL_ERROR_SIZE, '\0');

    static size_t on_body(char* data, size_t size, size_t count, void* user) {
        auto* self = static_cast<impl*>(user);
        const size_t n = size * count;
        std::string& body = self->current->body;
        if (body.size() < max_body_kept) {
            body.append(data, std::min(n, max_body_kept - body.size()));
        }
        return n;
    }

    static size_t on_header(char* data, size_t size, size_t count, void* user) {
        auto* self = static_cast<impl*>(user);
        const size_t n = size * count;
        const std::string_view line(data, n);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos && lower(line.substr(0, colon)) == "retry-after") {
            self->current->retry_after = trim(line.substr(colon + 1));
        }
        return n;
    }

    static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t ulnow, curl_off_t) {
        auto* self = static_cast<impl*>(user);
        if (ulnow > 0) {
            self->current->request_sent = true;
        }
        return self->abort.load() ? 1 : 0;  // non-zero aborts the transfer
    }
};

http_transport::http_transport(http_options options) : impl_(std::make_unique<impl>()) {
    init_network_libraries();
    impl_->options = std::move(options);
    if (!impl_->options.proxy.empty()) {
        impl_->http_proxy = parse_proxy(impl_->options.proxy, "proxy");
        impl_->https_proxy = impl_->http_proxy;
    } else {
        impl_->http_proxy = proxy_from_env(false);
        impl_->https_proxy = proxy_from_env(true);
        const char* np = env_value("no_proxy");
        np = np != nullptr ? np : env_value("NO_PROXY");
        impl_->no_proxy = np != nullptr ? np : "";
    }
    impl_->curl = curl_easy_init();
    if (impl_->curl == nullptr) {
        throw std::runtime_error("libcurl: cannot create a handle");
    }
}

http_transport::~http_transport() {
    if (impl_->curl != nullptr) {
        curl_easy_cleanup(impl_->curl);
    }
}

void http_transport::interrupt() noexcept {
    impl_->abort = true;
}

http_response http_transport::post(const http_request& request) {
    http_response response;
    impl& s = *impl_;
    CURL* c = s.curl;
    if (s.abort.load()) {
        response.error = "interrupted (shutdown deadline)";
        return response;
    }
    s.current = &response;
    s.error_buffer.assign(CURL_ERROR_SIZE, '\0');

    // The handle keeps its connection between calls; options are set afresh each time.
    curl_easy_reset(c);
    const std::string body = request.gzip ? gzip_compress(request.body) : request.body;
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
        headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    if (request.gzip) {
        headers = curl_slist_append(headers, "Content-Encoding: gzip");
    }
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip

    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, s.options.user_agent.c_str());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(s.options.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(s.options.total_timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a library's worker thread
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!request.username.empty()) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, request.username.c_str());
        curl_easy_setopt(c, CURLOPT_PASSWORD, request.password.c_str());
    }
    if (!s.options.ca_bundle.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, s.options.ca_bundle.c_str());
    }
    // Only http and https, also on redirects (a URL or Location: must not reach file://, ...).
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
                     static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    // The proxy resolved at construction; "" (no proxy, no exceptions) keeps libcurl from
    // reading the environment itself.
    const bool https = lower(std::string_view(request.url).substr(0, 8)) == "https://";
    const proxy_setting& proxy = https ? s.https_proxy : s.http_proxy;
    curl_easy_setopt(c, CURLOPT_PROXY, proxy.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOPROXY, s.no_proxy.c_str());
    if (!proxy.user.empty() || !proxy.password.empty()) {
        curl_easy_setopt(c, CURLOPT_PROXYUSERNAME, proxy.user.c_str());
        curl_easy_setopt(c, CURLOPT_PROXYPASSWORD, proxy.password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.error_buffer.data());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &impl::on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &impl::on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &impl::on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);

    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
        response.request_sent = true;
    } else {
        response.status = 0;
        response.error = s.error_buffer.c_str()[0] != '\0' ? std::string(s.error_buffer.c_str())
                                                           : curl_easy_strerror(rc);
        // Refused or unresolved: the request never left; otherwise it may have arrived.
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
            rc == CURLE_COULDNT_RESOLVE_PROXY) {
            response.request_sent = false;
        }
        if (s.abort.load()) {
            response.error = "interrupted (shutdown deadline)";
        }
    }
    s.current = nullptr;
    return response;
}

std::string url_encode(std::string_view value) {
    char* escaped = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
    if (escaped == nullptr) {
        throw std::bad_alloc();
    }
    std::string out(escaped);
    curl_free(escaped);
    return out;
}

std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now) {
    using std::chrono::milliseconds;
    const std::string v = trim(value);
    if (v.empty()) {
        return std::nullopt;
    }
    constexpr long long max_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(max_retry_after).count();
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
        // Saturating: any number of digits, no overflow.
        long long seconds = 0;
        for (const char c : v) {
            seconds = seconds * 10 + (c - '0');
            if (seconds > max_seconds) {
                return std::nullopt;  // absurd
            }
        }
        return std::chrono::seconds(seconds);
    }
    // An HTTP-date; curl_getdate knows all three formats RFC 9110 allows. Compared in seconds
    // since the epoch: converting a far date to the clock's nanoseconds would overflow.
    const time_t when = curl_getdate(v.c_str(), nullptr);
    if (when == -1) {
        return std::nullopt;
    }
    const long long now_ms =
        std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count();
    const long long when_s = static_cast<long long>(when);
    if (when_s <= now_ms / 1000) {
        // In the past; checked first, so the subtraction below cannot overflow.
        return milliseconds(0);
    }
    if (when_s - now_ms / 1000 > max_seconds) {
        return std::nullopt;  // absurdly far ahead (year 9999 too)
    }
    const long long ahead = when_s * 1000 - now_ms;  // both bounded now: no overflow
    return milliseconds(ahead);
}

std::string gzip_compress(std::string_view data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        throw std::runtime_error("zlib: deflateInit2 failed");
    }
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("zlib: deflate failed");
    }
    out.resize(zs.total_out);
    return out;
}

std::string gzip_decompress(std::string_view data) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 16) != Z_OK) {
        throw std::runtime_error("zlib: inflateInit2 failed");
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    std::string out;
    char buf[64 * 1024];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        out.append(buf, sizeof buf - zs.avail_out);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
            break;  // truncated input
        }
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        throw std::runtime_error("not a complete gzip stream");
    }
    return out;
}

std::string redact_url(const std::string& url) {
    std::string out = url.substr(0, url.find_first_of("?#"));
    if (const auto at = userinfo_end(out, userinfo_scope::before_path); at != std::string::npos) {
        const auto start = authority_start(out);
        out.erase(start, at + 1 - start);  // user:password@
    }
    return out;
}

bool is_loopback_host(const std::string& host_in) {
    std::string host = lower(host_in);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host == "localhost" || host == "localhost.") {
        return true;
    }
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        return std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
    }
    return false;
}

bool check_http_url(const std::string& url, const std::string& variable, bool allow_insecure_http,
                    const std::string& allow_variable) {
    url_handle u;
    // Parsed as libcurl will: no guessing of a scheme, and nothing of the URL in the message.
    if (curl_url_set(u.h, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        u.get(CURLUPART_HOST).empty()) {
        throw config_error(variable, variable +
                                         " is not a valid URL (libcurl cannot parse it): use "
                                         "https://host[:port]/path, with special characters "
                                         "percent-encoded");
    }
    const std::string scheme = lower(u.get(CURLUPART_SCHEME));
    if (scheme != "https" && scheme != "http") {
        throw config_error(variable, variable +
                                         " must be an https:// URL (http:// only to a loopback "
                                         "host: 127.0.0.0/8, ::1, localhost; or with " +
                                         allow_variable + "=true)");
    }
    if (scheme == "https" || is_loopback_host(u.get(CURLUPART_HOST))) {
        return false;
    }
    if (!allow_insecure_http) {
        throw config_error(variable,
                           variable +
                               " uses plain http:// to a host that is not loopback: the "
                               "credentials would travel in clear. Use https://, or set " +
                               allow_variable + "=true to accept that");
    }
    return true;
}

std::string insecure_http_warning(const std::string& url, const std::string& allow_variable) {
    // The host and port only: a path can be the secret (a Slack webhook's).
    url_handle u;
    std::string where = "the server";
    if (curl_url_set(u.h, CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        const std::string port = u.get(CURLUPART_PORT);
        where = "http://" + u.get(CURLUPART_HOST) + (port.empty() ? "" : ":" + port);
    }
    return "*** WARNING *** " + allow_variable + "=true: sending to " + where +
           " over plain HTTP: the credentials and every record travel unencrypted and can be "
           "read or changed on the way. Use https:// unless this network is trusted";
}

void check_ca_bundle(const std::string& path, const std::string& variable) {
    if (path.empty()) {
        return;
    }
    std::error_code ec;
    const bool regular = std::filesystem::is_regular_file(path, ec);
    std::ifstream file(path, std::ios::binary);
    if (!regular || !file) {
        throw config_error(variable, variable + ": '" + path +
                                         "' is not a readable file: give the path of a PEM "
                                         "file of CA certificates, or unset it for the "
                                         "system's CAs");
    }
}

void check_timeout(std::chrono::milliseconds timeout, const std::string& variable) {
    if (timeout.count() <= 0) {
        throw config_error(variable, variable +
                                         " must be a positive duration (e.g. 10s): 0 would "
                                         "turn the time limit off");
    }
}

}  // namespace spdlog_ext::detail
