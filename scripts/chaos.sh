#!/usr/bin/env bash
# Chaos suite: one logger with all four network sinks (PostgreSQL, InfluxDB, Datadog, Slack)
# under a logging workload while faults are injected (PostgreSQL killed and restarted, InfluxDB
# stopped, HTTP 500/503/429, slow answers and connection resets from the fake intakes, a 10x
# overload), then a per-sink table: logged, delivered, fallback by reason, dropped, duplicates,
# peak RSS. Fails if a record is unaccounted for, memory exceeds the bound or shutdown is late.
#
# Usage: scripts/chaos.sh [--seconds N] [--sanitize address|thread] [--build-dir DIR]
#                         [-- DRIVER_ARGS...]
#
#   --seconds N      Length of the workload (default 30; the long run: --seconds 600, which
#                    repeats the fault cycle every 60 s).
#   --sanitize S     address: ASan+UBSan with LeakSanitizer on (build/chaos-asan);
#                    thread: TSan with clang when available (build/chaos-tsan).
#                    Default: a plain RelWithDebInfo build (build/chaos).
#   --build-dir DIR  Build directory (relative paths are relative to the current directory).
#   -- ARGS          Extra arguments for the driver (--rate R, --producers P, --rss-factor F).
#
# Environment: SPDLOG_EXT_BUILD_JOBS (parallel build jobs, default 2).
# The exit status is the driver's (or that of the first step that failed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT

log() { printf 'chaos.sh: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
bad_usage() {
  log "$*"
  usage >&2
  exit 2
}

seconds=30 sanitize="" build_dir=""
driver_extra=()
while (($# > 0)); do
  case $1 in
  --seconds | --sanitize | --build-dir)
    (($# >= 2)) || bad_usage "$1 needs a value"
    case $1 in
    --seconds) seconds=$2 ;;
    --sanitize) sanitize=$2 ;;
    --build-dir) build_dir=$2 ;;
    esac
    shift 2
    ;;
  --seconds=*) seconds=${1#*=} && shift ;;
  --sanitize=*) sanitize=${1#*=} && shift ;;
  --build-dir=*) build_dir=${1#*=} && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  --)
    shift
    driver_extra=("$@")
    break
    ;;
  *) bad_usage "unknown argument: $1" ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || bad_usage "--seconds: expected a positive integer, got '$seconds'"

# Sanitizer build settings. Memory use under a sanitizer is several times the plain one
# (shadow memory, ASan's quarantine, TSan's shadow and history): the driver's RSS bound is
# scaled by --rss-factor.
san_flags="" rss_factor=1 san_env=()
case $sanitize in
"") default_dir=$ROOT/build/chaos ;;
address | address,undefined)
  san_flags=address,undefined default_dir=$ROOT/build/chaos-asan rss_factor=3
  # quarantine_size_mb: ASan keeps freed memory for 256 MB by default, which says nothing about
  # the library; 64 MB still catches use-after-free of recent frees.
  san_env+=("ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:quarantine_size_mb=64${ASAN_OPTIONS:+:$ASAN_OPTIONS}")
  san_env+=("UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}")
  ;;
thread)
  san_flags=thread default_dir=$ROOT/build/chaos-tsan rss_factor=6
  san_env+=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}")
  if [[ -z ${CXX:-} ]] && command -v clang++ >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
    export CC=clang CXX=clang++
  fi
  ;;
*) bad_usage "--sanitize: expected address or thread, got '$sanitize'" ;;
esac
if [[ -z $build_dir ]]; then
  build_dir=$default_dir
elif [[ $build_dir != /* ]]; then
  build_dir=$PWD/$build_dir
fi

"$ROOT/scripts/install-deps.sh" test

# Our own servers, stopped again on exit (never a directory the caller's environment names).
unset SPDLOG_EXT_SERVICES_DIR
services_dir=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n $services_dir ]]; then
    if ((rc != 0)); then
      "$ROOT/scripts/services.sh" logs 20 "$services_dir" || true
    fi
    "$ROOT/scripts/services.sh" stop "$services_dir" || rmdir "$services_dir" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Built first: a build takes minutes, the servers need not run meanwhile. Only the driver's
# target (and the library) is built, not the test suite.
# The options of scripts/test.sh, so that --build-dir build/asan (or build/tsan, build/test)
# reuses the library that test.sh built and compiles only the driver.
configure=(cmake -S "$ROOT" -B "$build_dir" -G Ninja
  -DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON -DSPDLOG_EXT_BUILD_TESTS=ON -DSPDLOG_EXT_REQUIRE_TESTS=ON "-DSPDLOG_EXT_SANITIZE=$san_flags")
[[ -z $san_flags ]] || configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
log "configure: ${configure[*]}"
"${configure[@]}" >/dev/null
cmake --build "$build_dir" -j "${SPDLOG_EXT_BUILD_JOBS:-2}" --target chaos_driver

services_dir=$(mktemp -d /tmp/spdlog_ext_services.XXXXXX)
"$ROOT/scripts/services.sh" start "$services_dir" >/dev/null
# shellcheck source=/dev/null
. "$services_dir/env"

((${#san_env[@]} == 0)) || export "${san_env[@]}"
driver=("$build_dir/tests/chaos_driver" --seconds "$seconds" --rss-factor "$rss_factor"
  ${driver_extra[@]+"${driver_extra[@]}"})
log "run: ${driver[*]}"
"${driver[@]}"
