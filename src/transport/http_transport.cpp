#include "transport/http_transport.h"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <mutex>
#include <new>
#include <stdexcept>

#include "core/text.h"
#include "core/utf8.h"

namespace spdlog_ext::detail {

namespace {

constexpr std::size_t max_body_kept = 64 * 1024;

// A short, printable reason from a response body (first line, valid UTF-8, bounded).
std::string body_reason(const std::string& body) {
    std::string line = body.substr(0, body.find('\n'));
    line = std::string(utf8::truncate(line, 300));
    utf8::sanitize_in_place(line, utf8::nul_policy::replace);
    return trim(line);
}

}  // namespace

void http_global_init() {
    static const bool done = [] {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return true;
    }();
    (void)done;
}

struct http_transport::impl {
    http_options options;
    CURL* curl = nullptr;
    std::atomic<bool> abort{false};
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
    http_global_init();
    impl_->options = std::move(options);
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
    s.abort = false;
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
    if (!s.options.proxy.empty()) {
        curl_easy_setopt(c, CURLOPT_PROXY, s.options.proxy.c_str());
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
    const std::string v = trim(value);
    if (v.empty()) {
        return std::nullopt;
    }
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (v.size() > 9) {
            return std::chrono::hours(24 * 365);  // absurd: cap rather than overflow
        }
        return std::chrono::seconds(std::stol(v));
    }
    // An HTTP-date; curl_getdate knows all three formats RFC 9110 allows.
    const time_t when = curl_getdate(v.c_str(), nullptr);
    if (when == -1) {
        return std::nullopt;
    }
    const auto target = std::chrono::system_clock::from_time_t(when);
    if (target <= now) {
        return std::chrono::milliseconds(0);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(target - now);
}

batch_result classify_response(const http_response& r, std::string_view what) {
    const std::string peer(what);
    if (r.status == 0) {
        return batch_result::retry(peer + ": " + r.error, std::nullopt, r.request_sent);
    }
    const std::string status = "HTTP " + std::to_string(r.status);
    const std::string reason = body_reason(r.body);
    const std::string described =
        peer + " answered " + status + (reason.empty() ? "" : ": " + reason);
    if (r.status >= 200 && r.status < 300) {
        return batch_result::delivered();
    }
    if (r.status == 408 || r.status == 429 || r.status >= 500) {
        return batch_result::retry(
            described, parse_retry_after(r.retry_after, std::chrono::system_clock::now()),
            r.status != 429);  // 408/5xx: it may have been applied
    }
    if (r.status == 413) {
        return batch_result::with(batch_result::outcome::split, described);
    }
    return batch_result::with(batch_result::outcome::rejected, described);
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
    const auto scheme = out.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto at = out.find('@', start);
    const auto slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
        out.erase(start, at + 1 - start);  // user:password@
    }
    return out;
}

}  // namespace spdlog_ext::detail
