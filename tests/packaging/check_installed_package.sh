#!/usr/bin/env bash
# The installed package as its users see it. Registered as the ctest test
# "packaging.installed_package" (label "packaging"); runs on its own too.
#
# Usage: check_installed_package.sh --source-dir DIR --build-dir DIR --work-dir DIR
#                                   [--cxx COMPILER] [--sanitize LIST]
#                                   [--prefix-path LIST] [--spdlog-header-only ON|OFF]
#
#  1. `cmake --install` of the built tree (every component) into WORK/full, then against it:
#     the consumer project (find_package + every header alone + the registry), all examples
#     built from examples/ on their own and the quickstart run, and a pkg-config build.
#  2. A second build of the library from the sources without its optional components, as a
#     shared library, installed into WORK/core: the consumer, the examples that need no
#     component, and find_package(... COMPONENTS postgres) failing with its message.
# COMPILER and LIST (-fsanitize=LIST) must be those of the build tree. --prefix-path is the
# build tree's CMAKE_PREFIX_PATH (prefixes of its dependencies separated by ':' or ';', e.g. a spdlog
# built from source by scripts/compat-matrix.sh): they are searched by every configure below,
# and their lib/pkgconfig directories by pkg-config. --spdlog-header-only is the build tree's
# SPDLOG_EXT_SPDLOG_HEADER_ONLY, used again for the second build.
set -euo pipefail

source_dir="" build_dir="" work_dir="" cxx=${CXX:-c++} sanitize="" prefix_path="" header_only=OFF
while (($# > 0)); do
  case $1 in
  --source-dir) source_dir=$2 ;;
  --build-dir) build_dir=$2 ;;
  --work-dir) work_dir=$2 ;;
  --cxx) cxx=$2 ;;
  --sanitize) sanitize=$2 ;;
  --prefix-path) prefix_path=$2 ;;
  --spdlog-header-only) header_only=$2 ;;
  *)
    echo "check_installed_package.sh: unknown argument: $1" >&2
    exit 2
    ;;
  esac
  shift 2
done
prefix_path=${prefix_path//:/;}
[[ -n $source_dir && -n $build_dir && -n $work_dir ]] || {
  echo "check_installed_package.sh: --source-dir, --build-dir and --work-dir are required" >&2
  exit 2
}

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'check_installed_package.sh: FAILED: %s\n' "$*" >&2
  exit 1
}

# The environment of the test run must not steer what the programs below do.
unset LOG_BACKENDS SPDLOG_LEVEL PKG_CONFIG_PATH CMAKE_PREFIX_PATH
jobs=${SPDLOG_EXT_BUILD_JOBS:-2}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
flags=()
if [[ -n $sanitize ]]; then
  san="-fsanitize=$sanitize -fno-omit-frame-pointer"
  flags=("-DCMAKE_CXX_FLAGS=$san" "-DCMAKE_EXE_LINKER_FLAGS=$san" "-DCMAKE_SHARED_LINKER_FLAGS=$san")
fi
configure() { # configure SOURCE BUILD [cmake args...]
  local src=$1 bld=$2
  shift 2
  rm -rf "$bld"
  cmake -S "$src" -B "$bld" "${generator[@]}" "-DCMAKE_CXX_COMPILER=$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${flags[@]}" "$@"
}
build() { cmake --build "$1" -j "$jobs"; }
# The dependencies' pkg-config directories (after PREFIX/lib/pkgconfig, given as $1).
pc_path() {
  local out=$1 p deps
  IFS=';' read -r -a deps <<<"$prefix_path"
  for p in ${deps[@]+"${deps[@]}"}; do out+=":$p/lib/pkgconfig:$p/lib64/pkgconfig:$p/share/pkgconfig"; done
  printf '%s' "$out"
}

# Consumer, examples and quickstart against PREFIX, which has (postgres, http) = ($2, $3).
check_prefix() {
  local prefix=$1 postgres=$2 http=$3 name=$4 components=()
  ((postgres)) && components+=(postgres)
  ((http)) && components+=(http)
  step "$name: headers under $prefix/include contain no libpq, libpqxx or curl include"
  if grep -rnE '#[[:space:]]*include[[:space:]]*[<"](curl/|libpq|pqxx|zlib)' "$prefix/include/spdlog_ext"; then
    fail "a public header includes a private dependency"
  fi

  local entry wanted header tool
  for entry in postgres_batch_sink:$postgres datadog_http_sink:$http slack_error_sink:$http influx_timeseries_sink:$http; do
    wanted=${entry#*:} header=$prefix/include/spdlog_ext/sinks/${entry%:*}.h
    if ((wanted)) && [[ ! -f $header ]]; then fail "not installed: $header"; fi
    if ((!wanted)) && [[ -e $header ]]; then fail "installed without its component: $header"; fi
  done
  header=$prefix/include/spdlog_ext/postgres_log_store.h tool=$prefix/bin/spdlog-ext-logs
  if ((postgres)); then
    [[ -f $header ]] || fail "not installed: $header"
    # The command line comes with PostgreSQL support (CLI11 is a build requirement here).
    [[ -x $tool ]] || fail "not installed: $tool"
    "$tool" --help >/dev/null || fail "$tool --help failed"
  else
    [[ ! -e $header ]] || fail "installed without its component: $header"
    [[ ! -e $tool ]] || fail "installed without PostgreSQL support: $tool"
  fi
  step "$name: consumer (find_package COMPONENTS ${components[*]:-none}, every header alone, the registry)"
  configure "$source_dir/tests/packaging/consumer" "$work_dir/$name-consumer" \
    "-DCMAKE_PREFIX_PATH=$prefix${prefix_path:+;$prefix_path}" \
    "-DSPDLOG_EXT_COMPONENTS=$(IFS=';' && echo "${components[*]}")"
  build "$work_dir/$name-consumer"
  "$work_dir/$name-consumer/consumer" "$postgres" "$http"

  step "$name: examples/ built on their own against the package"
  configure "$source_dir/examples" "$work_dir/$name-examples" "-DCMAKE_PREFIX_PATH=$prefix${prefix_path:+;$prefix_path}"
  build "$work_dir/$name-examples"
  local example expected=(quickstart custom_backend)
  ((postgres)) && expected+=(postgres_example)
  ((http)) && expected+=(datadog_example slack_example influx_example)
  for example in quickstart custom_backend postgres_example datadog_example slack_example influx_example; do
    if [[ " ${expected[*]} " == *" $example "* ]]; then
      [[ -x $work_dir/$name-examples/$example ]] || fail "$example was not built"
    else
      [[ ! -e $work_dir/$name-examples/$example ]] || fail "$example was built without its component"
    fi
  done
  (cd "$work_dir" && LOG_BACKENDS=console "$work_dir/$name-examples/quickstart") >"$work_dir/$name-quickstart.out" 2>&1 ||
    { cat "$work_dir/$name-quickstart.out"; fail "quickstart exited with $?"; }
  grep -q "quickstart started" "$work_dir/$name-quickstart.out" || fail "quickstart printed nothing"
  echo "quickstart ran: $(wc -l <"$work_dir/$name-quickstart.out") lines"
}

mkdir -p "$work_dir"

step "install the build tree $build_dir"
rm -rf "$work_dir/full"
cmake --install "$build_dir" --prefix "$work_dir/full"
cfg=$work_dir/full/lib/cmake/spdlog_ext
for f in "$cfg/spdlog_extConfig.cmake" "$cfg/spdlog_extConfigVersion.cmake" "$cfg/spdlog_extTargets.cmake" \
  "$work_dir/full/lib/pkgconfig/spdlog_ext.pc" "$work_dir/full/include/spdlog_ext/features.h"; do
  [[ -f $f ]] || fail "not installed: $f"
done
check_prefix "$work_dir/full" 1 1 full

step "full: a pkg-config build of the consumer"
pc_dirs=$(pc_path "$work_dir/full/lib/pkgconfig")
pc_flags=$(PKG_CONFIG_PATH=$pc_dirs pkg-config --cflags --libs spdlog_ext)
echo "pkg-config: $pc_flags"
# shellcheck disable=SC2086 # pc_flags is a list of flags
"$cxx" -std=c++17 ${sanitize:+-fsanitize=$sanitize} -DEXPECTED_VERSION="\"$(PKG_CONFIG_PATH=$pc_dirs pkg-config --modversion spdlog_ext)\"" \
  "$source_dir/tests/packaging/consumer/main.cpp" -o "$work_dir/pkgconfig-consumer" $pc_flags
"$work_dir/pkgconfig-consumer" 1 1

step "core: the library without optional components, shared, from $source_dir"
configure "$source_dir" "$work_dir/core-build" -DBUILD_SHARED_LIBS=ON -DSPDLOG_EXT_WITH_POSTGRES=OFF \
  -DSPDLOG_EXT_WITH_HTTP=OFF -DSPDLOG_EXT_BUILD_TESTS=OFF -DSPDLOG_EXT_BUILD_EXAMPLES=OFF \
  -DSPDLOG_EXT_BUILD_BENCH=OFF -DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON "-DSPDLOG_EXT_SANITIZE=$sanitize" \
  -DCMAKE_CXX_FLAGS= -DCMAKE_EXE_LINKER_FLAGS= -DCMAKE_SHARED_LINKER_FLAGS= \
  "-DCMAKE_PREFIX_PATH=$prefix_path" "-DSPDLOG_EXT_SPDLOG_HEADER_ONLY=$header_only"
build "$work_dir/core-build"
rm -rf "$work_dir/core"
cmake --install "$work_dir/core-build" --prefix "$work_dir/core"
ls "$work_dir"/core/lib/libspdlog_ext.so.* >/dev/null || fail "no shared library installed"
check_prefix "$work_dir/core" 0 0 core

step "core: find_package(spdlog_ext COMPONENTS postgres) fails and says how to fix it"
if configure "$source_dir/tests/packaging/consumer" "$work_dir/core-missing" "-DCMAKE_PREFIX_PATH=$work_dir/core${prefix_path:+;$prefix_path}" \
  -DSPDLOG_EXT_COMPONENTS=postgres >"$work_dir/core-missing.log" 2>&1; then
  fail "find_package with a missing component succeeded"
fi
# CMake wraps the message at word boundaries (where depends on the paths in it): compare it with
# the whitespace squeezed.
missing_msg=$(tr -s '[:space:]' ' ' <"$work_dir/core-missing.log")
[[ $missing_msg == *"built without its 'postgres' sinks"* ]] || {
  cat "$work_dir/core-missing.log"
  fail "no message naming the missing component"
}
[[ $missing_msg == *"SPDLOG_EXT_WITH_POSTGRES=ON"* ]] || fail "the message does not say how to fix it"
[[ $missing_msg == *"spdlog_ext at $work_dir/core was"* || $missing_msg == *"spdlog_ext at $(cd "$work_dir/core" && pwd -P) was"* ]] ||
  fail "the message does not name the installed spdlog_ext's prefix ($work_dir/core)"
[[ $missing_msg != *";"* ]] || fail "the message has a stray ';' (built as a list)"

step "all packaging checks passed"
