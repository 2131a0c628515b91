#include "sinks/postgres/postgres_config.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/text.h"
#include "core/utf8.h"
#include "sinks/postgres/postgres_conninfo.h"

namespace spdlog_ext {

namespace {

// "5432" or "5432,5433" (one per host), or empty. Pieces are not trimmed: libpq refuses " 5432".
bool valid_ports(const std::string& ports) {
    for (const std::string_view port : detail::split_any(ports, ",")) {
        if (port.empty()) {
            continue;
        }
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(),
                                            [](unsigned char c) { return std::isdigit(c) != 0; })) {
            return false;
        }
        const long n = std::stol(std::string(port));
        if (n < 1 || n > 65535) {
            return false;
        }
    }
    return true;
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

// libpq takes keepalive times in whole seconds: round up, so 500ms does not become "off".
std::chrono::seconds whole_seconds(std::chrono::milliseconds d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d + std::chrono::milliseconds(999));
}

const struct {
    const char* name;
    postgres_column_type type;
} column_type_names[] = {
    {"text", postgres_column_type::text},
    {"bigint", postgres_column_type::bigint},
    {"int8", postgres_column_type::bigint},
    {"integer", postgres_column_type::integer},
    {"int", postgres_column_type::integer},
    {"int4", postgres_column_type::integer},
    {"smallint", postgres_column_type::smallint},
    {"int2", postgres_column_type::smallint},
    {"double precision", postgres_column_type::double_precision},
    {"float8", postgres_column_type::double_precision},
    {"real", postgres_column_type::real},
    {"float4", postgres_column_type::real},
    {"boolean", postgres_column_type::boolean},
    {"bool", postgres_column_type::boolean},
    {"timestamptz", postgres_column_type::timestamptz},
    {"timestamp with time zone", postgres_column_type::timestamptz},
    {"uuid", postgres_column_type::uuid},
    {"jsonb", postgres_column_type::jsonb},
};

constexpr const char* columns_label = "LOG_POSTGRES_COLUMNS (columns)";

[[noreturn]] void bad_columns(const std::string& problem) {
    throw config_error("LOG_POSTGRES_COLUMNS", std::string(columns_label) + ": " + problem);
}

// Promoted column names: what a table name must be (63 bytes, no NUL, valid UTF-8 since the
// server's identifiers are text), not a fixed column's, each once.
void validate_postgres_columns(const std::vector<postgres_column>& columns) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
        const std::string& name = columns[i].name;
        if (name.empty()) {
            bad_columns("a column name is empty");
        }
        if (name.find('\0') != std::string::npos || !utf8::is_valid(name)) {
            bad_columns("the name '" + utf8::sanitize(name, utf8::nul_policy::replace) +
                        "' holds NUL or invalid UTF-8");
        }
        if (name.size() > detail::pg_max_identifier) {
            bad_columns("the name '" + name + "' is " + std::to_string(name.size()) +
                        " bytes, over PostgreSQL's 63-byte limit");
        }
        if (detail::pg_is_fixed_column(name)) {
            bad_columns("'" + name +
                        "' is a column of the log table itself: choose another name (reserved: "
                        "id, timestamp, level, logger_name, message, extra_data, ... txid, "
                        "created_at)");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (columns[j].name == name) {
                bad_columns("'" + name + "' is listed twice");
            }
        }
        if (static_cast<int>(columns[i].type) < 0 ||
            static_cast<int>(columns[i].type) > static_cast<int>(postgres_column_type::jsonb)) {
            bad_columns("'" + name + "' has an unknown type");
        }
    }
}

// A count read as a size_t for an int field: saturated, so that validation sees a huge value as
// too large instead of a wrapped one.
int saturated_int(std::size_t n) {
    return static_cast<int>(std::min<std::size_t>(n, INT_MAX));
}

}  // namespace

std::string postgres_config::table_name() const {
    return table_prefix.empty() ? std::string("logs") : table_prefix + "_logs";
}

postgres_config postgres_config::from_env() {
    postgres_config cfg = detail::postgres_config_from(env_options("postgres"));
    // Documented to throw for bad values; the connection string is checked when the sink is
    // built (as before: from_env never parsed it).
    detail::validate_postgres_settings(cfg);
    return cfg;
}

namespace detail {

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
        if (pg_is_uri(conninfo)) {
            conninfo += (conninfo.find('?') == std::string::npos ? "?" : "&") + timeout;
        } else {
            conninfo += (conninfo.empty() ? "" : " ") + timeout;
        }
    }
    return conninfo;
}

// libpq parses a connection string without connecting (PQconninfoParse): a string it cannot
// parse, or a port or sslmode it would refuse at connect time, is a config_error now rather
// than a retry loop. Messages name the variable the string came from and never hold the
// password.
void validate_postgres_conninfo(const postgres_config& cfg) {
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
    if (pg_is_uri(conninfo) && pg_raw_reserved_in_userinfo(conninfo)) {
        throw config_error(variable,
                           label +
                               ": the URL's user name or password holds a raw '@' or '/': "
                               "percent-encode it ('@' as %40, '/' as %2F, ':' as %3A)");
    }
    const auto secrets = pg_secrets_of(conninfo);
    char* error = nullptr;
    std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(
        PQconninfoParse(conninfo.c_str(), &error), PQconninfoFree);
    if (!options) {
        std::string why = error != nullptr ? pg_masked(error, secrets) : "out of memory";
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
        throw config_error(variable, label + ": sslmode '" + pg_masked(sslmode, secrets) +
                                         "' is not one of: " + ssl_mode_list());
    }
    if (!valid_ports(port)) {
        throw config_error(variable, label + ": port '" + pg_masked(port, secrets) +
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

void validate_postgres_config(const postgres_config& cfg) {
    validate_postgres_conninfo(cfg);
    validate_postgres_settings(cfg);
}

void validate_postgres_settings(const postgres_config& cfg) {
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
    validate_postgres_columns(cfg.columns);
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
    cfg.retention_days = saturated_int(env.get_size("RETENTION_DAYS", 0));
    cfg.retention_interval = env.get_duration("RETENTION_INTERVAL", cfg.retention_interval);
    cfg.retention_chunk_rows = env.get_size("RETENTION_CHUNK_ROWS", cfg.retention_chunk_rows);
    cfg.connect_timeout = whole_seconds(env.get_duration("CONNECT_TIMEOUT", cfg.connect_timeout));
    cfg.keepalives_idle = whole_seconds(env.get_duration("KEEPALIVES_IDLE", cfg.keepalives_idle));
    cfg.keepalives_interval =
        whole_seconds(env.get_duration("KEEPALIVES_INTERVAL", cfg.keepalives_interval));
    cfg.keepalives_count = saturated_int(
        env.get_size("KEEPALIVES_COUNT", static_cast<std::size_t>(cfg.keepalives_count)));
    cfg.tcp_user_timeout = env.get_duration("TCP_USER_TIMEOUT", cfg.tcp_user_timeout);
    cfg.statement_timeout = env.get_duration("STATEMENT_TIMEOUT", cfg.statement_timeout);
    cfg.notify = env.get_bool("NOTIFY", cfg.notify);
    if (auto spec = env.raw("COLUMNS")) {
        cfg.columns = parse_postgres_columns(*spec);
    }
    cfg.partition = env.get_enum<postgres_partition>("PARTITION", cfg.partition,
                                                     {{"none", postgres_partition::none},
                                                      {"day", postgres_partition::day},
                                                      {"week", postgres_partition::week},
                                                      {"month", postgres_partition::month}});
    env.apply_engine(cfg.engine);
    return cfg;
}

std::vector<postgres_column> parse_postgres_columns(const std::string& spec) {
    std::vector<postgres_column> columns;
    for (const std::string_view entry : split_any(spec, ",")) {
        if (trim(entry).empty()) {
            continue;  // "a:text," or an empty value
        }
        const auto parts = split_any(entry, ":");
        if (parts.size() < 2 || parts.size() > 3) {
            bad_columns("'" + std::string(entry) +
                        "' is not name:type or name:type:index (e.g. user_id:bigint:index)");
        }
        postgres_column column;
        column.name = trim(parts[0]);
        // "double  precision", "DOUBLE PRECISION": one space between words, lower case.
        const std::string lowered = lower(parts[1]);
        std::string type;
        for (const std::string_view word : split_any(lowered, " \t")) {
            if (!word.empty()) {
                type += (type.empty() ? "" : " ") + std::string(word);
            }
        }
        bool known = false;
        for (const auto& t : column_type_names) {
            if (type == t.name) {
                column.type = t.type;
                known = true;
            }
        }
        if (!known) {
            bad_columns("'" + std::string(trim(parts[1])) + "' (column '" + column.name +
                        "') is not a supported type: text, bigint, integer, smallint, double "
                        "precision, real, boolean, timestamptz, uuid, jsonb");
        }
        if (parts.size() == 3) {
            if (lower(trim(parts[2])) != "index") {
                bad_columns("'" + std::string(trim(parts[2])) + "' (column '" + column.name +
                            "'): the third part can only be 'index'");
            }
            column.index = true;
        }
        columns.push_back(std::move(column));
    }
    return columns;
}

const char* pg_column_type_sql(postgres_column_type type) {
    switch (type) {
        case postgres_column_type::text:
            return "text";
        case postgres_column_type::bigint:
            return "bigint";
        case postgres_column_type::integer:
            return "integer";
        case postgres_column_type::smallint:
            return "smallint";
        case postgres_column_type::double_precision:
            return "double precision";
        case postgres_column_type::real:
            return "real";
        case postgres_column_type::boolean:
            return "boolean";
        case postgres_column_type::timestamptz:
            return "timestamp with time zone";
        case postgres_column_type::uuid:
            return "uuid";
        case postgres_column_type::jsonb:
            return "jsonb";
    }
    return "text";
}

bool pg_is_fixed_column(const std::string& name) {
    static const char* const fixed[] = {
        "id",          "timestamp", "level",    "logger_name", "process_id",    "thread_id",
        "thread_name", "hostname",  "message",  "exception",   "function_name", "module",
        "filename",    "lineno",    "pathname", "extra_data",  "created_at",    "txid"};
    const std::string lowered = lower(name);
    return std::find(std::begin(fixed), std::end(fixed), lowered) != std::end(fixed);
}

std::vector<std::string> postgres_secrets(const postgres_config& cfg) {
    std::vector<std::string> secrets;
    for (std::string& secret : pg_secrets_of(resolve_conninfo(cfg))) {  // with PGPASSWORD
        if (!secret.empty()) {
            secrets.push_back(std::move(secret));
        }
    }
    return secrets;
}

}  // namespace detail

}  // namespace spdlog_ext
