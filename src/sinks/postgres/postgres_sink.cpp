#include "sinks/logger_factory.h"
#include "spdlog_ext/redaction.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"

#include <spdlog/spdlog.h>

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/secrets.h"
#include "core/url_parts.h"
#include "sinks/postgres/postgres_backend.h"

namespace spdlog_ext {

namespace {
bool is_uri(const std::string& conninfo) {
    return conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
}

// The userinfo of a URI (user[:password]@host): up to the last '@' before the query, so that a
// raw '@' or '/' in a password (which libpq would split at: the rest would become the host and
// appear in its errors) is still all masked. npos when there is none.
std::size_t userinfo_end(const std::string& conninfo) {
    return detail::userinfo_end(conninfo, detail::userinfo_scope::before_query);
}

// The password of a URI (user:password@host) or keyword string (password=...), to mask it.
std::string password_of(const std::string& conninfo) {
    if (is_uri(conninfo)) {
        const auto start = conninfo.find("://") + 3;
        const auto at = userinfo_end(conninfo);
        const auto colon = conninfo.find(':', start);
        if (at != std::string::npos && colon != std::string::npos && colon < at) {
            return conninfo.substr(colon + 1, at - colon - 1);
        }
        const auto key = conninfo.find("password=");
        if (key != std::string::npos) {
            const auto end = conninfo.find('&', key);
            return conninfo.substr(key + 9, end == std::string::npos ? end : end - key - 9);
        }
        return {};
    }
    const auto key = conninfo.find("password");
    if (key == std::string::npos) {
        return {};
    }
    auto pos = conninfo.find('=', key);
    if (pos == std::string::npos) {
        return {};
    }
    ++pos;
    while (pos < conninfo.size() && conninfo[pos] == ' ') {
        ++pos;
    }
    if (pos < conninfo.size() && conninfo[pos] == '\'') {
        const auto end = conninfo.find('\'', pos + 1);
        return conninfo.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
    }
    const auto end = conninfo.find(' ', pos);
    return conninfo.substr(pos, end == std::string::npos ? end : end - pos);
}

std::string percent_decoded(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() &&
            std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

// True when a URI's user name or password holds a raw '@' or '/'. libpq splits the userinfo at
// the first '@' and ends the host part at the first '/', so the rest of the password would
// become a host, port or database name, and appear in its messages. The userinfo is taken up
// to the last '@' (an '@' in a database name after a user must be percent-encoded too).
bool raw_reserved_in_userinfo(const std::string& conninfo) {
    const auto start = conninfo.find("://") + 3;
    const auto at = userinfo_end(conninfo);
    if (at == std::string::npos) {
        return false;
    }
    const std::string userinfo = conninfo.substr(start, at - start);
    if (userinfo.find('@') != std::string::npos) {
        return true;
    }
    const auto slash = userinfo.find('/');
    if (slash == std::string::npos) {
        return false;
    }
    // "host:5432/db@x" names a database with an '@' after a host and port: no password there.
    const std::string authority = userinfo.substr(0, slash);
    const auto colon = authority.rfind(':');
    if (colon == std::string::npos || authority.find(']', colon) != std::string::npos) {
        return false;
    }
    const std::string after = authority.substr(colon + 1);
    return after.empty() || !std::all_of(after.begin(), after.end(), [](unsigned char c) {
               return std::isdigit(c) != 0 || c == ',';
           });
}

// The password and, when a keyword string's password is malformed (unquoted, with spaces), the
// words after it up to the next keyword=value: what must never appear in a message.
std::vector<std::string> secrets_of(const std::string& conninfo) {
    std::vector<std::string> secrets;
    const std::string password = password_of(conninfo);
    if (!password.empty()) {
        secrets.push_back(password);
        if (is_uri(conninfo) && password.find('%') != std::string::npos) {
            secrets.push_back(percent_decoded(password));  // what libpq sends and may echo
        }
        if (!is_uri(conninfo)) {
            auto pos = conninfo.find(password, conninfo.find("password"));
            pos = pos == std::string::npos ? pos : pos + password.size();
            while (pos != std::string::npos && pos < conninfo.size()) {
                const auto start = conninfo.find_first_not_of(' ', pos);
                if (start == std::string::npos) {
                    break;
                }
                const auto end = conninfo.find(' ', start);
                const std::string word =
                    conninfo.substr(start, end == std::string::npos ? end : end - start);
                if (word.find('=') != std::string::npos) {
                    break;
                }
                secrets.push_back(word);
                pos = end;
            }
        }
    }
    if (auto pgpassword = getenv_value("PGPASSWORD"); pgpassword && !pgpassword->empty()) {
        secrets.push_back(*pgpassword);
    }
    return secrets;
}

std::string masked(std::string text, const std::vector<std::string>& secrets) {
    text = detail::mask_secrets(std::move(text), secrets, redactor::mask);
    redactor::defaults()->redact_text(text);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

bool valid_ports(const std::string& ports) {  // "5432" or "5432,5433" (one per host), or empty
    std::size_t start = 0;
    while (true) {
        const auto end = ports.find(',', start);
        const std::string port = ports.substr(start, end == std::string::npos ? end : end - start);
        if (!port.empty()) {
            if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) {
                    return std::isdigit(c) != 0;
                })) {
                return false;
            }
            const long n = std::stol(port);
            if (n < 1 || n > 65535) {
                return false;
            }
        }
        if (end == std::string::npos) {
            return true;
        }
        start = end + 1;
    }
}

const char* const ssl_modes[] = {"disable", "allow",     "prefer",
                                 "require", "verify-ca", "verify-full"};

bool valid_sslmode(const std::string& mode) {
    return mode.empty() ||
           std::find(std::begin(ssl_modes), std::end(ssl_modes), mode) != std::end(ssl_modes);
}

std::string ssl_mode_list() {
    std::string out;
    for (const char* m : ssl_modes) {
        out += out.empty() ? "" : ", ";
        out += m;
    }
    return out;
}
}  // namespace

std::string postgres_config::table_name() const {
    return table_prefix.empty() ? std::string("logs") : table_prefix + "_logs";
}

postgres_config postgres_config::from_env() {
    return detail::postgres_config_from(env_options("postgres"));
}

namespace detail {

namespace {
// libpq takes keepalive times in whole seconds: round up, so 500ms does not become "off".
std::chrono::seconds whole_seconds(std::chrono::milliseconds d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::milliseconds(999));
}

// True when this libpq knows the connection parameter (tcp_user_timeout needs libpq 12).
bool libpq_knows(const char* keyword) {
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> defaults(PQconndefaults(),
                                                                            PQconninfoFree);
    for (const PQconninfoOption* o = defaults.get(); o && o->keyword; ++o) {
        if (std::string_view(o->keyword) == keyword) {
            return true;
        }
    }
    return false;
}
}  // namespace

session_settings session_settings_for(const postgres_config& cfg, const std::string& conninfo) {
    session_settings out;
    std::set<std::string> own;  // parameters the connection string sets itself: they win
    std::string own_options;
    char* error = nullptr;
    if (PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error)) {
        for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
            if (o->val != nullptr) {
                own.insert(o->keyword);
                if (std::string_view(o->keyword) == "options") {
                    own_options = o->val;
                }
            }
        }
        PQconninfoFree(options);
    }
    PQfreemem(error);
    // The COPY text is UTF-8: under another client_encoding (PGCLIENTENCODING=SJIS, or one in
    // the string) the server re-reads its bytes, an escaping backslash after a byte it takes for
    // a lead byte becomes part of a character, and columns shift. Always forced: it comes after
    // the string and overrides both.
    out.params.emplace_back("client_encoding", "UTF8");
    const auto add = [&](const char* keyword, long long value) {
        if (value > 0 && own.count(keyword) == 0 && libpq_knows(keyword)) {
            out.params.emplace_back(keyword, std::to_string(value));
        }
    };
    if (own.count("keepalives") == 0) {
        out.params.emplace_back("keepalives", "1");
    }
    add("keepalives_idle", cfg.keepalives_idle.count());
    add("keepalives_interval", cfg.keepalives_interval.count());
    add("keepalives_count", cfg.keepalives_count);
    add("tcp_user_timeout", cfg.tcp_user_timeout.count());
    if (own.count("options") == 0) {
        own_options = getenv_value("PGOPTIONS").value_or("");
    }
    out.statement_timeout = own_options.find("statement_timeout") == std::string::npos
                                ? cfg.statement_timeout
                                : std::chrono::milliseconds(0);
    if (cfg.statement_timeout.count() > 0) {
        out.reply_limit =
            cfg.statement_timeout +
            std::max<std::chrono::milliseconds>(cfg.tcp_user_timeout, std::chrono::seconds(1));
    }
    return out;
}

std::string resolve_conninfo(const postgres_config& cfg) {
    std::string conninfo = cfg.conninfo;
    if (conninfo.empty()) {
        if (auto url = getenv_value("LOG_POSTGRES_URL"); url && !url->empty()) {
            conninfo = *url;
        } else if (auto db = getenv_value("DATABASE_URL"); db && !db->empty()) {
            conninfo = *db;
        }  // else: libpq reads PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ... itself
    }
    if (conninfo.find("connect_timeout") == std::string::npos) {
        const std::string timeout =
            "connect_timeout=" + std::to_string(cfg.connect_timeout.count());
        if (is_uri(conninfo)) {
            conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&") + timeout;
        } else {
            conninfo += (conninfo.empty() ? "" : " ") + timeout;
        }
    }
    return conninfo;
}

namespace {
// libpq parses a connection string without connecting (PQconninfoParse): a string it cannot
// parse, or a port or sslmode it would refuse at connect time, is a config_error now rather
// than a retry loop. Messages name the variable the string came from and never hold the
// password.
void validate_conninfo(const postgres_config& cfg) {
    std::string variable = "LOG_POSTGRES_URL";
    std::string label = "LOG_POSTGRES_URL (postgres_config::conninfo)";
    if (!cfg.conninfo.empty()) {
        if (getenv_value("LOG_POSTGRES_URL").value_or("") != cfg.conninfo &&
            getenv_value("DATABASE_URL").value_or("") == cfg.conninfo) {
            variable = label = "DATABASE_URL";
        }
    } else if (auto url = getenv_value("LOG_POSTGRES_URL"); !url || url->empty()) {
        if (auto db = getenv_value("DATABASE_URL"); db && !db->empty()) {
            variable = label = "DATABASE_URL";
        }
    }
    const std::string conninfo = resolve_conninfo(cfg);
    if (is_uri(conninfo) && raw_reserved_in_userinfo(conninfo)) {
        throw config_error(variable,
                           label +
                               ": the URL's user name or password holds a raw '@' or '/': "
                               "percent-encode it ('@' as %40, '/' as %2F, ':' as %3A)");
    }
    const auto secrets = secrets_of(conninfo);
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
        PQconninfoParse(conninfo.c_str(), &error), PQconninfoFree);
    if (!options) {
        std::string why = error != nullptr ? masked(error, secrets) : "out of memory";
        PQfreemem(error);
        throw config_error(variable, label + ": libpq cannot parse the connection string: " + why +
                                         " (see libpq's \"Connection Strings\": "
                                         "host=... port=... dbname=... or postgresql://...)");
    }
    std::string sslmode;
    std::string port;
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
        const std::string keyword = o->keyword;
        if (keyword == "sslmode" && o->val != nullptr) {
            sslmode = o->val;
        } else if (keyword == "port" && o->val != nullptr) {
            port = o->val;
        }
    }
    if (!valid_sslmode(sslmode)) {
        throw config_error(variable, label + ": sslmode '" + masked(sslmode, secrets) +
                                         "' is not one of: " + ssl_mode_list());
    }
    if (!valid_ports(port)) {
        throw config_error(variable, label + ": port '" + masked(port, secrets) +
                                         "' is not a port number (1-65535; one per host, "
                                         "separated by ',')");
    }
    // Without them in the string, libpq takes PGSSLMODE / PGPORT from the environment.
    if (sslmode.empty()) {
        if (auto env = getenv_value("PGSSLMODE"); env && !valid_sslmode(*env)) {
            throw config_error("PGSSLMODE",
                               "PGSSLMODE: '" + *env + "' is not one of: " + ssl_mode_list());
        }
    }
    if (port.empty()) {
        if (auto env = getenv_value("PGPORT"); env && !valid_ports(*env)) {
            throw config_error("PGPORT", "PGPORT: '" + *env +
                                             "' is not a port number (1-65535; one per host, "
                                             "separated by ',')");
        }
    }
}
}  // namespace

void validate_postgres_config(const postgres_config& cfg) {
    validate_conninfo(cfg);
    const std::string table = cfg.table_name();
    if (table.size() > pg_max_identifier) {
        throw config_error("LOG_POSTGRES_TABLE_PREFIX",
                           "LOG_POSTGRES_TABLE_PREFIX (table_prefix): the table name is " +
                               std::to_string(table.size()) +
                               " bytes, over PostgreSQL's 63-byte limit: use a shorter prefix");
    }
    if (cfg.schema.size() > pg_max_identifier) {
        throw config_error("LOG_POSTGRES_SCHEMA", "LOG_POSTGRES_SCHEMA (schema): the name is " +
                                                      std::to_string(cfg.schema.size()) +
                                                      " bytes, over PostgreSQL's 63-byte limit");
    }
    if (cfg.table_prefix.find('\0') != std::string::npos) {
        throw config_error("LOG_POSTGRES_TABLE_PREFIX",
                           "LOG_POSTGRES_TABLE_PREFIX (table_prefix): a name cannot hold NUL");
    }
    if (cfg.schema.find('\0') != std::string::npos) {
        throw config_error("LOG_POSTGRES_SCHEMA",
                           "LOG_POSTGRES_SCHEMA (schema): a name cannot hold NUL");
    }
    if (cfg.connect_timeout.count() < 1) {
        // libpq counts whole seconds, and our connect loop gives up at once on 0.
        throw config_error("LOG_POSTGRES_CONNECT_TIMEOUT",
                           "LOG_POSTGRES_CONNECT_TIMEOUT (connect_timeout) must be at least 1s");
    }
    // Linux's limits (TCP_KEEPIDLE/TCP_KEEPINTVL up to 32767 s, TCP_KEEPCNT up to 127): libpq
    // fails every connection with a value beyond them, which would retry forever.
    const struct {
        long long value, max;
        const char *variable, *what;
    } keepalives[] = {
        {cfg.keepalives_idle.count(), 32767, "LOG_POSTGRES_KEEPALIVES_IDLE",
         "LOG_POSTGRES_KEEPALIVES_IDLE (keepalives_idle) must be between 0 (the OS default) and "
         "32767s"},
        {cfg.keepalives_interval.count(), 32767, "LOG_POSTGRES_KEEPALIVES_INTERVAL",
         "LOG_POSTGRES_KEEPALIVES_INTERVAL (keepalives_interval) must be between 0 (the OS "
         "default) and 32767s"},
        {cfg.keepalives_count, 127, "LOG_POSTGRES_KEEPALIVES_COUNT",
         "LOG_POSTGRES_KEEPALIVES_COUNT (keepalives_count) must be between 0 (the OS default) "
         "and 127 probes"},
    };
    for (const auto& k : keepalives) {
        if (k.value < 0 || k.value > k.max) {
            throw config_error(k.variable, k.what);
        }
    }
    if (cfg.tcp_user_timeout.count() < 0 || cfg.tcp_user_timeout.count() > INT32_MAX) {
        throw config_error("LOG_POSTGRES_TCP_USER_TIMEOUT",
                           "LOG_POSTGRES_TCP_USER_TIMEOUT (tcp_user_timeout) must be between 0 "
                           "(the OS default) and 24 days");
    }
    if (cfg.statement_timeout.count() < 0 || cfg.statement_timeout.count() > INT32_MAX) {
        throw config_error("LOG_POSTGRES_STATEMENT_TIMEOUT",
                           "LOG_POSTGRES_STATEMENT_TIMEOUT (statement_timeout) must be between 0 "
                           "(no limit) and 24 days");
    }
    if (cfg.retention_days < 0 || cfg.retention_days > 100000) {
        throw config_error("LOG_POSTGRES_RETENTION_DAYS",
                           "LOG_POSTGRES_RETENTION_DAYS (retention_days) must be between 0 (keep "
                           "everything) and 100000 days");
    }
    if (cfg.retention_chunk_rows == 0) {
        // DELETE ... LIMIT 0 deletes nothing: the table and its _batches would grow forever.
        throw config_error("LOG_POSTGRES_RETENTION_CHUNK_ROWS",
                           "LOG_POSTGRES_RETENTION_CHUNK_ROWS (retention_chunk_rows) must be at "
                           "least 1");
    }
}

postgres_config postgres_config_from(const env_options& env) {
    postgres_config cfg;
    cfg.conninfo = env.get_string("URL", "");
    if (cfg.conninfo.empty()) {
        cfg.conninfo = getenv_value("DATABASE_URL").value_or("");
    }
    cfg.schema = env.get_string("SCHEMA", cfg.schema);
    cfg.table_prefix = env.get_string("TABLE_PREFIX", cfg.table_prefix);
    cfg.create_table = env.get_bool("CREATE_TABLE", cfg.create_table);
    cfg.indexes = env.get_enum<postgres_indexes>("INDEXES", cfg.indexes,
                                                 {{"none", postgres_indexes::none},
                                                  {"minimal", postgres_indexes::minimal},
                                                  {"standard", postgres_indexes::standard},
                                                  {"full", postgres_indexes::full}});
    const std::size_t retention_days = env.get_size("RETENTION_DAYS", 0);
    if (retention_days > 100000) {
        env.fail("RETENTION_DAYS", "must be between 0 and 100000 days");
    }
    cfg.retention_days = static_cast<int>(retention_days);
    cfg.retention_interval = env.get_duration("RETENTION_INTERVAL", cfg.retention_interval);
    cfg.retention_chunk_rows = env.get_size("RETENTION_CHUNK_ROWS", cfg.retention_chunk_rows);
    if (cfg.retention_chunk_rows == 0) {
        env.fail("RETENTION_CHUNK_ROWS", "must be at least 1");
    }
    cfg.connect_timeout = whole_seconds(env.get_duration("CONNECT_TIMEOUT", cfg.connect_timeout));
    cfg.keepalives_idle = whole_seconds(env.get_duration("KEEPALIVES_IDLE", cfg.keepalives_idle));
    cfg.keepalives_interval =
        whole_seconds(env.get_duration("KEEPALIVES_INTERVAL", cfg.keepalives_interval));
    const std::size_t count =
        env.get_size("KEEPALIVES_COUNT", static_cast<std::size_t>(cfg.keepalives_count));
    if (count > 127) {
        env.fail("KEEPALIVES_COUNT", "must be between 0 and 127 probes (Linux's limit)");
    }
    cfg.keepalives_count = static_cast<int>(count);
    for (const auto& [name, value] : {std::pair{"KEEPALIVES_IDLE", cfg.keepalives_idle},
                                      std::pair{"KEEPALIVES_INTERVAL", cfg.keepalives_interval}}) {
        if (value.count() > 32767) {
            env.fail(name, "must be at most 32767s (Linux's limit)");
        }
    }
    cfg.tcp_user_timeout = env.get_duration("TCP_USER_TIMEOUT", cfg.tcp_user_timeout);
    cfg.statement_timeout = env.get_duration("STATEMENT_TIMEOUT", cfg.statement_timeout);
    env.apply_engine(cfg.engine);
    return cfg;
}

}  // namespace detail

namespace {
engine_config prepared_engine(const postgres_config& cfg) {
    engine_config engine = cfg.engine;
    if (engine.name.empty()) {
        engine.name = "postgres";
    }
    const std::string conninfo = detail::resolve_conninfo(cfg);
    for (const std::string& secret : secrets_of(conninfo)) {  // with PGPASSWORD, decoded forms
        if (!secret.empty()) {
            engine.secrets.push_back(secret);
        }
    }
    return engine;
}
}  // namespace

postgres_batch_sink::postgres_batch_sink(postgres_config config)
    : engine_sink(detail::make_postgres_backend(config),  // validates the config
                  prepared_engine(config)) {}

std::shared_ptr<spdlog::logger> postgres_logger_mt(const std::string& logger_name,
                                                   postgres_config config) {
    return detail::registered_logger<postgres_batch_sink>(logger_name, std::move(config));
}

std::shared_ptr<spdlog::logger> postgres_logger_st(const std::string& logger_name,
                                                   postgres_config config) {
    return postgres_logger_mt(logger_name, std::move(config));
}

}  // namespace spdlog_ext
