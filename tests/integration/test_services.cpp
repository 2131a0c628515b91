// The throwaway servers started by scripts/services.sh answer. Every other
// integration test depends on them, so these fail (never skip) without them.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <string>

#include "integration/service_env.h"

using spdlog_ext_test::http_get;
using spdlog_ext_test::require_env;
using spdlog_ext_test::url_encode;

TEST_SUITE("integration") {
    TEST_CASE("PostgreSQL from SPDLOG_EXT_TEST_PG_URL answers SELECT version()") {
        const std::string url = require_env("SPDLOG_EXT_TEST_PG_URL");
        INFO("SPDLOG_EXT_TEST_PG_URL=" << url);

        // Only APIs present in both libpqxx 6.4 and 7.x.
        pqxx::connection connection(url);
        pqxx::work tx(connection);
        const pqxx::result version = tx.exec("SELECT version()");
        REQUIRE(version.size() == 1);
        const std::string text = version[0][0].as<std::string>();
        INFO("version(): " << text);
        CHECK(text.rfind("PostgreSQL", 0) == 0);

        tx.commit();
    }

    TEST_CASE("InfluxDB from SPDLOG_EXT_TEST_INFLUX_URL answers /ping and has the test database") {
        const std::string url = require_env("SPDLOG_EXT_TEST_INFLUX_URL");
        const std::string db = require_env("SPDLOG_EXT_TEST_INFLUX_DB");
        INFO("SPDLOG_EXT_TEST_INFLUX_URL=" << url);

        const auto ping = http_get(url + "/ping");
        REQUIRE_MESSAGE(ping.ok(), ping.error);
        CHECK(ping.status == 204);

        const auto show = http_get(url + "/query?q=" + url_encode("SHOW DATABASES"));
        REQUIRE_MESSAGE(show.ok(), show.error);
        INFO("SHOW DATABASES answered: " << show.body);
        REQUIRE(show.status == 200);

        const auto json = nlohmann::json::parse(show.body);
        bool found = false;
        for (const auto& result : json.at("results")) {
            for (const auto& series : result.value("series", nlohmann::json::array())) {
                for (const auto& row : series.value("values", nlohmann::json::array())) {
                    if (!row.empty() && row.at(0) == db) {
                        found = true;
                    }
                }
            }
        }
        CHECK_MESSAGE(found, "database " << db << " not listed by SHOW DATABASES");
    }
}
