// How the PostgreSQL sink reads a failed batch transaction's SQLSTATE: data errors are isolated
// (bisected), a full notification queue (54000 with our NOTIFY in the transaction) is retried
// without the NOTIFY instead of being blamed on the records, the rest is retried.
#include <doctest/doctest.h>

#include "sinks/postgres/postgres_backend.h"

using spdlog_ext::detail::classify_pg_failure;
using spdlog_ext::detail::pg_failure_action;

TEST_SUITE("postgres") {
    TEST_CASE("a full NOTIFY queue is retried without NOTIFY - not isolated as bad data") {
        CHECK(classify_pg_failure("54000", true) == pg_failure_action::retry_without_notify);
        // Without our NOTIFY a 54000 is a limit the data hit (e.g. a too large value).
        CHECK(classify_pg_failure("54000", false) == pg_failure_action::isolate);
        CHECK(classify_pg_failure("54001", true) == pg_failure_action::isolate);
    }

    TEST_CASE("data errors are isolated and others retried") {
        for (const char* state : {"22P02", "22021", "23502", "23514", "54000"}) {
            CAPTURE(state);
            CHECK(classify_pg_failure(state, false) == pg_failure_action::isolate);
        }
        for (const char* state : {"40001", "40P01", "42P01", "53300", "57014", "XX000", ""}) {
            CAPTURE(state);
            CHECK(classify_pg_failure(state, true) == pg_failure_action::retry);
        }
    }
}
