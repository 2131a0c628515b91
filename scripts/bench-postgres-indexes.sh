#!/usr/bin/env bash
# Ingest cost of the postgres_batch_sink index presets, measured with psql \copy only.
#
# Usage: scripts/bench-postgres-indexes.sh [ROWS=200000]
#
# Generates ROWS realistic log rows (timestamps ~1 ms apart, a few levels, loggers and hosts,
# 58-109 character messages, a small extra_data JSON object) as one COPY text file. Then, for
# each index set, it creates a fresh table of the sink's shape with those indexes and times
# psql's \copy of the file into it, RUNS times; the median is reported. Only psql is timed
# (the file is generated once, the table is created and checkpointed before the clock starts).
#
# Index sets: the sink's presets (postgres_indexes) none, minimal, standard, full, and for
# comparison "btree5", the five B-trees first proposed ((timestamp DESC), (level),
# (logger_name), (hostname), (timestamp, level, logger_name)), and btree5 plus the GIN index.
#
# Server: $SPDLOG_EXT_TEST_PG_URL when set, else throwaway servers from scripts/services.sh
# (started here, stopped at exit). psql comes from PATH or $SPDLOG_EXT_TEST_PG_BINDIR.
#
# The throwaway servers run with fsync, full_page_writes and synchronous_commit off, which
# flatters index maintenance (no full-page images in the WAL). SPDLOG_EXT_BENCH_DURABLE=1 turns
# them on (ALTER SYSTEM; only on servers this script started) to get production-like numbers.
#
# Environment: SPDLOG_EXT_BENCH_RUNS (timed loads per set, default 3),
#              SPDLOG_EXT_BENCH_SETS (space-separated subset of the sets above),
#              SPDLOG_EXT_BENCH_DURABLE (1: fsync, full_page_writes, synchronous_commit on).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
ROWS=${1:-200000}
RUNS=${SPDLOG_EXT_BENCH_RUNS:-3}
SETS=${SPDLOG_EXT_BENCH_SETS:-none minimal standard full btree5 btree5_gin}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 [ROWS=200000]" >&2
  exit 2
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || RUNS=3

log() { printf 'bench-postgres-indexes: %s\n' "$*" >&2; }

WORK=$(mktemp -d /tmp/spdlog_ext_idxbench.XXXXXX)
SERVICES_DIR=""
cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  if [[ -n ${PG_URL:-} && -n ${TABLE_BASE:-} ]]; then
    for set in $SETS; do
      "$PSQL" -qX -d "$PG_URL" -c "DROP TABLE IF EXISTS ${TABLE_BASE}_${set}" >/dev/null 2>&1 || true
    done
  fi
  if [[ -n $SERVICES_DIR ]]; then
    "$SCRIPT_DIR/services.sh" stop "$SERVICES_DIR" >/dev/null 2>&1 || log "could not stop $SERVICES_DIR"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if command -v psql >/dev/null 2>&1; then
  PSQL=$(command -v psql)
elif [[ -n ${SPDLOG_EXT_TEST_PG_BINDIR:-} && -x $SPDLOG_EXT_TEST_PG_BINDIR/psql ]]; then
  PSQL=$SPDLOG_EXT_TEST_PG_BINDIR/psql
else
  log "psql not found in PATH or \$SPDLOG_EXT_TEST_PG_BINDIR"
  exit 1
fi

if [[ -n ${SPDLOG_EXT_TEST_PG_URL:-} ]]; then
  PG_URL=$SPDLOG_EXT_TEST_PG_URL
else
  log "SPDLOG_EXT_TEST_PG_URL not set: starting throwaway servers"
  # A fresh directory: services.sh start would reuse (and wipe) $SPDLOG_EXT_SERVICES_DIR.
  SERVICES_DIR=$(env -u SPDLOG_EXT_SERVICES_DIR "$SCRIPT_DIR/services.sh" start)
  # shellcheck source=/dev/null
  . "$SERVICES_DIR/env"
  PG_URL=$SPDLOG_EXT_TEST_PG_URL
fi
TABLE_BASE="spdlog_ext_idxbench_$$"

sql() { "$PSQL" -qX -v ON_ERROR_STOP=1 -d "$PG_URL" "$@"; }

if [[ ${SPDLOG_EXT_BENCH_DURABLE:-0} == 1 ]]; then
  if [[ -z $SERVICES_DIR ]]; then
    log "SPDLOG_EXT_BENCH_DURABLE=1 changes server settings: only done on servers started here" \
      "(unset SPDLOG_EXT_TEST_PG_URL)"
    exit 2
  fi
  for setting in fsync full_page_writes synchronous_commit; do
    sql -c "ALTER SYSTEM SET $setting = on"
  done
  sql -c "SELECT pg_reload_conf()" >/dev/null
  sleep 1
fi
SERVER=$(sql -tA -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', fsync ' ||
  current_setting('fsync') || ', full_page_writes ' || current_setting('full_page_writes') ||
  ', synchronous_commit ' || current_setting('synchronous_commit') || ', shared_buffers ' ||
  current_setting('shared_buffers')")

# ---------------------------------------------------------------- data

DATA=$WORK/rows.copy
log "generating $ROWS rows"
awk -v rows="$ROWS" 'BEGIN {
  srand(42)
  nlog = split("app.http app.db app.auth app.cache worker.jobs scheduler", loggers, " ")
  split("handle_request run_query check_token get_or_load run_job tick", funcs, " ")
  split("http db auth cache jobs scheduler", mods, " ")
  nhost = split("web-01 web-02 web-03 worker-01 worker-02", hosts, " ")
  for (h = 1; h <= nhost; h++) pids[h] = 1000 + int(rand() * 30000)
  us = 0
  for (i = 0; i < rows; i++) {
    us = i * 1000 + int(rand() * 1000)  # ~1 ms apart, increasing
    secs = int(us / 1000000)
    day = 1 + int(secs / 86400)
    sod = secs % 86400
    ts = sprintf("2024-05-%02d %02d:%02d:%02d.%06d+00", day, int(sod / 3600), int(sod % 3600 / 60), \
                 sod % 60, us % 1000000)
    r = rand()
    lvl = r < 0.01 ? "TRACE" : r < 0.16 ? "DEBUG" : r < 0.86 ? "INFO" : r < 0.94 ? "WARNING" : \
          r < 0.99 ? "ERROR" : "CRITICAL"
    l = 1 + int(rand() * nlog)
    h = 1 + int(rand() * nhost)
    t = int(rand() * 8)
    user = 1 + int(rand() * 50000)
    lat = int(rand() * 5000) / 10
    m = int(rand() * 7)
    if (m == 0) msg = sprintf("GET /api/v1/orders/%d completed with status %d in %.1f ms", \
                              int(rand() * 1000000), rand() < 0.9 ? 200 : 404, lat)
    else if (m == 5) msg = sprintf("POST /api/v1/checkout for user %d rejected: field shipping_address.postcode " \
                                   "does not match country %s", user, rand() < 0.5 ? "DE" : "FR")
    else if (m == 6) msg = sprintf("slow request GET /api/v1/users/%d/orders?page=%d&per_page=50 took %.1f ms " \
                                   "(threshold 250 ms, db %.1f ms)", user, 1 + int(rand() * 40), lat, lat / 2)
    else if (m == 1) msg = sprintf("query on table orders returned %d rows in %.1f ms (pool %d/20 in use)", \
                                   int(rand() * 500), lat, int(rand() * 20))
    else if (m == 2) msg = sprintf("user %d authenticated with token ending %06x from 10.%d.%d.%d", user, \
                                   int(rand() * 16777216), int(rand() * 256), int(rand() * 256), int(rand() * 256))
    else if (m == 3) msg = sprintf("cache miss for key session:%d:profile, loaded from the database in %.1f ms", \
                                   user, lat)
    else msg = sprintf("job %d of queue emails finished after %d attempts; next run scheduled in %d s", \
                       int(rand() * 100000000), 1 + int(rand() * 3), int(rand() * 3600))
    exc = "\\N"
    if ((lvl == "ERROR" || lvl == "CRITICAL") && rand() < 0.3)
      exc = "Traceback (most recent call last):\\n  File \"/srv/app/" mods[l] ".py\", line " \
            (20 + l * 7) ", in " funcs[l] "\\nTimeoutError: operation timed out after 30 s"
    extra = sprintf("{\"user_id\":%d,\"request_id\":\"r-%08x\",\"latency_ms\":%.1f}", user, \
                    int(rand() * 4294967295), lat)
    printf "%s\t%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ts, lvl, loggers[l], \
           pids[h], 139800000000000 + h * 1000 + t, (t == 0 ? "MainThread" : "worker-" t), hosts[h], \
           msg, exc, funcs[l], mods[l], mods[l] ".py", 20 + l * 7, "/srv/app/" mods[l] ".py", extra
  }
}' >"$DATA"
log "$(wc -c <"$DATA" | awk '{printf "%.1f MB", $1 / 1048576}') of COPY text in $DATA"

readonly COLS="timestamp, level, logger_name, process_id, thread_id, thread_name, hostname, message, \
exception, function_name, module, filename, lineno, pathname, extra_data"

# index_sql SET TABLE: the CREATE INDEX statements of an index set.
index_sql() {
  local t=$2
  case $1 in
  none) ;;
  minimal | standard | full)
    echo "CREATE INDEX ON $t USING brin (timestamp);"
    echo "CREATE INDEX ON $t (level, timestamp);"
    if [[ $1 != minimal ]]; then
      echo "CREATE INDEX ON $t (logger_name, timestamp);"
      echo "CREATE INDEX ON $t (hostname, timestamp);"
    fi
    if [[ $1 == full ]]; then
      echo "CREATE INDEX ON $t USING gin (extra_data jsonb_path_ops);"
    fi
    ;;
  btree5 | btree5_gin)
    echo "CREATE INDEX ON $t (timestamp DESC);"
    echo "CREATE INDEX ON $t (level);"
    echo "CREATE INDEX ON $t (logger_name);"
    echo "CREATE INDEX ON $t (hostname);"
    echo "CREATE INDEX ON $t (timestamp, level, logger_name);"
    if [[ $1 == btree5_gin ]]; then
      echo "CREATE INDEX ON $t USING gin (extra_data jsonb_path_ops);"
    fi
    ;;
  *)
    log "unknown index set: $1"
    return 1
    ;;
  esac
}

create_table() { # TABLE SET
  local t=$1
  sql <<EOF
SET client_min_messages = warning;
DROP TABLE IF EXISTS $t;
CREATE TABLE $t (
  id BIGSERIAL PRIMARY KEY,
  timestamp TIMESTAMPTZ NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL')),
  logger_name TEXT NOT NULL,
  process_id INTEGER, thread_id BIGINT, thread_name TEXT, hostname TEXT,
  message TEXT NOT NULL, exception TEXT,
  function_name TEXT, module TEXT, filename TEXT, lineno INTEGER, pathname TEXT,
  extra_data JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now());
$(index_sql "$2" "$t")
EOF
  # Start each load from a clean slate (no checkpoint of the previous load in the timing).
  sql -c "CHECKPOINT" >/dev/null 2>&1 || true
}

now() { date +%s.%N; }

# ---------------------------------------------------------------- runs

declare -A MEDIAN INDEX_MB TABLE_MB ALL
for set in $SETS; do
  index_sql "$set" x >/dev/null || exit 2
done
# Round robin (each run loads every set once) so that a noisy moment on a shared machine
# spreads over the sets instead of hitting one of them.
for run in $(seq "$RUNS"); do
  for set in $SETS; do
    t="${TABLE_BASE}_${set}"
    create_table "$t" "$set"
    t0=$(now)
    sql -c "\\copy $t($COLS) from '$DATA'" >/dev/null
    t1=$(now)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    ALL[$set]="${ALL[$set]:-}${ALL[$set]:+ }$secs"
    log "run $run, $set: $secs s"
    n=$(sql -tA -c "SELECT count(*) FROM $t")
    [[ $n == "$ROWS" ]] || {
      log "$set: $n rows in the table, expected $ROWS"
      exit 1
    }
    if ((run == RUNS)); then
      read -r "TABLE_MB[$set]" "INDEX_MB[$set]" < <(sql -tA -F ' ' -c "SELECT \
        round(pg_table_size('$t') / 1048576.0, 1), round(pg_indexes_size('$t') / 1048576.0, 1)")
    fi
    sql -c "DROP TABLE $t"
  done
done
for set in $SETS; do
  # shellcheck disable=SC2086 # word splitting wanted
  MEDIAN[$set]=$(printf '%s\n' ${ALL[$set]} | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
done

base=${MEDIAN[none]:-}
printf '\n%d rows, median of %d loads with psql \\copy\n%s\n\n' "$ROWS" "$RUNS" "$SERVER"
printf '%-11s %9s %10s %9s %9s %9s  %s\n' set seconds rows/s "vs none" "index MB" "table MB" runs
for set in $SETS; do
  m=${MEDIAN[$set]}
  ratio=-
  [[ -n $base ]] && ratio=$(awk -v m="$m" -v b="$base" 'BEGIN { printf "%.2fx", m / b }')
  printf '%-11s %9.3f %10.0f %9s %9s %9s  %s\n' "$set" "$m" \
    "$(awk -v r="$ROWS" -v m="$m" 'BEGIN { print r / m }')" "$ratio" "${INDEX_MB[$set]}" \
    "${TABLE_MB[$set]}" "${ALL[$set]}"
done
