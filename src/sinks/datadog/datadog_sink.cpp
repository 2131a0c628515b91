#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>

#include "core/text.h"
#include "core/utf8.h"
#include "sinks/datadog/datadog_backend.h"
#include "sinks/logger_factory.h"
#include "spdlog_ext/fields.h"
#include "spdlog_ext/record.h"
#include "transport/http_transport.h"

namespace spdlog_ext {

namespace {
constexpr std::size_t max_items = 1000;                // per request (Datadog)
constexpr std::size_t max_request_bytes = 5000000;     // uncompressed, per request (Datadog: 5 MB)
constexpr std::size_t max_item_bytes = 1000000;        // per log (Datadog: 1 MB)
constexpr std::size_t max_message_bytes = 900 * 1000;  // leaves room for the other attributes
constexpr std::string_view truncation_marker = "…[truncated by spdlog_ext]";

const char* status_of(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return "debug";
        case spdlog::level::info:
            return "info";
        case spdlog::level::warn:
            return "warning";
        case spdlog::level::err:
            return "error";
        default:
            return "critical";
    }
}

bool reserved(const std::string& key) {
    static const char* const names[] = {"message", "status",    "service", "ddsource", "hostname",
                                        "ddtags",  "timestamp", "logger",  "error"};
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return key == n; });
}

std::string clean(const std::string& s) {
    return utf8::sanitize(s);
}

// "a:b, c:d e:f" → {"a:b", "c:d", "e:f"}
std::vector<std::string> split_tags(const std::string& tags) {
    std::vector<std::string> out;
    std::string current;
    for (char c : tags) {
        if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
            if (!current.empty()) {
                out.push_back(current);
            }
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) {
        out.push_back(current);
    }
    return out;
}

class datadog_backend final : public backend {
  public:
    explicit datadog_backend(const datadog_config& cfg)
        : cfg_(cfg), transport_(options(cfg)), url_(cfg.intake_url()) {
        std::string tags;
        const auto add = [&](const std::string& tag) { tags += (tags.empty() ? "" : ",") + tag; };
        if (!cfg.env.empty()) {
            add("env:" + cfg.env);
        }
        if (!cfg.version.empty()) {
            add("version:" + cfg.version);
        }
        for (const auto& t : split_tags(cfg.tags)) {
            add(t);
        }
        ddtags_ = clean(tags);
        hostname_ = clean(cfg.hostname.empty() ? host_name() : cfg.hostname);
        request_.url = url_;
        request_.headers = {{"DD-API-KEY", cfg.api_key}, {"Content-Type", "application/json"}};
        request_.gzip = cfg.gzip;
    }

    batch_result write(record_span batch, const write_context&) override {
        if (batch.size() > max_items) {
            return batch_result::with(batch_result::outcome::split,
                                      "more than 1000 items for one request");
        }
        encode(batch);
        if (request_.body.size() > max_request_bytes && batch.size() > 1) {
            return batch_result::with(batch_result::outcome::split,
                                      "request over Datadog's 5 MB limit");
        }
        const detail::http_response response = transport_.post(request_);
        if (response.status == 400) {
            // Some item is malformed for the intake: the engine bisects down to it.
            return batch_result::with(batch_result::outcome::isolate,
                                      detail::classify_response(response, "Datadog intake").reason);
        }
        if (response.status == 401 || response.status == 403) {
            return batch_result::with(
                batch_result::outcome::disable,
                "Datadog refused the API key (HTTP " + std::to_string(response.status) +
                    "): check DD_API_KEY and DD_SITE; the sink has stopped sending");
        }
        return detail::classify_response(response, "Datadog intake");
    }

    void interrupt() noexcept override { transport_.interrupt(); }

    nlohmann::json extra_stats() const override {
        return nlohmann::json{{"intake", detail::redact_url(url_)}};
    }

  private:
    static detail::http_options options(const datadog_config& cfg) {
        detail::http_options o;
        o.connect_timeout = cfg.connect_timeout;
        o.total_timeout = cfg.timeout;
        o.ca_bundle = cfg.ca_bundle;
        o.user_agent = "spdlog_ext datadog_http_sink";
        return o;
    }

    void encode(record_span batch) {
        std::string& body = request_.body;
        body.clear();
        body += '[';
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (i > 0) {
                body += ',';
            }
            body += encode_item(batch[i]);
        }
        body += ']';
    }

    std::string encode_item(const record& r) const {
        nlohmann::json item = nlohmann::json::object();
        std::string message = clean(r.message);
        if (message.size() > max_message_bytes) {
            message = std::string(utf8::truncate(message, max_message_bytes)) +
                      std::string(truncation_marker);
        }
        item["message"] = std::move(message);
        item["status"] = status_of(r.level);
        if (!cfg_.service.empty()) {
            item["service"] = cfg_.service;
        }
        item["ddsource"] = cfg_.source;
        item["hostname"] = hostname_;
        if (!ddtags_.empty()) {
            item["ddtags"] = ddtags_;
        }
        item["timestamp"] =
            std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch())
                .count();
        nlohmann::json logger{{"name", clean(r.logger_name)}};
        if (!r.thread_name.empty()) {
            logger["thread_name"] = clean(r.thread_name);
        }
        if (r.has_source()) {
            logger["method_name"] = clean(r.source_function);
            logger["file_name"] = clean(detail::base_name(r.source_file));
            logger["line"] = r.source_line;
        }
        item["logger"] = std::move(logger);
        if (r.fields.is_object()) {
            for (const auto& [key, value] : r.fields.items()) {
                if (key == exception_field) {
                    const std::string text =
                        value.is_string() ? value.get<std::string>() : value.dump();
                    item["error"] = {{"kind", "exception"},
                                     {"message", clean(text.substr(0, text.find('\n')))},
                                     {"stack", clean(text)}};
                } else if (reserved(key)) {
                    item["fields"][key] = value;
                } else {
                    item[key] = value;
                }
            }
        }
        std::string text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (text.size() > max_item_bytes && item.contains("error")) {
            // A huge exception: keep its first line and the start of its stack, marked.
            std::string& stack = item["error"]["stack"].get_ref<std::string&>();
            stack = std::string(utf8::truncate(stack, 64 * 1024)) + std::string(truncation_marker);
            std::string& first = item["error"]["message"].get_ref<std::string&>();
            if (first.size() > 4096) {
                first = std::string(utf8::truncate(first, 4096)) + std::string(truncation_marker);
            }
            text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        // JSON escaping can grow a message up to six times (\u0001): cut it until the log fits.
        for (int round = 0; round < 4 && text.size() > max_item_bytes; ++round) {
            std::string& m = item["message"].get_ref<std::string&>();
            const double keep = 0.9 * double(max_item_bytes) / double(text.size());
            const std::size_t marker =
                m.size() >= truncation_marker.size() &&
                        m.compare(m.size() - truncation_marker.size(), truncation_marker.size(),
                                  truncation_marker) == 0
                    ? truncation_marker.size()
                    : 0;
            m = std::string(utf8::truncate(std::string_view(m).substr(0, m.size() - marker),
                                           static_cast<std::size_t>(double(m.size()) * keep))) +
                std::string(truncation_marker);
            text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        if (text.size() > max_item_bytes) {
            // The structured attributes made it too big: keep the log, drop them visibly.
            for (auto it = item.begin(); it != item.end();) {
                const std::string key = it.key();
                it = (reserved(key) && key != "fields") ? std::next(it) : item.erase(it);
            }
            item["spdlog_ext_truncated"] = "attributes dropped: the log was over 1 MB";
            text = item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        return text;
    }

    datadog_config cfg_;
    detail::http_transport transport_;
    std::string url_;
    std::string ddtags_;
    std::string hostname_;
    detail::http_request request_;
};

bool looks_like_host(const std::string& site) {
    return !site.empty() && std::all_of(site.begin(), site.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-';
    });
}
}  // namespace

std::string datadog_config::intake_url() const {
    return url.empty() ? "https://http-intake.logs." + site + "/api/v2/logs" : url;
}

datadog_config datadog_config::from_env() {
    return detail::datadog_config_from(env_options("datadog"));
}

namespace detail {

void validate_datadog_config(const datadog_config& cfg) {
    // A key with a line break would inject HTTP headers: refuse it (without printing it).
    if (std::any_of(cfg.api_key.begin(), cfg.api_key.end(),
                    [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
        throw config_error("DD_API_KEY",
                           "DD_API_KEY contains a line break or another control character");
    }
    if (cfg.api_key.empty()) {
        throw config_error("DD_API_KEY",
                           "DD_API_KEY is not set: the datadog backend needs a Datadog API key "
                           "(Organization Settings > API Keys)");
    }
    if (cfg.url.empty() && !looks_like_host(cfg.site)) {
        throw config_error("DD_SITE",
                           "DD_SITE must be a Datadog site such as datadoghq.com, "
                           "us5.datadoghq.com or datadoghq.eu");
    }
    if (!cfg.url.empty() && cfg.url.rfind("https://", 0) != 0 && cfg.url.rfind("http://", 0) != 0) {
        throw config_error(
            "LOG_DATADOG_URL",
            "LOG_DATADOG_URL must start with https:// (or http:// for a local proxy)");
    }
}

std::unique_ptr<backend> make_datadog_backend(const datadog_config& cfg) {
    validate_datadog_config(cfg);
    return std::make_unique<datadog_backend>(cfg);
}

datadog_config datadog_config_from(const env_options& env) {
    datadog_config cfg;
    cfg.api_key =
        detail::trim(getenv_value("DD_API_KEY").value_or(""));  // `$(cat keyfile)` adds \n
    cfg.site = getenv_value("DD_SITE").value_or(cfg.site);
    cfg.service = getenv_value("DD_SERVICE").value_or("");
    cfg.env = getenv_value("DD_ENV").value_or("");
    cfg.version = getenv_value("DD_VERSION").value_or("");
    cfg.tags = getenv_value("DD_TAGS").value_or("");
    cfg.hostname = getenv_value("DD_HOSTNAME").value_or("");
    cfg.url = env.get_string("URL", "");
    cfg.source = env.get_string("SOURCE", cfg.source);
    cfg.gzip = env.get_bool("GZIP", cfg.gzip);
    cfg.ca_bundle = env.get_string("CA_BUNDLE", "");
    cfg.connect_timeout = env.get_duration("CONNECT_TIMEOUT", cfg.connect_timeout);
    cfg.timeout = env.get_duration("TIMEOUT", cfg.timeout);
    env.apply_engine(cfg.engine);
    validate_datadog_config(cfg);
    return cfg;
}

}  // namespace detail

namespace {
engine_config prepared_engine(const datadog_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "datadog";
    }
    engine.secrets.push_back(cfg.api_key);
    return engine;
}
}  // namespace

datadog_http_sink::datadog_http_sink(datadog_config config)
    : engine_sink(detail::make_datadog_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> datadog_logger_mt(const std::string& logger_name,
                                                  datadog_config config) {
    return detail::registered_logger<datadog_http_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> datadog_logger_st(const std::string& logger_name,
                                                  datadog_config config) {
    return datadog_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
