// postgres_batch_sink's configuration, without a server: a connection string libpq cannot use is
// a config_error at construction (PQconninfoParse parses it without connecting), naming the
// variable and never holding the password.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "spdlog_ext/config_error.h"
#include "spdlog_ext/registry.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/env_guard.h"

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
