#!/usr/bin/env bash
# Query, count and stats times of postgres_log_store on a large table, with the plan each uses.
#
# Usage: scripts/bench-log-store.sh [ROWS=1000000]
#
# Creates a table of the sink's shape with one index preset (default: minimal, the sink's
# default: BRIN(timestamp) + (level, timestamp)), seeds ROWS rows with one INSERT ... SELECT
# generate_series (the distribution of scripts/bench-postgres-indexes.sh: 6 loggers, 5 hosts,
# levels 1% TRACE 15% DEBUG 70% INFO 8% WARNING 5% ERROR 1% CRITICAL, 30% of errors with a
# traceback, extra_data {user_id, request_id, latency_ms}; timestamps evenly over the last 48 h,
# newest = now, ids in time order as the sink writes them), VACUUM ANALYZEs it, then runs each
# statement postgres_log_store sends (the SQL of src/store/postgres/store_sql.cpp with the
# parameters written as literals, which plans like the store's unnamed parameterised statements)
# RUNS times and reports the best time (psql \timing) and the scan nodes of its EXPLAIN.
#
# Server: $SPDLOG_EXT_TEST_PG_URL when set, else throwaway servers from scripts/services.sh
# (started here, stopped at exit). psql from PATH or $SPDLOG_EXT_TEST_PG_BINDIR.
#
# Environment: SPDLOG_EXT_BENCH_RUNS (default 3), SPDLOG_EXT_BENCH_PRESET (none, minimal,
# standard, full; default minimal), SPDLOG_EXT_BENCH_KEEP=1 keeps the table.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
readonly SCRIPT_DIR
ROWS=${1:-1000000}
RUNS=${SPDLOG_EXT_BENCH_RUNS:-3}
PRESET=${SPDLOG_EXT_BENCH_PRESET:-minimal}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: $0 [ROWS=1000000]" >&2
  exit 2
}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || RUNS=3
case $PRESET in none | minimal | standard | full) ;; *)
  echo "SPDLOG_EXT_BENCH_PRESET must be none, minimal, standard or full" >&2
  exit 2
  ;;
esac

log() { printf 'bench-log-store: %s\n' "$*" >&2; }

SERVICES_DIR=""
T="spdlog_ext_storebench_$$"
cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  if [[ -n ${PG_URL:-} && ${SPDLOG_EXT_BENCH_KEEP:-0} != 1 ]]; then
    "$PSQL" -qX -d "$PG_URL" -c "DROP TABLE IF EXISTS $T" >/dev/null 2>&1 || true
  fi
  if [[ -n $SERVICES_DIR ]]; then
    "$SCRIPT_DIR/services.sh" stop "$SERVICES_DIR" >/dev/null 2>&1 || log "could not stop $SERVICES_DIR"
  fi
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
  SERVICES_DIR=$(env -u SPDLOG_EXT_SERVICES_DIR "$SCRIPT_DIR/services.sh" start)
  # shellcheck source=/dev/null
  . "$SERVICES_DIR/env"
  PG_URL=$SPDLOG_EXT_TEST_PG_URL
fi
sql() { "$PSQL" -qX -v ON_ERROR_STOP=1 -d "$PG_URL" "$@"; }

# ---------------------------------------------------------------- table and rows
# The sink's CREATE TABLE (src/sinks/postgres/postgres_ddl.cpp) and its index presets.
sql -c "CREATE TABLE $T (id BIGSERIAL PRIMARY KEY, timestamp TIMESTAMPTZ NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('TRACE','DEBUG','INFO','WARNING','ERROR','CRITICAL')),
  logger_name TEXT NOT NULL, process_id INTEGER, thread_id BIGINT, thread_name TEXT, hostname TEXT,
  message TEXT NOT NULL, exception TEXT, function_name TEXT, module TEXT, filename TEXT, lineno INTEGER,
  pathname TEXT, extra_data JSONB, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
log "seeding $ROWS rows"
start=$(date +%s.%N)
sql -c "INSERT INTO $T (timestamp, level, logger_name, process_id, thread_id, thread_name, hostname,
  message, exception, function_name, module, filename, lineno, pathname, extra_data)
SELECT ts, lvl, lg, 1000 + h * 7, 139800000000000 + h * 1000 + th,
  CASE WHEN th = 0 THEN 'MainThread' ELSE 'worker-' || th END, 'web-0' || h,
  CASE m WHEN 0 THEN 'GET /api/v1/orders/' || (g * 7919 % 1000000) || ' completed with status 200 in ' || lat || ' ms'
         WHEN 1 THEN 'query on table orders returned ' || (g % 500) || ' rows in ' || lat || ' ms'
         WHEN 2 THEN 'user ' || u || ' authenticated with token ending ' || to_hex(g * 2654435761 % 16777216)
         WHEN 3 THEN 'cache miss for key session:' || u || ':profile, loaded in ' || lat || ' ms'
         WHEN 4 THEN 'job ' || g || ' of queue emails finished after ' || (1 + g % 3) || ' attempts'
         WHEN 5 THEN 'POST /api/v1/checkout for user ' || u || ' rejected: field shipping_address.postcode'
         ELSE 'slow request GET /api/v1/users/' || u || '/orders took ' || lat || ' ms (threshold 250 ms)' END,
  CASE WHEN lvl IN ('ERROR','CRITICAL') AND g % 10 < 3 THEN
    E'Traceback (most recent call last):\n  File \"/srv/app/db.py\", line 27, in run_query\nTimeoutError: operation timed out after 30 s' END,
  'run', 'app', 'app.py', 20 + m, '/srv/app/app.py',
  jsonb_build_object('user_id', u, 'request_id', 'r-' || to_hex(g * 40503 % 4294967295), 'latency_ms', lat)
FROM (SELECT g, now() - ($ROWS - g) * (interval '48 hours' / $ROWS) AS ts,
        CASE WHEN r < 0.01 THEN 'TRACE' WHEN r < 0.16 THEN 'DEBUG' WHEN r < 0.86 THEN 'INFO'
             WHEN r < 0.94 THEN 'WARNING' WHEN r < 0.99 THEN 'ERROR' ELSE 'CRITICAL' END AS lvl,
        (ARRAY['app.http','app.db','app.auth','app.cache','worker.jobs','scheduler'])[1 + g % 6] AS lg,
        1 + g % 5 AS h, g % 8 AS th, (g * 31) % 7 AS m, 1 + (g * 7919) % 50000 AS u,
        round(((g * 13) % 5000) / 10.0, 1) AS lat
      FROM (SELECT g, ((g * 2654435761) % 1000003) / 1000003.0 AS r FROM generate_series(1::bigint, $ROWS) g) s) x"
idx() { sql -c "CREATE INDEX ${T}_$1 ON $T $2"; }
case $PRESET in
minimal | standard | full)
  idx timestamp_brin "USING BRIN (timestamp)"
  idx level_timestamp "(level, timestamp)"
  ;;
esac
case $PRESET in
standard | full)
  idx logger_timestamp "(logger_name, timestamp)"
  idx host_timestamp "(hostname, timestamp)"
  ;;
esac
[[ $PRESET != full ]] || idx extra_gin "USING GIN (extra_data jsonb_path_ops)"
sql -c "VACUUM ANALYZE $T"
seeded=$(echo "$(date +%s.%N) - $start" | bc)
log "seeded and indexed in ${seeded%.*} s"

SERVER=$(sql -tA -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', shared_buffers ' ||
  current_setting('shared_buffers') || ', table ' || pg_size_pretty(pg_total_relation_size('$T'))")

# ---------------------------------------------------------------- statements
COLS="id, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), level, logger_name, message, exception, hostname, process_id, thread_id, thread_name, pathname, lineno, function_name, extra_data::text"
page() { echo "SELECT $COLS FROM $T WHERE $1 ORDER BY ${2:-id DESC} LIMIT 101"; }
# order=time: the newest rows of each admitted level from (level, timestamp), merged (the store's
# query on every preset but none).
page_time() {
  local b="" l
  for l in ${2:-TRACE DEBUG INFO WARNING ERROR CRITICAL}; do
    b+="${b:+ UNION ALL }(SELECT * FROM $T WHERE level = '$l' AND $1 ORDER BY timestamp DESC, id DESC LIMIT 101)"
  done
  echo "SELECT $COLS FROM ($b) page ORDER BY timestamp DESC, id DESC LIMIT 101"
}
cursor_id=$(sql -tA -c "SELECT id FROM $T ORDER BY id DESC OFFSET 4999 LIMIT 1")
cursor_ts=$(sql -tA -c "SELECT timestamp FROM $T WHERE id = $cursor_id")
NOW=$(sql -tA -c "SELECT now()")
stats() {
  echo "WITH w AS MATERIALIZED (SELECT level, logger_name, hostname, timestamp FROM $T
 WHERE timestamp >= '$NOW'::timestamptz - interval '$1' AND timestamp < '$NOW'::timestamptz)
SELECT json_build_object('by_level', (SELECT coalesce(json_object_agg(level, n), '{}') FROM
 (SELECT level, count(*) n FROM w GROUP BY level) s),
'by_logger', (SELECT coalesce(json_agg(json_build_array(logger_name, n) ORDER BY n DESC, logger_name), '[]') FROM
 (SELECT logger_name, count(*) n FROM w GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10::int8) s),
'loggers', (SELECT count(DISTINCT logger_name) FROM w),
'by_host', (SELECT coalesce(json_agg(json_build_array(hostname, n) ORDER BY n DESC, hostname), '[]') FROM
 (SELECT coalesce(hostname, '') hostname, count(*) n FROM w GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10::int8) s),
'buckets', (SELECT coalesce(json_agg(json_build_array(b, n, e) ORDER BY b), '[]') FROM
 (SELECT floor(extract(epoch FROM (timestamp - ('$NOW'::timestamptz - interval '$1'))) / $2::int8)::int8 b,
  count(*) n, count(*) FILTER (WHERE level IN ('ERROR', 'CRITICAL')) e FROM w GROUP BY 1) s))::text"
}
# The statement stats() sends: one pass with GROUPING SETS (see postgres_log_store.cpp).
stats_grouped() {
  local from="'$NOW'::timestamptz - interval '$1'"
  echo "WITH g AS (SELECT GROUPING(level, logger_name, hostname, b) k, level, logger_name, hostname, b, count(*) n
 FROM (SELECT level, logger_name, coalesce(hostname, '') hostname,
  floor(extract(epoch FROM (timestamp - ($from))) / $2::int8)::int8 b FROM $T
  WHERE timestamp >= $from AND timestamp < '$NOW'::timestamptz) w
 GROUP BY GROUPING SETS ((level), (logger_name), (hostname), (b, level)))
SELECT json_build_object('by_level', (SELECT coalesce(json_object_agg(level, n), '{}') FROM g WHERE k = 7),
'by_logger', (SELECT coalesce(json_agg(json_build_array(logger_name, n) ORDER BY n DESC, logger_name), '[]') FROM
 (SELECT logger_name, n FROM g WHERE k = 11 ORDER BY n DESC, logger_name LIMIT 10::int8) s),
'loggers', (SELECT count(*) FROM g WHERE k = 11),
'by_host', (SELECT coalesce(json_agg(json_build_array(hostname, n) ORDER BY n DESC, hostname), '[]') FROM
 (SELECT hostname, n FROM g WHERE k = 13 ORDER BY n DESC, hostname LIMIT 10::int8) s),
'buckets', (SELECT coalesce(json_agg(json_build_array(b, n, e) ORDER BY b), '[]') FROM
 (SELECT b, sum(n) n, coalesce(sum(n) FILTER (WHERE level IN ('ERROR', 'CRITICAL')), 0) e
  FROM g WHERE k = 6 GROUP BY b) s))::text"
}
names=() stmts=()
add() { names+=("$1") && stmts+=("$2"); }
add "query: first page (100 rows, id DESC)" "$(page TRUE)"
add "query: first page, order=time" "$(page_time TRUE)"
add "query: --level error (ERROR, CRITICAL)" "$(page "level = ANY('{\"ERROR\",\"CRITICAL\"}'::text[])")"
add "query: --level critical, order=time" "$(page_time "level = ANY('{\"CRITICAL\"}'::text[])" CRITICAL)"
add "query: --logger 'app.*' (prefix)" "$(page "logger_name LIKE 'app.%' ESCAPE '\\'")"
add "query: --search 'timed out' (rare: 0.6% of rows)" "$(page "(message ILIKE '%timed out%' ESCAPE '\\' OR exception ILIKE '%timed out%' ESCAPE '\\')")"
add "query: --search 'no such text' (no match: full scan)" "$(page "(message ILIKE '%no such text%' ESCAPE '\\' OR exception ILIKE '%no such text%' ESCAPE '\\')")"
add "query: --field user_id=4242 (1 in 50000)" "$(page "extra_data @> '{\"user_id\":4242}'::jsonb")"
add "query: --since 1h --level warn" "$(page "timestamp >= now() - interval '1 hour' AND level = ANY('{\"WARNING\",\"ERROR\",\"CRITICAL\"}'::text[])")"
add "query: page 50 (cursor, id DESC)" "$(page "TRUE AND id < $cursor_id::int8")"
add "query: page 50 (cursor, order=time)" "$(page_time "TRUE AND timestamp <= '$cursor_ts'::timestamptz AND (timestamp, id) < ('$cursor_ts'::timestamptz, $cursor_id::int8)")"
add "count: no filter" "SELECT count(*) FROM $T WHERE TRUE"
add "count: --level error" "SELECT count(*) FROM $T WHERE level = ANY('{\"ERROR\",\"CRITICAL\"}'::text[])"
add "count: --since 1h" "SELECT count(*) FROM $T WHERE timestamp >= now() - interval '1 hour'"
add "stats: 1 h, 1 min buckets" "$(stats_grouped '1 hour' 60)"
add "stats: 24 h, 1 h buckets" "$(stats_grouped '24 hours' 3600)"
# The first version (a MATERIALIZED copy of the window, one pass per aggregate), for comparison.
add "stats: 24 h, 1 h buckets (first version: materialized CTE)" "$(stats '24 hours' 3600)"

# Best of RUNS (psql \timing), and the scan nodes of the plan (index names shortened).
printf '\n%s rows, preset %s; %s; best of %s\n\n' "$ROWS" "$PRESET" "$SERVER" "$RUNS"
printf '| statement | best ms | plan (scan nodes) |\n| --- | ---: | --- |\n'
for i in "${!stmts[@]}"; do
  s=${stmts[$i]}
  script="\\timing on"$'\n'
  for ((r = 0; r < RUNS; r++)); do script+="$s;"$'\n'; done
  best=$(printf '%s' "$script" | sql -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n | head -1)
  plan=$(sql -tA -c "EXPLAIN (COSTS OFF) $s" |
    grep -oE 'Bitmap Index Scan on [A-Za-z0-9_]+|(Parallel )?(Seq Scan|Index Scan( Backward)?|Index Only Scan( Backward)?|Bitmap Index Scan|Bitmap Heap Scan|Tid Scan|Top-N|Sort|Incremental Sort)( using [A-Za-z0-9_]+)?' |
    sed "s/${T}_//g" | awk '!seen[$0]++' | paste -sd ',' - | sed 's/,/, /g')
  printf '| %s | %s | %s |\n' "${names[$i]}" "$best" "$plan"
done
