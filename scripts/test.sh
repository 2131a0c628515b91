#!/usr/bin/env bash
# Run the whole test suite: unit tests and integration tests against throwaway
# PostgreSQL and InfluxDB servers (scripts/services.sh), stopped again on exit.
#
# Usage: scripts/test.sh [--sanitize address,undefined|thread] [--label REGEX]
#                        [--build-dir DIR] [--dry-run] [-- CTEST_ARGS...]
#
#   --sanitize LIST  Build with -fsanitize=LIST (RelWithDebInfo) in build/asan
#                    (address,undefined), build/tsan (thread, with clang when
#                    available) or build/san-LIST.
#   --label REGEX    Run only the tests whose ctest label matches REGEX: the
#                    doctest suite names (engine, format, registry, ...) and
#                    "integration".
#   --build-dir DIR  Build directory (default build/test; relative paths are
#                    relative to the current directory).
#   --dry-run        Print what would run, run nothing.
#   -- ARGS          Extra arguments for ctest.
#
# Environment: SPDLOG_EXT_BUILD_JOBS (parallel build jobs, default 2).
# The exit status is ctest's (or that of the first step that failed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT

log() { printf 'test.sh: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
bad_usage() {
  log "$*"
  usage >&2
  exit 2
}

sanitize="" label="" build_dir="" dry_run=0
ctest_extra=()
while (($# > 0)); do
  case $1 in
  --sanitize | --label | --build-dir)
    (($# >= 2)) || bad_usage "$1 needs a value"
    case $1 in
    --sanitize) sanitize=$2 ;;
    --label) label=$2 ;;
    --build-dir) build_dir=$2 ;;
    esac
    shift 2
    ;;
  --sanitize=*) sanitize=${1#*=} && shift ;;
  --label=*) label=${1#*=} && shift ;;
  --build-dir=*) build_dir=${1#*=} && shift ;;
  --dry-run) dry_run=1 && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  --)
    shift
    ctest_extra=("$@")
    break
    ;;
  *) bad_usage "unknown argument: $1" ;;
  esac
done

if [[ -n $sanitize ]]; then
  [[ $sanitize =~ ^[a-z]+(,[a-z]+)*$ ]] || bad_usage "--sanitize: expected a comma-separated list such as address,undefined or thread, got '$sanitize'"
  if [[ ,$sanitize, == *,thread,* && ,$sanitize, == *,address,* ]]; then
    bad_usage "--sanitize: thread and address cannot be combined"
  fi
fi
if [[ -z $build_dir ]]; then
  case $sanitize in
  "") build_dir=$ROOT/build/test ;;
  address,undefined | undefined,address) build_dir=$ROOT/build/asan ;;
  thread) build_dir=$ROOT/build/tsan ;;
  *) build_dir=$ROOT/build/san-${sanitize//,/-} ;;
  esac
elif [[ $build_dir != /* ]]; then
  build_dir=$PWD/$build_dir
fi

# Compiler: the default one (gcc on Debian), but clang for ThreadSanitizer
# unless the caller chose one with CC/CXX.
if [[ ,$sanitize, == *,thread,* && -z ${CXX:-} ]] && command -v clang++ >/dev/null 2>&1 &&
  command -v clang >/dev/null 2>&1; then
  export CC=clang CXX=clang++
fi

configure=(cmake -S "$ROOT" -B "$build_dir" -G Ninja
  -DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON -DSPDLOG_EXT_BUILD_TESTS=ON -DSPDLOG_EXT_REQUIRE_TESTS=ON -DSPDLOG_EXT_BUILD_EXAMPLES=ON
  "-DSPDLOG_EXT_SANITIZE=$sanitize")
if [[ -z $sanitize ]]; then
  configure+=(-DSPDLOG_EXT_BUILD_BENCH=ON)
else
  # Sanitizer builds are for the tests: no benchmarks, line tables only (-g1: enough for the
  # reports' stack traces), and ASan at -O0 (gcc compiles it 4x faster than -O2 -g, and the
  # suite is I/O-bound); TSan keeps -O1, its run time grows too much without it. The examples
  # stay for ASan (the viewer tests run examples/log_viewer); TSan's labels do not need them.
  opt=-O1
  [[ ,$sanitize, != *,address,* ]] || opt=-O0
  [[ ,$sanitize, != *,thread,* ]] || configure+=(-DSPDLOG_EXT_BUILD_EXAMPLES=OFF)
  configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPDLOG_EXT_BUILD_BENCH=OFF
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$opt -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$opt -g1 -DNDEBUG")
fi
build=(cmake --build "$build_dir" -j "${SPDLOG_EXT_BUILD_JOBS:-2}")
ctest=(ctest --test-dir "$build_dir" --output-on-failure --no-tests=error)
[[ -z $label ]] || ctest+=(-L "$label")
# The packaging checks rebuild the library and its consumers from scratch (20 min under ASan on
# 2 cores); they test the installed files, not memory or threads: the plain run has them.
[[ -z $sanitize ]] || ctest+=(-LE packaging)
ctest+=(${ctest_extra[@]+"${ctest_extra[@]}"})

# Sanitizer run-time options; values the caller already set win (later entries override).
san_env=()
if [[ ,$sanitize, == *,address,* ]]; then
  san_env+=("ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}")
  # Third-party leaks only, each explained in the file (libpqxx 6.4 on a broken connection).
  san_env+=("LSAN_OPTIONS=suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}")
fi
if [[ ,$sanitize, == *,undefined,* ]]; then
  san_env+=("UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}")
fi
if [[ ,$sanitize, == *,thread,* ]]; then
  san_env+=("TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}")
fi

if ((dry_run)); then
  printf 'would run:\n'
  printf '  %q test\n' "$ROOT/scripts/install-deps.sh"
  printf '  %q start   (stopped again on exit)\n' "$ROOT/scripts/services.sh"
  printf '  export SPDLOG_EXT_REQUIRE_SERVICES=1 and the variables of the services env file\n'
  [[ -z ${CC:-} ]] || printf '  export CC=%q CXX=%q\n' "$CC" "$CXX"
  printf '  %s\n' "$(printf '%q ' "${configure[@]}")"
  printf '  %s\n' "$(printf '%q ' "${build[@]}")"
  ((${#san_env[@]} == 0)) || printf '  export %s\n' "${san_env[@]}"
  printf '  %s\n' "$(printf '%q ' "${ctest[@]}")"
  [[ -n $label || -n $sanitize ]] || printf '  %q --build-dir %q\n' "$ROOT/scripts/browser-check.sh" "$build_dir"
  exit 0
fi

"$ROOT/scripts/install-deps.sh" test

# Our own servers: never reuse (or, on exit, remove) a directory that the
# caller's environment points to.
unset SPDLOG_EXT_SERVICES_DIR
services_dir=""
tests_failed=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n $services_dir ]]; then
    if ((tests_failed)); then
      "$ROOT/scripts/services.sh" status "$services_dir" >&2 || true
      "$ROOT/scripts/services.sh" logs 30 "$services_dir" || true
    fi
    "$ROOT/scripts/services.sh" stop "$services_dir" || rmdir "$services_dir" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Create the directory here so that the EXIT trap can clean it up even when
# services.sh start fails half-way.
services_dir=$(mktemp -d /tmp/spdlog_ext_services.XXXXXX)
"$ROOT/scripts/services.sh" start "$services_dir" >/dev/null
# shellcheck source=/dev/null
. "$services_dir/env"
export SPDLOG_EXT_REQUIRE_SERVICES=1

log "configure: ${configure[*]}"
"${configure[@]}"
"${build[@]}"

((${#san_env[@]} == 0)) || export "${san_env[@]}"
log "ctest: ${ctest[*]}"
rc=0
"${ctest[@]}" || rc=$?
# --- browser check (issue 17): the log viewer's page in headless Chromium, short version; only
# on full runs without sanitizers (scripts/browser-check.sh; --long by hand).
if ((rc == 0)) && [[ -z $label && -z $sanitize ]]; then
  "$ROOT/scripts/browser-check.sh" --build-dir "$build_dir" || rc=$?
fi
# --- end of browser check
((rc == 0)) || tests_failed=1
exit "$rc"
