#!/usr/bin/env bash
# Headless-browser check of examples/log_viewer: the page, loaded in Chromium, shows live rows.
#
# Usage: scripts/browser-check.sh [--build-dir DIR] [--long] [--seconds N]
#
#   --build-dir DIR  Where log_viewer was built (default build/test; it is in
#                    DIR/examples/log_viewer/log_viewer).
#   --long           By hand: run --seconds (default 60) with a PostgreSQL crash
#                    (pg-stop-immediate, pg-start) in the middle, then check that the
#                    page shows exactly the table's rows of that period (none lost or
#                    shown twice across the event stream's reconnects).
#   --seconds N      Length of the --long run (default 60).
#
# The short check (CI): start `log_viewer --selftest --demo-every-ms 200` (it logs a demo
# record every 200 ms through postgres_batch_sink), load http://127.0.0.1:PORT/?selftest=RUN
# in chromium-headless-shell (or chromium), and wait until the page reports (POST
# /api/selftest) that it rendered 3 live rows from the event stream; fail after 40 s, with
# Chromium's and the viewer's output.
# PostgreSQL: the services of scripts/services.sh (SPDLOG_EXT_TEST_PG_URL); when that variable
# is unset the script starts its own and stops them on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT
log() { printf 'browser-check.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

build_dir=$ROOT/build/test long=0 seconds=60
while (($# > 0)); do
  case $1 in
  --build-dir)
    (($# >= 2)) || die "--build-dir needs a value"
    build_dir=$2 && shift 2
    ;;
  --build-dir=*) build_dir=${1#*=} && shift ;;
  --long) long=1 && shift ;;
  --seconds)
    (($# >= 2)) || die "--seconds needs a value"
    seconds=$2 && shift 2
    ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 20)); then
  die "--seconds: a whole number, at least 20"
fi
[[ $build_dir == /* ]] || build_dir=$PWD/$build_dir
viewer=$build_dir/examples/log_viewer/log_viewer
[[ -x $viewer ]] || die "$viewer not found: build the examples (SPDLOG_EXT_BUILD_EXAMPLES=ON, target log_viewer)"

# The real binary: /usr/bin/chromium-headless-shell is a shell wrapper that does not exec.
chromium=""
for candidate in /usr/lib/chromium/chromium-headless-shell \
  "$(dpkg -L chromium-headless-shell 2>/dev/null | grep -m1 '/chromium-headless-shell$' || true)" \
  "$(command -v chromium-headless-shell || true)" "$(command -v chromium || true)"; do
  if [[ -n $candidate && -x $candidate ]]; then
    chromium=$candidate
    break
  fi
done
[[ -n $chromium ]] || die "no Chromium: install chromium-headless-shell (scripts/install-deps.sh)"
command -v curl >/dev/null || die "curl is needed"

work=$(mktemp -d /tmp/spdlog_ext_browser.XXXXXX)
services_dir="" viewer_pid="" chromium_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  [[ -z $chromium_pid ]] || kill -- "-$chromium_pid" 2>/dev/null || true
  if [[ -n $viewer_pid ]]; then
    kill "$viewer_pid" 2>/dev/null || true
    wait "$viewer_pid" 2>/dev/null || true
  fi
  if ((rc != 0)); then
    log "---- log_viewer output ----"
    sed 's/^/  | /' "$work/viewer.out" "$work/viewer.err" >&2 2>/dev/null || true
    log "---- chromium output (last 30 lines) ----"
    tail -n 30 "$work/chromium.err" 2>/dev/null | sed 's/^/  | /' >&2 || true
  fi
  [[ -z ${table:-} ]] || sql "DROP TABLE IF EXISTS $table, \"${prefix}_logs_batches\"" >/dev/null 2>&1 || true
  [[ -z $services_dir ]] || "$ROOT/scripts/services.sh" stop "$services_dir" || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [[ -z ${SPDLOG_EXT_TEST_PG_URL:-} ]]; then
  log "no SPDLOG_EXT_TEST_PG_URL: starting the services"
  unset SPDLOG_EXT_SERVICES_DIR
  services_dir=$(mktemp -d /tmp/spdlog_ext_services.XXXXXX)
  "$ROOT/scripts/services.sh" start "$services_dir" >/dev/null
  # shellcheck source=/dev/null
  . "$services_dir/env"
fi

sql() { psql "$SPDLOG_EXT_TEST_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
run=browser_$$_$RANDOM
prefix=$run
table="\"${prefix}_logs\""

LOG_POSTGRES_URL=$SPDLOG_EXT_TEST_PG_URL LOG_POSTGRES_TABLE_PREFIX=$prefix DATABASE_URL="" \
  "$viewer" --listen 127.0.0.1:0 --selftest --demo-every-ms 200 \
  >"$work/viewer.out" 2>"$work/viewer.err" &
viewer_pid=$!
port=""
for _ in $(seq 200); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/viewer.out")
  [[ -z $port ]] || break
  kill -0 "$viewer_pid" 2>/dev/null || die "log_viewer exited"
  sleep 0.1
done
[[ -n $port ]] || die "log_viewer did not start"
base=http://127.0.0.1:$port
log "log_viewer on $base (table ${prefix}_logs)"

# setsid: Chromium's processes form their own group, ended together by the trap.
setsid "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
  --user-data-dir="$work/profile" "$base/?selftest=$run" >"$work/chromium.out" 2>"$work/chromium.err" &
chromium_pid=$!

selftest() { curl -fsS --max-time 5 "$base/api/selftest" 2>/dev/null || echo '{}'; }
live_rows() { selftest | sed -n 's/.*"live_rows":\([0-9]*\).*/\1/p'; }

if ((!long)); then
  for _ in $(seq 400); do
    n=$(live_rows)
    if [[ -n $n ]] && ((n >= 3)); then
      log "ok: the page rendered $n live rows"
      exit 0
    fi
    kill -0 "$chromium_pid" 2>/dev/null || die "chromium exited"
    sleep 0.1
  done
  die "the page reported $(selftest) after 40 s (wanted live_rows >= 3)"
fi

# --long: a crash in the middle; the page must end with exactly the table's rows of the period.
[[ -n ${SPDLOG_EXT_SERVICES_SCRIPT:-} ]] || die "--long needs the services env (SPDLOG_EXT_SERVICES_SCRIPT)"
sleep $((seconds / 2))
log "PostgreSQL: stop -m immediate"
"$SPDLOG_EXT_SERVICES_SCRIPT" pg-stop-immediate >&2
sleep 3
"$SPDLOG_EXT_SERVICES_SCRIPT" pg-start >&2
sleep $((seconds / 2))
state=$(selftest)
ids=$(printf '%s' "$state" | sed -n 's/.*"ids":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n' | sort -n)
events=$(printf '%s' "$state" | sed -n 's/.*"live_events":\([0-9]*\).*/\1/p')
[[ -n $ids ]] || die "the page reported no live rows: $state"
first=$(head -n1 <<<"$ids")
last=$(tail -n1 <<<"$ids")
expected=$(sql "SELECT id FROM $table WHERE id BETWEEN $first AND $last ORDER BY id")
shown=$(wc -l <<<"$ids")
if [[ $ids != "$expected" ]]; then
  diff <(printf '%s\n' "$expected") <(printf '%s\n' "$ids") | head -n 20 >&2 || true
  die "the page's live rows differ from the table's rows $first..$last"
fi
((events == shown)) || die "the page received $events live events for $shown rows (duplicates)"
log "ok: $shown live rows over ${seconds} s with a server crash, exactly the table's rows $first..$last"
