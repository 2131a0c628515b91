// Helpers shared by the integration tests: required environment variables
// (written by scripts/services.sh) and a minimal libcurl HTTP client.
#pragma once

#include <curl/curl.h>

#include <sys/wait.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace spdlog_ext_test {

// How to get the variables; part of every "missing variable" failure.
inline const char* services_hint() {
    return "The integration tests need the throwaway PostgreSQL and InfluxDB servers. "
           "Start them with `scripts/services.sh start` and source the env file it writes "
           "(`. \"$dir/env\"`, where $dir is the directory it prints), "
           "or run the whole suite with `scripts/test.sh`.";
}

// Value of a required environment variable. Throws std::runtime_error (which
// fails the current test case; it never skips it) when the variable is unset or empty.
inline std::string require_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        throw std::runtime_error(std::string("environment variable ") + name + " is not set. " +
                                 services_hint());
    }
    return value;
}

// Value of an optional environment variable, or `fallback` when unset or empty.
inline std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return (value == nullptr || *value == '\0') ? fallback : std::string(value);
}

// curl_global_init once, before the first handle (it is not thread-safe).
inline void ensure_curl_global_init() {
    struct curl_global {
        curl_global() {
            if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                throw std::runtime_error("curl_global_init failed");
            }
        }
        ~curl_global() { curl_global_cleanup(); }
        curl_global(const curl_global&) = delete;
        curl_global& operator=(const curl_global&) = delete;
    };
    static const curl_global instance;
    (void)instance;
}

struct http_response {
    long status = 0;    // HTTP status; 0 when no response arrived
    std::string body;   // response body
    std::string error;  // libcurl's error text when the transfer failed, else empty

    bool ok() const { return error.empty(); }
};

namespace detail {
inline size_t append_to_string(char* data, size_t size, size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

struct curl_handle {
    CURL* handle = nullptr;
    curl_slist* headers = nullptr;
    curl_handle() : handle(curl_easy_init()) {}
    ~curl_handle() {
        curl_slist_free_all(headers);
        if (handle != nullptr) {
            curl_easy_cleanup(handle);
        }
    }
    curl_handle(const curl_handle&) = delete;
    curl_handle& operator=(const curl_handle&) = delete;
};
}  // namespace detail

// HTTP request through libcurl: method "GET" or "POST" (body sent as-is with
// `content_type`). Never uses a proxy (the servers are on 127.0.0.1).
// Transport failures are reported in http_response::error, not thrown.
inline http_response http_request(const std::string& method, const std::string& url,
                                  const std::string& body = std::string(),
                                  const std::string& content_type = std::string(),
                                  long timeout_ms = 10000) {
    ensure_curl_global_init();
    http_response response;
    detail::curl_handle curl;
    if (curl.handle == nullptr) {
        response.error = "curl_easy_init failed";
        return response;
    }
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl.handle, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl.handle, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.handle, CURLOPT_PROXY, "");
    curl_easy_setopt(curl.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.handle, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl.handle, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl.handle, CURLOPT_WRITEFUNCTION, &detail::append_to_string);
    curl_easy_setopt(curl.handle, CURLOPT_WRITEDATA, static_cast<void*>(&response.body));
    if (method == "POST") {
        curl_easy_setopt(curl.handle, CURLOPT_POST, 1L);
        curl_easy_setopt(curl.handle, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(curl.handle, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(body.size()));
        if (!content_type.empty()) {
            curl.headers =
                curl_slist_append(curl.headers, ("Content-Type: " + content_type).c_str());
            curl_easy_setopt(curl.handle, CURLOPT_HTTPHEADER, curl.headers);
        }
    } else if (method != "GET") {
        curl_easy_setopt(curl.handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    const CURLcode rc = curl_easy_perform(curl.handle);
    if (rc != CURLE_OK) {
        response.error =
            std::string(curl_easy_strerror(rc)) +
            (error_buffer[0] != '\0' ? std::string(": ") + error_buffer : std::string());
        response.error += " (" + method + " " + url + ")";
        return response;
    }
    curl_easy_getinfo(curl.handle, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

inline http_response http_get(const std::string& url, long timeout_ms = 10000) {
    return http_request("GET", url, std::string(), std::string(), timeout_ms);
}

inline http_response http_post(
    const std::string& url, const std::string& body,
    const std::string& content_type = "application/x-www-form-urlencoded",
    long timeout_ms = 10000) {
    return http_request("POST", url, body, content_type, timeout_ms);
}

// Percent-encodes `text` for use in a URL query string.
inline std::string url_encode(const std::string& text) {
    ensure_curl_global_init();
    detail::curl_handle curl;
    if (curl.handle == nullptr) {
        throw std::runtime_error("curl_easy_init failed");
    }
    char* escaped = curl_easy_escape(curl.handle, text.c_str(), static_cast<int>(text.size()));
    if (escaped == nullptr) {
        throw std::runtime_error("curl_easy_escape failed");
    }
    std::string result(escaped);
    curl_free(escaped);
    return result;
}

// Runs `"$SPDLOG_EXT_SERVICES_SCRIPT" <command>` (e.g. pg-stop-immediate, influx-start) for the
// services of $SPDLOG_EXT_SERVICES_DIR; returns its exit status. Its messages go to stderr.
inline int services(const std::string& command) {
    const std::string script = require_env("SPDLOG_EXT_SERVICES_SCRIPT");
    (void)require_env("SPDLOG_EXT_SERVICES_DIR");
    std::string quoted = "'";
    for (char c : script) {
        quoted += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    }
    quoted += "'";
    const int status = std::system((quoted + " " + command + " 1>&2").c_str());
    if (status == -1) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace spdlog_ext_test
