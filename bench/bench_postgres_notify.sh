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
# SPDLOG_EXT_BENCH_DURABLE=1: a throwaway durable server instead (bench/durable_postgres.sh:
# fsync, full_page_writes and synchronous_commit on), stopped and removed at the end.
# SPDLOG_EXT_BENCH_LISTEN=1: a session LISTENs on the channel meanwhile (reading nothing).
set -euo pipefail

WRITER=${1:?usage: bench_postgres_notify.sh WRITER_BINARY [ROWS_PER_WRITER] [RUNS]}
ROWS=${2:-200000}
RUNS=${3:-3}
[[ -x $WRITER ]] || { echo "not executable: $WRITER" >&2; exit 2; }

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bench/durable_postgres.sh
. "$SCRIPT_DIR/durable_postgres.sh"
trap durable_pg_stop EXIT

if [[ ${SPDLOG_EXT_BENCH_DURABLE:-0} == 1 ]]; then
  durable_pg_start
  URL=$DURABLE_PG_URL
else
  URL=${SPDLOG_EXT_BENCH_PG_URL:-${SPDLOG_EXT_TEST_PG_URL:?set SPDLOG_EXT_BENCH_PG_URL or SPDLOG_EXT_TEST_PG_URL}}
fi
PSQL=(psql "$URL" -X -q -At -v ON_ERROR_STOP=1)
echo "server: $("${PSQL[@]}" -c "SELECT version()" | cut -d' ' -f1-2), fsync $("${PSQL[@]}" -c 'SHOW fsync'), full_page_writes $("${PSQL[@]}" -c 'SHOW full_page_writes'), synchronous_commit $("${PSQL[@]}" -c 'SHOW synchronous_commit')" >&2

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
