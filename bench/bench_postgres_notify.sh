#!/usr/bin/env bash
# The ingest cost of the sink's NOTIFY (LOG_POSTGRES_NOTIFY): rows/s with NOTIFY off and on, for
# 1 and 4 writer processes logging into one table at the default batch settings (5000 records,
# 200 ms), the median of RUNS runs (each on a fresh table; the settings take turns within a run).
#
#   bench/bench_postgres_notify.sh WRITER_BINARY [ROWS_PER_WRITER=200000] [RUNS=3]
#
# WRITER_BINARY: tests/integration/log_writer_child as built (e.g. build/dev/tests/log_writer_child).
# Time: from starting the writers until the last one has flushed and exited (process start and
# connecting included), rows counted in the table afterwards (they must all be there).
# Server: SPDLOG_EXT_BENCH_PG_URL, else SPDLOG_EXT_TEST_PG_URL (scripts/services.sh: fsync off).
# SPDLOG_EXT_BENCH_DURABLE=1: a throwaway durable server instead (initdb in
# SPDLOG_EXT_BENCH_DURABLE_DIR, default a new directory under /var/tmp; fsync and
# synchronous_commit on; as the "postgres" user when run as root), stopped and removed at the end.
# SPDLOG_EXT_BENCH_LISTEN=1: a session LISTENs on the channel meanwhile (reading nothing).
set -euo pipefail

WRITER=${1:?usage: bench_postgres_notify.sh WRITER_BINARY [ROWS_PER_WRITER] [RUNS]}
ROWS=${2:-200000}
RUNS=${3:-3}
[[ -x $WRITER ]] || { echo "not executable: $WRITER" >&2; exit 2; }

find_pg_bin() {
  local d
  for d in "${SPDLOG_EXT_TEST_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do
    [[ -n $d && -x $d/initdb ]] && { echo "$d"; return; }
  done
  return 1
}

DURABLE_DIR=""
cleanup() {
  if [[ -n $DURABLE_DIR ]]; then
    run_pg "$PG_BIN/pg_ctl" -D "$DURABLE_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DURABLE_DIR"
  fi
}
trap cleanup EXIT

run_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ ${SPDLOG_EXT_BENCH_DURABLE:-0} == 1 ]]; then
  PG_BIN=$(find_pg_bin) || { echo "no initdb found" >&2; exit 2; }
  DURABLE_DIR=$(mktemp -d "${SPDLOG_EXT_BENCH_DURABLE_DIR:-/var/tmp}/bench_pg_durable.XXXXXX")
  [[ $(id -u) -eq 0 ]] && chown postgres: "$DURABLE_DIR"
  PORT=$((20000 + RANDOM % 20000))
  run_pg "$PG_BIN/initdb" -D "$DURABLE_DIR/data" --auth=trust -U postgres --encoding=UTF8 \
    --locale=C >"$DURABLE_DIR/initdb.log" 2>&1
  run_pg "$PG_BIN/pg_ctl" -D "$DURABLE_DIR/data" -l "$DURABLE_DIR/server.log" -w \
    -o "-p $PORT -k $DURABLE_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on" \
    start >/dev/null
  URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
  echo "durable server: $(df -h --output=source,fstype,target "$DURABLE_DIR" | tail -1)" >&2
else
  URL=${SPDLOG_EXT_BENCH_PG_URL:-${SPDLOG_EXT_TEST_PG_URL:?set SPDLOG_EXT_BENCH_PG_URL or SPDLOG_EXT_TEST_PG_URL}}
fi
PSQL=(psql "$URL" -X -q -At -v ON_ERROR_STOP=1)
echo "server: $("${PSQL[@]}" -c "SELECT version()" | cut -d' ' -f1-2), fsync $("${PSQL[@]}" -c 'SHOW fsync'), synchronous_commit $("${PSQL[@]}" -c 'SHOW synchronous_commit')" >&2

# One measurement: prints rows/s.
measure() {
  local notify=$1 writers=$2 run=$3 prefix="bench_notify_$$_${notify}_${writers}_${run}"
  local listener=""
  export LOG_POSTGRES_URL=$URL LOG_POSTGRES_TABLE_PREFIX=$prefix LOG_POSTGRES_NOTIFY=$notify
  export LOG_POSTGRES_OVERFLOW=block LOG_POSTGRES_BLOCK_TIMEOUT=120s LOG_POSTGRES_FLUSH_TIMEOUT=120s
  # The table first, so the writers' first batches do not race to create it.
  "$WRITER" 1 create 0 0 2>/dev/null
  "${PSQL[@]}" -c "TRUNCATE ${prefix}_logs, ${prefix}_logs_batches"
  if [[ ${SPDLOG_EXT_BENCH_LISTEN:-0} == 1 ]]; then
    "${PSQL[@]}" -c "LISTEN \"${prefix}_logs_new\"; SELECT pg_sleep(3600)" >/dev/null 2>&1 &
    listener=$!
  fi
  local start end pids=() w
  start=$(date +%s.%N)
  for ((w = 0; w < writers; w++)); do
    "$WRITER" "$ROWS" "r$run" "$w" 0 2>"/tmp/${prefix}_$w.err" &
    pids+=($!)
  done
  for w in "${pids[@]}"; do wait "$w"; done
  end=$(date +%s.%N)
  [[ -n $listener ]] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null || true
  local stored
  stored=$("${PSQL[@]}" -c "SELECT count(*) FROM ${prefix}_logs")
  "${PSQL[@]}" -c "DROP TABLE ${prefix}_logs, ${prefix}_logs_batches"
  if ((stored != ROWS * writers)); then
    echo "notify=$notify writers=$writers: $stored rows stored of $((ROWS * writers)) (see /tmp/${prefix}_*.err)" >&2
    exit 1
  fi
  rm -f /tmp/"${prefix}"_*.err
  awk -v n="$stored" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f\n", n / (e - s) }'
}

declare -A results
for ((run = 0; run < RUNS; run++)); do
  for writers in 1 4; do
    for notify in false true; do
      r=$(measure $notify $writers $run)
      results[$notify,$writers]+="$r "
      echo "run $run: writers=$writers notify=$notify: $r rows/s" >&2
    done
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
printf '%-8s %-14s %-14s %s\n' writers "notify off" "notify on" "cost"
for writers in 1 4; do
  off=$(echo "${results[false,$writers]}" | median)
  on=$(echo "${results[true,$writers]}" | median)
  printf '%-8s %-14s %-14s %s\n' "$writers" "$off rows/s" "$on rows/s" \
    "$(awk -v a="$off" -v b="$on" 'BEGIN { printf "%+.1f%%", (b - a) * 100 / a }')"
done
