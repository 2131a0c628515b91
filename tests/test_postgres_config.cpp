// postgres_batch_sink's configuration, without a server: a connection string libpq cannot use is
// a config_error at construction (PQconninfoParse parses it without connecting), naming the
// variable and never holding the password.
#include <doctest/doctest.h>

#include <spdlog/logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/postgres/postgres_connection.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/env_guard.h"
#include "support/test_backends.h"

using namespace std::chrono_literals;

namespace {

constexpr const char* password = "Pg-S3cret-pw";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The sink for `conninfo` (port 1: nobody listens there); the config_error's what(), or "" when
// it was built.
std::string construction_error(const std::string& conninfo, std::string* variable = nullptr) {
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = conninfo;
    const auto start = std::chrono::steady_clock::now();
    try {
        spdlog_ext::postgres_batch_sink sink(cfg);
        sink.shutdown(0ms);
        return {};
    } catch (const spdlog_ext::config_error& e) {
        CHECK(std::chrono::steady_clock::now() - start < 1s);  // no connection attempt
        if (variable != nullptr) {
            *variable = e.variable();
        }
        return e.what();
    }
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("a malformed connection string is a config_error at construction") {
        test::env_guard env{{"LOG_POSTGRES_URL", nullptr},
                            {"DATABASE_URL", nullptr},
                            {"PGSSLMODE", nullptr},
                            {"PGPORT", nullptr},
                            {"PGPASSWORD", nullptr}};
        const std::string pw = password;
        struct bad_case {
            std::string conninfo;
            std::string expected;  // a piece of the message
        };
        const bad_case cases[] = {
            {"host=127.0.0.1 port=1 password=" + pw + " sslmod=require", "sslmod"},
            {"host=127.0.0.1 port=1 password=" + pw + " sslmode=requir", "requir"},
            {"host=127.0.0.1 port=5550l password=" + pw, "5550l"},
            {"host=127.0.0.1,127.0.0.2 port=1,x password=" + pw, "port"},
            {"host=127.0.0.1 port=70000 password=" + pw, "70000"},
            {"host='127.0.0.1 port=1 password=" + pw, "unterminated"},
            {"postgresql://app:" + pw + "@[::1:1/db", "libpq cannot parse"},
            {"postgresql://app:" + pw + "@127.0.0.1:5550l/db", "5550l"},
            {"postgresql://app:" + pw + "@127.0.0.1:1/db?sslmod=require", "sslmod"},
            {"password = Pg-S3 cret-pw host=127.0.0.1 port=1", "libpq cannot parse"},
        };
        for (const auto& c : cases) {
            INFO(c.conninfo);
            std::string variable;
            const std::string what = construction_error(c.conninfo, &variable);
            INFO(what);
            REQUIRE(!what.empty());
            CHECK(variable == "LOG_POSTGRES_URL");
            CHECK(contains(what, "LOG_POSTGRES_URL"));
            CHECK(contains(what, c.expected));
            CHECK_FALSE(contains(what, "S3cret"));
            CHECK_FALSE(contains(what, "Pg-S3"));
            CHECK_FALSE(contains(what, "cret-pw"));
        }
        // Well-formed strings are accepted (and not connected to here).
        CHECK(construction_error("host=127.0.0.1 port=1 sslmode=verify-full password=" + pw) == "");
        CHECK(construction_error("host=127.0.0.1,127.0.0.2 port=1,2") == "");
        CHECK(construction_error("postgresql://app:" + pw + "@[::1]:1/db?sslmode=disable") == "");
        CHECK(construction_error("") == "");  // libpq's PG* variables
    }

    TEST_CASE(
        "conninfo errors name the variable it came from: LOG_POSTGRES_URL - DATABASE_URL - PG*") {
        test::env_guard env{{"LOG_POSTGRES_URL", "host=127.0.0.1 port=1 sslmode=sometimes"},
                            {"DATABASE_URL", nullptr},
                            {"PGSSLMODE", nullptr},
                            {"PGPORT", nullptr},
                            {"LOG_STRICT", nullptr}};
        auto variable_of_error = [] {
            try {
                (void)spdlog_ext::sinks_from_string("postgres", spdlog_ext::strictness::strict);
            } catch (const spdlog_ext::config_error& e) {
                return e.variable();
            }
            return std::string("(no error)");
        };
        CHECK(variable_of_error() == "LOG_POSTGRES_URL");
        env.unset("LOG_POSTGRES_URL");
        env.set("DATABASE_URL", "postgresql://app:x@127.0.0.1:1/db?sslmode=sometimes");
        CHECK(variable_of_error() == "DATABASE_URL");
        env.unset("DATABASE_URL");
        env.set("PGSSLMODE", "sometimes");
        CHECK(variable_of_error() == "PGSSLMODE");
        env.unset("PGSSLMODE");
        env.set("PGPORT", "5432x");
        CHECK(variable_of_error() == "PGPORT");
        env.set("PGPORT", "1");
        CHECK(variable_of_error() == "(no error)");
    }
}

TEST_SUITE("postgres") {
    TEST_CASE("a raw @ or / in a URL password is a config_error asking to percent-encode it") {
        test::env_guard env{{"LOG_POSTGRES_URL", nullptr},
                            {"DATABASE_URL", nullptr},
                            {"PGPASSWORD", nullptr},
                            {"LOG_STRICT", nullptr}};
        struct bad_case {
            std::string url;
            std::vector<std::string> secret_parts;
        };
        const bad_case cases[] = {
            {"postgresql://app:se@cr3t@127.0.0.1/db", {"se@cr3t", "cr3t"}},
            {"postgresql://app:pa/ss@db/x", {"pa/ss", "ss@db"}},
            {"postgres://app:x@y/z@127.0.0.1:1/db?sslmode=disable", {"x@y/z", "y/z"}},
            {"postgresql://user@domain:pw-S3cr3t@127.0.0.1:1/db", {"pw-S3cr3t"}},
        };
        for (const auto& c : cases) {
            INFO(c.url);
            std::string variable;
            const std::string what = construction_error(c.url, &variable);
            INFO(what);
            CHECK(variable == "LOG_POSTGRES_URL");
            CHECK(contains(what, "percent-encode"));
            for (const auto& secret : c.secret_parts) {
                CHECK_FALSE(contains(what, secret));
            }
            // The same through the registry, from the environment.
            env.set("LOG_POSTGRES_URL", c.url);
            std::string registry_what = "(no error)";
            try {
                (void)spdlog_ext::sinks_from_string("postgres", spdlog_ext::strictness::strict);
            } catch (const spdlog_ext::config_error& e) {
                registry_what = e.what();
            }
            INFO(registry_what);
            CHECK(contains(registry_what, "percent-encode"));
            for (const auto& secret : c.secret_parts) {
                CHECK_FALSE(contains(registry_what, secret));
            }
            env.unset("LOG_POSTGRES_URL");
        }
        // Not userinfo: an '@' in the database name after a port; no password; an IPv6 host.
        CHECK(construction_error("postgresql://127.0.0.1:1/db@x") == "");
        CHECK(construction_error("postgresql://app@127.0.0.1:1/db") == "");
        CHECK(construction_error("postgresql://app:pw@[::1]:1/db") == "");
    }

    TEST_CASE("a percent-encoded @ in a URL password never shows in errors or stats") {
        test::env_guard env{
            {"LOG_POSTGRES_URL", nullptr}, {"DATABASE_URL", nullptr}, {"PGPASSWORD", nullptr}};
        auto errors = std::make_shared<std::vector<std::string>>();
        auto mu = std::make_shared<std::mutex>();
        spdlog_ext::postgres_config cfg;
        cfg.conninfo = "postgresql://app:se%40cr3t@127.0.0.1:1/db?connect_timeout=2";
        cfg.engine.retry_initial = 20ms;
        auto fallback = std::make_shared<test::capture_sink_mt>();
        cfg.engine.fallback = fallback;
        cfg.engine.error_handler = [errors, mu](const std::string& e) {
            std::lock_guard<std::mutex> lock(*mu);
            errors->push_back(e);
        };
        spdlog_ext::postgres_batch_sink sink(cfg);  // a well-formed URL: accepted
        spdlog::logger logger("pct", std::shared_ptr<spdlog::sinks::sink>(&sink, [](auto*) {}));
        logger.error("x");
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (sink.stats().last_error.empty() && std::chrono::steady_clock::now() < end) {
            std::this_thread::sleep_for(20ms);
        }
        const auto s = sink.stats();
        sink.shutdown(0ms);
        CHECK_FALSE(s.last_error.empty());
        CHECK_FALSE(contains(s.to_json().dump(), "cr3t"));
        for (const auto& r : fallback->records()) {
            CHECK_FALSE(contains(r.fields.dump(), "cr3t"));
        }
        std::lock_guard<std::mutex> lock(*mu);
        CHECK_FALSE(errors->empty());
        for (const auto& e : *errors) {
            CHECK_FALSE(contains(e, "cr3t"));
        }
    }

    TEST_CASE("connection bounds from LOG_POSTGRES_* - the conninfo's own values win") {
        test::env_guard env{{"LOG_POSTGRES_KEEPALIVES_IDLE", "7s"},
                            {"LOG_POSTGRES_KEEPALIVES_INTERVAL", "1500ms"},
                            {"LOG_POSTGRES_KEEPALIVES_COUNT", "4"},
                            {"LOG_POSTGRES_TCP_USER_TIMEOUT", "12s"},
                            {"LOG_POSTGRES_STATEMENT_TIMEOUT", "45s"},
                            {"PGOPTIONS", nullptr}};
        auto cfg = spdlog_ext::postgres_config::from_env();
        CHECK(cfg.keepalives_idle == 7s);
        CHECK(cfg.keepalives_interval == 2s);  // libpq counts whole seconds: rounded up
        CHECK(cfg.keepalives_count == 4);
        CHECK(cfg.tcp_user_timeout == 12s);
        CHECK(cfg.statement_timeout == 45s);

        const auto params_of = [](const spdlog_ext::detail::session_settings& s) {
            std::map<std::string, std::string> out;
            for (const auto& [k, v] : s.params) {
                out[k] = v;
            }
            return out;
        };
        auto s = spdlog_ext::detail::session_settings_for(cfg, "host=127.0.0.1");
        auto p = params_of(s);
        CHECK(p["client_encoding"] == "UTF8");
        CHECK(p["keepalives"] == "1");
        CHECK(p["keepalives_idle"] == "7");
        CHECK(p["keepalives_interval"] == "2");
        CHECK(p["keepalives_count"] == "4");
        CHECK(p["tcp_user_timeout"] == "12000");
        CHECK(s.statement_timeout == 45s);
        CHECK(s.reply_limit == 57s);

        // The user's own values stay; client_encoding is forced anyway.
        s = spdlog_ext::detail::session_settings_for(
            cfg,
            "postgresql://h/db?keepalives_idle=99&tcp_user_timeout=5&client_encoding=SJIS"
            "&options=-c%20statement_timeout%3D5min");
        p = params_of(s);
        CHECK(p.count("keepalives_idle") == 0);
        CHECK(p.count("tcp_user_timeout") == 0);
        CHECK(p["keepalives_interval"] == "2");
        CHECK(p["client_encoding"] == "UTF8");
        CHECK(s.statement_timeout == 0s);  // the options set it: not SET again

        for (const char* bad : {"LOG_POSTGRES_STATEMENT_TIMEOUT", "LOG_POSTGRES_TCP_USER_TIMEOUT",
                                "LOG_POSTGRES_KEEPALIVES_COUNT"}) {
            test::env_guard one{{bad, "soon"}};
            std::string variable;
            try {
                (void)spdlog_ext::postgres_config::from_env();
            } catch (const spdlog_ext::config_error& e) {
                variable = e.variable();
            }
            CHECK(variable == bad);
        }
        spdlog_ext::postgres_config negative;
        negative.statement_timeout = -1s;
        std::string variable;
        try {
            spdlog_ext::postgres_batch_sink sink(negative);
        } catch (const spdlog_ext::config_error& e) {
            variable = e.variable();
        }
        CHECK(variable == "LOG_POSTGRES_STATEMENT_TIMEOUT");
    }
}

namespace {

// The LOG_POSTGRES_* options the cases below set: unset around each case, so that the
// developer's environment cannot change the outcome.
test::env_guard clean_postgres_env() {
    return test::env_guard{{"LOG_POSTGRES_URL", "host=127.0.0.1 port=1"},
                           {"DATABASE_URL", nullptr},
                           {"PGSSLMODE", nullptr},
                           {"PGPORT", nullptr},
                           {"PGPASSWORD", nullptr},
                           {"PGOPTIONS", nullptr},
                           {"LOG_STRICT", nullptr},
                           {"LOG_POSTGRES_SCHEMA", nullptr},
                           {"LOG_POSTGRES_TABLE_PREFIX", nullptr},
                           {"LOG_POSTGRES_CREATE_TABLE", nullptr},
                           {"LOG_POSTGRES_INDEXES", nullptr},
                           {"LOG_POSTGRES_RETENTION_DAYS", nullptr},
                           {"LOG_POSTGRES_RETENTION_INTERVAL", nullptr},
                           {"LOG_POSTGRES_RETENTION_CHUNK_ROWS", nullptr},
                           {"LOG_POSTGRES_CONNECT_TIMEOUT", nullptr},
                           {"LOG_POSTGRES_KEEPALIVES_IDLE", nullptr},
                           {"LOG_POSTGRES_KEEPALIVES_INTERVAL", nullptr},
                           {"LOG_POSTGRES_KEEPALIVES_COUNT", nullptr},
                           {"LOG_POSTGRES_TCP_USER_TIMEOUT", nullptr},
                           {"LOG_POSTGRES_STATEMENT_TIMEOUT", nullptr}};
}

// A config that passes validation and connects nowhere (port 1).
spdlog_ext::postgres_config valid_config() {
    spdlog_ext::postgres_config cfg;
    cfg.conninfo = "host=127.0.0.1 port=1";
    return cfg;
}

struct error_seen {
    std::string variable = "(no error)";
    std::string what;
};

// Constructing the sink from `cfg` (validation happens there, without connecting).
error_seen sink_error(const spdlog_ext::postgres_config& cfg) {
    error_seen seen;
    try {
        spdlog_ext::postgres_batch_sink sink(cfg);
        sink.shutdown(0ms);
    } catch (const spdlog_ext::config_error& e) {
        seen.variable = e.variable();
        seen.what = e.what();
    }
    return seen;
}

// Reading LOG_POSTGRES_* (postgres_config::from_env), without building a sink.
error_seen from_env_error() {
    error_seen seen;
    try {
        (void)spdlog_ext::postgres_config::from_env();
    } catch (const spdlog_ext::config_error& e) {
        seen.variable = e.variable();
        seen.what = e.what();
    }
    return seen;
}

// The registry's whole path: read the environment, then build (and validate) the sink.
error_seen registry_error() {
    error_seen seen;
    try {
        (void)spdlog_ext::sinks_from_string("postgres", spdlog_ext::strictness::strict);
    } catch (const spdlog_ext::config_error& e) {
        seen.variable = e.variable();
        seen.what = e.what();
    }
    return seen;
}

constexpr long long int32_max = 2147483647;  // libpq and the server take these as int

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("table and schema names over 63 bytes are a config_error naming the variable") {
        auto env = clean_postgres_env();
        auto cfg = valid_config();
        cfg.table_prefix = std::string(58, 'p');  // "ppp..._logs": 63 bytes
        CHECK(sink_error(cfg).variable == "(no error)");
        cfg.table_prefix = std::string(59, 'p');  // 64 bytes
        auto seen = sink_error(cfg);
        INFO(seen.what);
        CHECK(seen.variable == "LOG_POSTGRES_TABLE_PREFIX");
        CHECK(contains(seen.what, "LOG_POSTGRES_TABLE_PREFIX"));
        CHECK(contains(seen.what, "64 bytes"));

        cfg = valid_config();
        cfg.schema = std::string(63, 's');
        CHECK(sink_error(cfg).variable == "(no error)");
        cfg.schema = std::string(64, 's');
        seen = sink_error(cfg);
        CHECK(seen.variable == "LOG_POSTGRES_SCHEMA");
        CHECK(contains(seen.what, "LOG_POSTGRES_SCHEMA"));
        CHECK(contains(seen.what, "64 bytes"));
        // Bytes, not characters: 32 two-byte characters are over the limit.
        std::string accents;
        for (int i = 0; i < 32; ++i) {
            accents += "\xC3\xA9";
        }
        cfg.schema = accents;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_SCHEMA");

        // The same names from the environment, through the registry.
        env.set("LOG_POSTGRES_TABLE_PREFIX", std::string(59, 'p'));
        CHECK(registry_error().variable == "LOG_POSTGRES_TABLE_PREFIX");
        env.set("LOG_POSTGRES_TABLE_PREFIX", std::string(58, 'p'));
        CHECK(registry_error().variable == "(no error)");
        env.set("LOG_POSTGRES_SCHEMA", std::string(64, 's'));
        CHECK(registry_error().variable == "LOG_POSTGRES_SCHEMA");
    }

    TEST_CASE("a NUL in the table prefix or schema is a config_error") {
        auto env = clean_postgres_env();
        auto cfg = valid_config();
        cfg.table_prefix = std::string("app\0x", 5);
        auto seen = sink_error(cfg);
        CHECK(seen.variable == "LOG_POSTGRES_TABLE_PREFIX");
        CHECK(contains(seen.what, "NUL"));
        cfg = valid_config();
        cfg.schema = std::string("s\0", 2);
        seen = sink_error(cfg);
        INFO(seen.what);
        CHECK(seen.variable == "LOG_POSTGRES_SCHEMA");  // named LOG_POSTGRES_TABLE_PREFIX before
        CHECK(contains(seen.what, "LOG_POSTGRES_SCHEMA"));
        CHECK(contains(seen.what, "NUL"));
    }

    TEST_CASE("negative keepalives and out-of-range timeouts are a config_error at construction") {
        auto env = clean_postgres_env();
        auto cfg = valid_config();
        cfg.keepalives_idle = 0s;  // 0: the OS default, accepted
        cfg.keepalives_interval = 0s;
        cfg.keepalives_count = 0;
        cfg.tcp_user_timeout = 0ms;
        cfg.statement_timeout = 0ms;
        CHECK(sink_error(cfg).variable == "(no error)");

        cfg = valid_config();
        cfg.keepalives_idle = -1s;
        auto seen = sink_error(cfg);
        CHECK(seen.variable == "LOG_POSTGRES_KEEPALIVES_IDLE");
        CHECK(contains(seen.what, "between 0"));
        cfg = valid_config();
        cfg.keepalives_interval = -1s;
        seen = sink_error(cfg);
        CHECK(seen.variable == "LOG_POSTGRES_KEEPALIVES_INTERVAL");  // was named _IDLE
        cfg = valid_config();
        cfg.keepalives_count = -1;
        seen = sink_error(cfg);
        CHECK(seen.variable == "LOG_POSTGRES_KEEPALIVES_COUNT");

        cfg = valid_config();
        cfg.tcp_user_timeout = std::chrono::milliseconds(int32_max);
        CHECK(sink_error(cfg).variable == "(no error)");
        cfg.tcp_user_timeout = std::chrono::milliseconds(int32_max + 1);
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_TCP_USER_TIMEOUT");
        cfg.tcp_user_timeout = -1ms;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_TCP_USER_TIMEOUT");

        cfg = valid_config();
        cfg.statement_timeout = std::chrono::milliseconds(int32_max);
        CHECK(sink_error(cfg).variable == "(no error)");
        cfg.statement_timeout = std::chrono::milliseconds(int32_max + 1);
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_STATEMENT_TIMEOUT");

        cfg = valid_config();
        cfg.retention_days = -1;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_RETENTION_DAYS");
        cfg.retention_days = 100001;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_RETENTION_DAYS");

        // Limits the environment had, checked for a config built in code too.
        cfg = valid_config();
        cfg.retention_chunk_rows = 0;  // DELETE ... LIMIT 0: retention would never delete
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_RETENTION_CHUNK_ROWS");
        cfg = valid_config();
        cfg.connect_timeout = 0s;  // the connect loop would give up at once
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_CONNECT_TIMEOUT");
        // Beyond Linux's keepalive limits libpq fails every connection (retried forever).
        cfg = valid_config();
        cfg.keepalives_count = 128;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_KEEPALIVES_COUNT");
        cfg.keepalives_count = 127;
        CHECK(sink_error(cfg).variable == "(no error)");
        cfg.keepalives_idle = 32768s;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_KEEPALIVES_IDLE");
        cfg = valid_config();
        cfg.keepalives_interval = 32768s;
        CHECK(sink_error(cfg).variable == "LOG_POSTGRES_KEEPALIVES_INTERVAL");

        // From the environment: 596 h fits an int of milliseconds, 597 h does not.
        for (const char* name :
             {"LOG_POSTGRES_TCP_USER_TIMEOUT", "LOG_POSTGRES_STATEMENT_TIMEOUT"}) {
            INFO(std::string(name));
            env.set(name, "596h");
            CHECK(registry_error().variable == "(no error)");
            env.set(name, "597h");
            CHECK(registry_error().variable == name);
            env.unset(name);
        }
    }

    TEST_CASE("bad LOG_POSTGRES_* values are a config_error naming the variable") {
        auto env = clean_postgres_env();
        struct bad_case {
            const char* variable;
            const char* value;
        };
        const bad_case cases[] = {
            {"LOG_POSTGRES_KEEPALIVES_IDLE", "-5s"},
            {"LOG_POSTGRES_KEEPALIVES_IDLE", "5d"},
            {"LOG_POSTGRES_KEEPALIVES_INTERVAL", "often"},
            {"LOG_POSTGRES_KEEPALIVES_COUNT", "-1"},
            {"LOG_POSTGRES_KEEPALIVES_COUNT", "128"},
            {"LOG_POSTGRES_KEEPALIVES_IDLE", "32768s"},
            {"LOG_POSTGRES_KEEPALIVES_INTERVAL", "10h"},
            {"LOG_POSTGRES_KEEPALIVES_COUNT", "3s"},
            {"LOG_POSTGRES_TCP_USER_TIMEOUT", "-1s"},
            {"LOG_POSTGRES_STATEMENT_TIMEOUT", "30 seconds"},
            {"LOG_POSTGRES_CONNECT_TIMEOUT", "later"},
            {"LOG_POSTGRES_RETENTION_DAYS", "100001"},
            {"LOG_POSTGRES_RETENTION_DAYS", "-1"},
            {"LOG_POSTGRES_RETENTION_DAYS", "7d"},
            {"LOG_POSTGRES_RETENTION_CHUNK_ROWS", "0"},
            {"LOG_POSTGRES_RETENTION_CHUNK_ROWS", "many"},
            {"LOG_POSTGRES_RETENTION_INTERVAL", "hourly"},
            {"LOG_POSTGRES_INDEXES", "fast"},
            {"LOG_POSTGRES_INDEXES", "minimal,full"},
            {"LOG_POSTGRES_CREATE_TABLE", "maybe"},
        };
        for (const auto& c : cases) {
            INFO((std::string(c.variable) + "=" + c.value));
            env.set(c.variable, c.value);
            const auto seen = from_env_error();
            INFO(seen.what);
            CHECK(seen.variable == c.variable);
            CHECK(contains(seen.what, c.variable));
            CHECK(registry_error().variable == c.variable);  // the registry says the same
            env.unset(c.variable);
        }
        CHECK(from_env_error().variable == "(no error)");
        env.set("LOG_POSTGRES_INDEXES", "fast");
        CHECK(contains(from_env_error().what, "none, minimal, standard, full"));
    }

    TEST_CASE("the edges of the LOG_POSTGRES_* ranges are accepted") {
        auto env = clean_postgres_env();
        env.set("LOG_POSTGRES_KEEPALIVES_COUNT", "127");
        env.set("LOG_POSTGRES_KEEPALIVES_INTERVAL", "32767s");
        env.set("LOG_POSTGRES_CONNECT_TIMEOUT", "500ms");  // libpq counts seconds: rounded up
        env.set("LOG_POSTGRES_RETENTION_DAYS", "100000");
        env.set("LOG_POSTGRES_RETENTION_CHUNK_ROWS", "1");
        env.set("LOG_POSTGRES_RETENTION_INTERVAL", "5m");
        env.set("LOG_POSTGRES_KEEPALIVES_IDLE", "0");
        env.set("LOG_POSTGRES_TCP_USER_TIMEOUT", "0");
        env.set("LOG_POSTGRES_STATEMENT_TIMEOUT", "0");
        env.set("LOG_POSTGRES_CREATE_TABLE", "false");
        const auto cfg = spdlog_ext::postgres_config::from_env();
        CHECK(cfg.keepalives_count == 127);
        CHECK(cfg.keepalives_interval == 32767s);
        CHECK(cfg.connect_timeout == 1s);  // was 0 s: no connection attempt at all
        CHECK(cfg.retention_days == 100000);
        CHECK(cfg.retention_chunk_rows == 1);
        CHECK(cfg.retention_interval == 5min);
        CHECK(cfg.keepalives_idle == 0s);
        CHECK(cfg.tcp_user_timeout == 0ms);
        CHECK(cfg.statement_timeout == 0ms);
        CHECK_FALSE(cfg.create_table);
        CHECK(sink_error(cfg).variable == "(no error)");

        // The index sets by name: case and spaces do not matter.
        const std::pair<const char*, spdlog_ext::postgres_indexes> indexes[] = {
            {"none", spdlog_ext::postgres_indexes::none},
            {"minimal", spdlog_ext::postgres_indexes::minimal},
            {"Standard", spdlog_ext::postgres_indexes::standard},
            {" FULL ", spdlog_ext::postgres_indexes::full}};
        for (const auto& index : indexes) {
            INFO(std::string(index.first));
            env.set("LOG_POSTGRES_INDEXES", index.first);
            CHECK(spdlog_ext::postgres_config::from_env().indexes == index.second);
        }
    }
}

TEST_SUITE("postgres") {
    TEST_CASE("each limit: a config in code and from LOG_POSTGRES_* get the same config_error") {
        // One validation (validate_postgres_config, when the sink is built) for both paths: the
        // environment reader only parses. Same variable and same text either way, and from_env()
        // (which checks the settings too) says the same.
        auto env = clean_postgres_env();
        struct limit_case {
            const char* variable;
            std::string env_value;
            void (*in_code)(spdlog_ext::postgres_config&);
        };
        const limit_case cases[] = {
            {"LOG_POSTGRES_TABLE_PREFIX", std::string(59, 'p'),
             [](spdlog_ext::postgres_config& c) { c.table_prefix = std::string(59, 'p'); }},
            {"LOG_POSTGRES_SCHEMA", std::string(64, 's'),
             [](spdlog_ext::postgres_config& c) { c.schema = std::string(64, 's'); }},
            {"LOG_POSTGRES_CONNECT_TIMEOUT", "0",
             [](spdlog_ext::postgres_config& c) { c.connect_timeout = 0s; }},
            {"LOG_POSTGRES_KEEPALIVES_IDLE", "32768s",
             [](spdlog_ext::postgres_config& c) { c.keepalives_idle = 32768s; }},
            {"LOG_POSTGRES_KEEPALIVES_INTERVAL", "32768s",
             [](spdlog_ext::postgres_config& c) { c.keepalives_interval = 32768s; }},
            {"LOG_POSTGRES_KEEPALIVES_COUNT", "128",
             [](spdlog_ext::postgres_config& c) { c.keepalives_count = 128; }},
            // Beyond an int: saturated when read, never wrapped into range (2^32 would be 0).
            {"LOG_POSTGRES_KEEPALIVES_COUNT", "4294967296",
             [](spdlog_ext::postgres_config& c) { c.keepalives_count = 128; }},
            {"LOG_POSTGRES_TCP_USER_TIMEOUT", "597h",
             [](spdlog_ext::postgres_config& c) { c.tcp_user_timeout = 597h; }},
            {"LOG_POSTGRES_STATEMENT_TIMEOUT", "597h",
             [](spdlog_ext::postgres_config& c) { c.statement_timeout = 597h; }},
            {"LOG_POSTGRES_RETENTION_DAYS", "100001",
             [](spdlog_ext::postgres_config& c) { c.retention_days = 100001; }},
            {"LOG_POSTGRES_RETENTION_DAYS", "4294967297",  // 2^32 + 1 would wrap to 1
             [](spdlog_ext::postgres_config& c) { c.retention_days = 100001; }},
            {"LOG_POSTGRES_RETENTION_CHUNK_ROWS", "0",
             [](spdlog_ext::postgres_config& c) { c.retention_chunk_rows = 0; }},
        };
        for (const auto& c : cases) {
            INFO((std::string(c.variable) + "=" + c.env_value));
            auto cfg = valid_config();
            c.in_code(cfg);
            const auto from_code = sink_error(cfg);
            INFO(from_code.what);
            CHECK(from_code.variable == c.variable);
            CHECK(contains(from_code.what, c.variable));

            env.set(c.variable, c.env_value);
            const auto from_registry = registry_error();
            INFO(from_registry.what);
            CHECK(from_registry.variable == c.variable);
            CHECK(from_registry.what == from_code.what);
            const auto read = from_env_error();
            CHECK(read.variable == c.variable);
            CHECK(read.what == from_code.what);
            env.unset(c.variable);
        }
        CHECK(registry_error().variable == "(no error)");
    }
}
