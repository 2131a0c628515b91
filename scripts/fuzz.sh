#!/usr/bin/env bash
# Build the libFuzzer targets (clang, -fsanitize=fuzzer-no-link,address,undefined, in
# build/fuzz) and run each for a bounded time, starting from the seed corpus in fuzz/corpus/.
#
# Usage: scripts/fuzz.sh [--seconds N] [--target NAME] [--jobs N] [--build-dir DIR]
#                        [--no-build] [-- LIBFUZZER_ARGS...]
#
#   --seconds N      Run each target for N seconds (-max_total_time; default 60).
#   --target NAME    Run only this target (fuzz_copy_text, fuzz_datadog_json,
#                    fuzz_slack_blocks, fuzz_line_protocol, fuzz_jsonl_formatter,
#                    fuzz_backend_list, fuzz_redactor); may be repeated.
#   --jobs N         Parallel fuzzing processes per target (libFuzzer -fork=N) and
#                    build jobs (default 1 process, SPDLOG_EXT_BUILD_JOBS or 2 jobs).
#   --build-dir DIR  Build directory (default build/fuzz).
#   --no-build       Use the targets already built.
#   -- ARGS          Extra arguments for every fuzzer.
#
# The seeds are copied into a work corpus under the build directory (the repository is never
# written to); a crash is kept in DIR/crashes/<target>/ and its path printed. Reproduce one with
#   build/fuzz/fuzz/<target> build/fuzz/crashes/<target>/crash-...
# Exit status: 0 when no target found anything, 1 otherwise (2: bad usage).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT

log() { printf 'fuzz.sh: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
bad_usage() {
  log "$*"
  usage >&2
  exit 2
}

all_targets=(fuzz_backend_list fuzz_copy_text fuzz_datadog_json fuzz_slack_blocks
  fuzz_line_protocol fuzz_jsonl_formatter fuzz_redactor fuzz_store_cursor fuzz_level_spec)
seconds=60 jobs=0 build_dir="" build=1
targets=() extra=()
while (($# > 0)); do
  case $1 in
  --seconds | --target | --jobs | --build-dir)
    (($# >= 2)) || bad_usage "$1 needs a value"
    case $1 in
    --seconds) seconds=$2 ;;
    --target) targets+=("$2") ;;
    --jobs) jobs=$2 ;;
    --build-dir) build_dir=$2 ;;
    esac
    shift 2
    ;;
  --seconds=*) seconds=${1#*=} && shift ;;
  --target=*) targets+=("${1#*=}") && shift ;;
  --jobs=*) jobs=${1#*=} && shift ;;
  --build-dir=*) build_dir=${1#*=} && shift ;;
  --no-build) build=0 && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  --)
    shift
    extra=("$@")
    break
    ;;
  *) bad_usage "unknown argument: $1" ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || bad_usage "--seconds: expected a positive integer, got '$seconds'"
[[ $jobs =~ ^[0-9]+$ ]] || bad_usage "--jobs: expected a number, got '$jobs'"
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || bad_usage "unknown target '$t' (known: ${all_targets[*]})"
done
if [[ -z $build_dir ]]; then
  build_dir=$ROOT/build/fuzz
elif [[ $build_dir != /* ]]; then
  build_dir=$PWD/$build_dir
fi

# Inputs past these sizes only slow the search: every generator caps its strings, and the
# size limits of the encoders are reached by repetition inside the fuzzers.
max_len_of() {
  case $1 in
  fuzz_backend_list) echo 512 ;;
  fuzz_redactor) echo 2048 ;;
  *) echo 4096 ;;
  esac
}

# Per-input time limits (-timeout, seconds). fuzz_redactor redacts a 512 KiB repetition now and
# then: the linear rules take at most ~0.4 s under ASan+UBSan on a loaded machine; a quadratic
# one takes far longer (issue 15: 16-54 s for 1 MiB of "a://", a quarter of that at 512 KiB
# without sanitizers), which this catches.
timeout_of() {
  case $1 in
  fuzz_redactor) echo 5 ;;
  *) echo 25 ;;
  esac
}

if ((build)); then
  "$ROOT/scripts/install-deps.sh" test
  # -O1: the fuzzers need coverage more than speed, and the CI builds this on 2 cores.
  cmake -S "$ROOT" -B "$build_dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
    -DSPDLOG_EXT_BUILD_FUZZERS=ON -DSPDLOG_EXT_BUILD_TESTS=OFF -DSPDLOG_EXT_BUILD_EXAMPLES=OFF \
    -DSPDLOG_EXT_BUILD_BENCH=OFF -DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON \
    "-DSPDLOG_EXT_SANITIZE=fuzzer-no-link,address,undefined" >/dev/null
  build_jobs=${SPDLOG_EXT_BUILD_JOBS:-2}
  ((jobs == 0)) || build_jobs=$jobs
  cmake --build "$build_dir" -j "$build_jobs" --target "${targets[@]}"
fi

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=()
for t in "${targets[@]}"; do
  bin=$build_dir/fuzz/$t
  [[ -x $bin ]] || {
    log "$t: not built ($bin)"
    failed+=("$t")
    continue
  }
  corpus=$build_dir/corpus/$t crashes=$build_dir/crashes/$t
  # Findings of an earlier run stay readable, apart from this run's.
  if compgen -G "$crashes/*" >/dev/null; then
    mkdir -p "$crashes.previous" && mv "$crashes"/* "$crashes.previous"/
  fi
  mkdir -p "$corpus" "$crashes"
  [[ ! -d $ROOT/fuzz/corpus/$t ]] || cp -n "$ROOT/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  args=(-max_total_time="$seconds" -max_len="$(max_len_of "$t")" -print_final_stats=1
    -timeout="$(timeout_of "$t")" -rss_limit_mb=3072 -artifact_prefix="$crashes/")
  [[ ! -f $ROOT/fuzz/dict/$t.dict ]] || args+=(-dict="$ROOT/fuzz/dict/$t.dict")
  ((jobs <= 1)) || args+=(-fork="$jobs" -ignore_crashes=0)
  log "$t: ${seconds}s"
  rc=0
  "$bin" "${args[@]}" ${extra[@]+"${extra[@]}"} "$corpus" >"$build_dir/$t.log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$build_dir/$t.log" >&2 || true
  if ((rc != 0)) || compgen -G "$crashes/*" >/dev/null; then
    tail -n 60 "$build_dir/$t.log" >&2
    for f in "$crashes"/*; do
      [[ -e $f ]] && log "$t: crash input kept: $f"
    done
    log "$t: FAILED (exit $rc); full log: $build_dir/$t.log"
    failed+=("$t")
  fi
done

if ((${#failed[@]} > 0)); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all ${#targets[@]} target(s) ran ${seconds}s without a finding"
