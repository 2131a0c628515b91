// LOG_POSTGRES_PARTITION without a server: parsing (bad values are a config_error naming the
// variable and the accepted values) and the UTC periods and names of the partitions.
#include <doctest/doctest.h>

#include <string>

#include "core/civil_time.h"
#include "sinks/postgres/postgres_partitions.h"
#include "spdlog_ext/config_error.h"
#include "spdlog_ext/sinks/postgres_batch_sink.h"
#include "support/env_guard.h"

namespace {

using spdlog_ext::postgres_partition;
using spdlog_ext::detail::pg_period_at;

constexpr std::int64_t day_s = 86400;

std::int64_t at(std::int64_t y, unsigned m, unsigned d, std::int64_t seconds_in_day = 0) {
    return spdlog_ext::detail::days_from_civil(y, m, d) * day_s + seconds_in_day;
}

test::env_guard partition_env(const char* value) {
    return test::env_guard{{"LOG_POSTGRES_URL", "host=127.0.0.1 port=1"},
                           {"DATABASE_URL", nullptr},
                           {"LOG_POSTGRES_PARTITION", value}};
}

}  // namespace

TEST_SUITE("postgres") {
    TEST_CASE("LOG_POSTGRES_PARTITION parses none day week month - default none") {
        {
            auto env = partition_env(nullptr);
            CHECK(spdlog_ext::postgres_config::from_env().partition == postgres_partition::none);
            CHECK(spdlog_ext::postgres_config{}.partition == postgres_partition::none);
        }
        const std::pair<const char*, postgres_partition> names[] = {
            {"none", postgres_partition::none},
            {"day", postgres_partition::day},
            {"Week", postgres_partition::week},
            {" MONTH ", postgres_partition::month}};
        for (const auto& n : names) {
            INFO(std::string(n.first));
            auto env = partition_env(n.first);
            CHECK(spdlog_ext::postgres_config::from_env().partition == n.second);
        }
    }

    TEST_CASE("a bad LOG_POSTGRES_PARTITION is a config_error naming the variable and the values") {
        for (const char* bad : {"daily", "year", "day,week", "1"}) {
            INFO(std::string(bad));
            auto env = partition_env(bad);
            std::string variable;
            std::string what;
            try {
                (void)spdlog_ext::postgres_config::from_env();
            } catch (const spdlog_ext::config_error& e) {
                variable = e.variable();
                what = e.what();
            }
            INFO(what);
            CHECK(variable == "LOG_POSTGRES_PARTITION");
            CHECK(what.find("LOG_POSTGRES_PARTITION") != std::string::npos);
            CHECK(what.find("none, day, week, month") != std::string::npos);
        }
    }

    TEST_CASE("partition periods are UTC days - ISO weeks from Monday - calendar months") {
        // 2026-11-28 is a Saturday.
        const auto day = pg_period_at(postgres_partition::day, at(2026, 11, 28, 86399));
        CHECK(day.from_s == at(2026, 11, 28));
        CHECK(day.to_s == at(2026, 11, 29));
        CHECK(day.suffix == "p20261128");
        CHECK(pg_period_at(postgres_partition::day, at(2026, 11, 28), -1).suffix == "p20261127");
        CHECK(pg_period_at(postgres_partition::day, at(2026, 12, 31), 1).suffix == "p20270101");

        const auto week = pg_period_at(postgres_partition::week, at(2026, 11, 28, 3600));
        CHECK(week.from_s == at(2026, 11, 23));  // Monday
        CHECK(week.to_s == at(2026, 11, 30));
        CHECK(week.suffix == "w20261123");
        // A Monday starts its own week; a Sunday belongs to the week before.
        CHECK(pg_period_at(postgres_partition::week, at(2026, 11, 30)).suffix == "w20261130");
        CHECK(pg_period_at(postgres_partition::week, at(2026, 11, 29, 86399)).suffix ==
              "w20261123");
        CHECK(pg_period_at(postgres_partition::week, at(1970, 1, 1)).suffix == "w19691229");
        CHECK(pg_period_at(postgres_partition::week, at(2026, 11, 28), 2).suffix == "w20261207");

        const auto month = pg_period_at(postgres_partition::month, at(2026, 12, 31, 86399));
        CHECK(month.from_s == at(2026, 12, 1));
        CHECK(month.to_s == at(2027, 1, 1));
        CHECK(month.suffix == "m202612");
        CHECK(pg_period_at(postgres_partition::month, at(2026, 12, 15), 2).suffix == "m202702");
        CHECK(pg_period_at(postgres_partition::month, at(2026, 1, 15), -1).suffix == "m202512");
        CHECK(pg_period_at(postgres_partition::month, at(2028, 2, 10)).to_s == at(2028, 3, 1));
        // Before 1970 (negative seconds): still the right day.
        CHECK(pg_period_at(postgres_partition::day, at(1969, 12, 31, 10)).suffix == "p19691231");
    }

    TEST_CASE("partition names stay within 63 bytes and distinct for a long table name") {
        const std::string table(63, 't');
        const std::string a = spdlog_ext::detail::pg_derived_name(table, "p20261128");
        const std::string b = spdlog_ext::detail::pg_derived_name(table, "p20261129");
        CHECK(a.size() <= 63);
        CHECK(b.size() <= 63);
        CHECK(a != b);
        CHECK(a.substr(a.size() - 9) == "p20261128");
    }
}
