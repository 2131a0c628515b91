// spdlog_ext/spdlog_ext.h is "everything in one include": with it alone, every sink this build
// has is usable (this file includes nothing else of spdlog_ext on purpose).
#include <doctest/doctest.h>

#include <type_traits>

#include "spdlog_ext/spdlog_ext.h"

TEST_SUITE("registry") {
    TEST_CASE("spdlog_ext.h alone declares every sink the build has") {
        CHECK(std::is_base_of_v<spdlog::sinks::sink, spdlog_ext::jsonl_file_sink_mt>);
#if SPDLOG_EXT_WITH_POSTGRES
        CHECK(std::is_base_of_v<spdlog_ext::engine_sink, spdlog_ext::postgres_batch_sink>);
        CHECK(spdlog_ext::postgres_config{}.table_name() == "logs");
#endif
#if SPDLOG_EXT_WITH_HTTP
        CHECK(std::is_base_of_v<spdlog_ext::engine_sink, spdlog_ext::datadog_http_sink>);
        CHECK(std::is_base_of_v<spdlog_ext::engine_sink, spdlog_ext::slack_error_sink>);
        CHECK(std::is_base_of_v<spdlog_ext::engine_sink, spdlog_ext::influx_timeseries_sink>);
#endif
    }
}
