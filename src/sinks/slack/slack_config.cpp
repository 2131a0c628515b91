#include "sinks/slack/slack_config.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "config/http_env.h"
#include "core/text.h"
#include "core/url_parts.h"
#include "core/utf8.h"
#include "sinks/http/http_settings.h"
#include "sinks/slack/slack_encoder.h"

namespace spdlog_ext {

namespace {

// "<!here>", "<!channel>", "<!everyone>", "<@U0123ABC>", "<!subteam^S0123ABC>".
bool valid_mention(const std::string& m) {
    if (m == "<!here>" || m == "<!channel>" || m == "<!everyone>") {
        return true;
    }
    const auto id_is = [&](std::string_view prefix) {
        if (m.size() <= prefix.size() + 1 || m.compare(0, prefix.size(), prefix) != 0 ||
            m.back() != '>') {
            return false;
        }
        return std::all_of(m.begin() + static_cast<std::ptrdiff_t>(prefix.size()), m.end() - 1,
                           [](unsigned char c) { return std::isalnum(c); });
    };
    return id_is("<@") || id_is("<!subteam^");
}

}  // namespace

slack_config slack_config::from_env() {
    slack_config cfg = detail::slack_config_from(env_options("slack"));
    detail::validate_slack_config(cfg);
    return cfg;
}

namespace detail {

slack_config slack_config_from(const env_options& env) {
    slack_config cfg;
    cfg.webhook_url = trim(getenv_value("SLACK_WEBHOOK_URL").value_or(""));
    cfg.level = env.get_level("LEVEL", cfg.level);
    cfg.mention = trim(env.get_string("MENTION", ""));
    cfg.service = env.get_string("SERVICE", "");
    cfg.hostname = env.get_string("HOSTNAME", "");
    cfg.max_detailed = env.get_size("MAX_DETAILED", cfg.max_detailed);
    read_http_env(env, cfg);
    env.apply_engine(cfg.engine);
    return cfg;
}

bool validate_slack_config(const slack_config& cfg) {
    const std::string& url = cfg.webhook_url;
    if (url.empty()) {
        throw config_error("SLACK_WEBHOOK_URL",
                           "SLACK_WEBHOOK_URL is not set: the slack backend needs an incoming "
                           "webhook URL (Slack app settings > Incoming Webhooks)");
    }
    if (std::any_of(url.begin(), url.end(),
                    [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
        throw config_error("SLACK_WEBHOOK_URL",
                           "SLACK_WEBHOOK_URL contains a space, line break or control character");
    }
    const bool insecure =
        check_http_url(url, "SLACK_WEBHOOK_URL", cfg.allow_insecure_http, slack_insecure_variable);
    if (!cfg.mention.empty() && !valid_mention(cfg.mention)) {
        throw config_error("LOG_SLACK_MENTION",
                           "LOG_SLACK_MENTION must be <!here>, <!channel>, <!everyone>, "
                           "<@USERID> or <!subteam^GROUPID>, not '" +
                               utf8::sanitize(cfg.mention) + "'");
    }
    if (cfg.max_detailed < 1 || cfg.max_detailed > slack_max_detailed) {
        throw config_error("LOG_SLACK_MAX_DETAILED",
                           "LOG_SLACK_MAX_DETAILED must be between 1 and " +
                               std::to_string(slack_max_detailed) +
                               " (Slack allows 50 blocks per message)");
    }
    if (cfg.level == spdlog::level::off) {
        throw config_error("LOG_SLACK_LEVEL",
                           "LOG_SLACK_LEVEL is off: remove slack from LOG_BACKENDS instead");
    }
    validate_http_settings(cfg, "LOG_SLACK_");
    return insecure;
}

std::vector<std::string> slack_secrets(const slack_config& cfg) {
    const std::string& url = cfg.webhook_url;
    std::vector<std::string> secrets{url};
    const auto path = url.find('/', authority_start(url));
    if (path != std::string::npos && url.size() - path > 1) {
        secrets.push_back(url.substr(path));
    }
    return secrets;
}

}  // namespace detail

}  // namespace spdlog_ext
