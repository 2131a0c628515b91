#!/usr/bin/env bash
# bench_postgres against a throwaway durable PostgreSQL server (bench/durable_postgres.sh: fsync,
# full_page_writes and synchronous_commit on), started here and removed at the end. The figures
# in docs/benchmarks.md come from this.
#
#   bench/run_bench_postgres.sh BENCH_BINARY [rows=200000] [batch sizes=1000,5000,20000]
#
# BENCH_BINARY: bench_postgres as built (e.g. build/rel/bench/bench_postgres). The environment
# (SPDLOG_EXT_BENCH_RUNS, ...) is passed on; SPDLOG_EXT_BENCH_PG_URL is set to the server.
set -euo pipefail

BENCH=${1:?usage: run_bench_postgres.sh BENCH_BINARY [rows] [batch sizes]}
shift
[[ -x $BENCH ]] || { echo "not executable: $BENCH" >&2; exit 2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bench/durable_postgres.sh
. "$SCRIPT_DIR/durable_postgres.sh"
trap durable_pg_stop EXIT
trap 'exit 130' INT TERM HUP

durable_pg_start
# psql for the \copy baseline: the server's own when PATH has none.
export SPDLOG_EXT_TEST_PG_BINDIR=${SPDLOG_EXT_TEST_PG_BINDIR:-$DURABLE_PG_BIN}
SPDLOG_EXT_BENCH_PG_URL=$DURABLE_PG_URL "$BENCH" "$@"
