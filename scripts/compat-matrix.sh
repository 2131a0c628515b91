#!/usr/bin/env bash
# Build and test spdlog_ext against several spdlog / fmt / libpqxx versions built
# from source checkouts that you bring in (this script fetches nothing).
#
# Usage: scripts/compat-matrix.sh [--spdlog DIR[=VARIANTS]]... [--libpqxx DIR]...
#                                 [--work DIR] [--jobs N] [--cross] [--no-system]
#                                 [--cxx-standard N] [--label REGEX] [--dry-run]
#
#   --spdlog DIR[=VARIANTS]  A spdlog source tree (e.g. a clone of tag v1.15.0).
#                     It is built once into its own prefix (static, bundled fmt,
#                     SPDLOG_BUILD_SHARED=OFF), which installs spdlog::spdlog and
#                     spdlog::spdlog_header_only. VARIANTS: compiled (default),
#                     header-only, or compiled,header-only (one row each;
#                     header-only is -DSPDLOG_EXT_SPDLOG_HEADER_ONLY=ON).
#   --libpqxx DIR     A libpqxx source tree (e.g. a clone of tag 7.10.7), built
#                     once (shared) into its own prefix, found by the tests
#                     through its libpqxx.pc (PKG_CONFIG_PATH).
#   --work DIR        Prefixes, build trees and logs (default /tmp/spdlog_ext-compat).
#                     Dependencies already built there from the same source and
#                     commit are reused.
#   --jobs N          Parallel build jobs (default $SPDLOG_EXT_BUILD_JOBS or 2).
#   --no-system       Leave out the row with the system's spdlog and libpqxx.
#   --cross           Every spdlog choice (system and each variant) with every
#                     libpqxx choice (system and each). Without it the rows are:
#                     system + system; each spdlog variant + the system libpqxx;
#                     each libpqxx + the last --spdlog's first variant (the
#                     system spdlog when no --spdlog is given).
#   --cxx-standard N  Build spdlog_ext, its tests and the dependencies with
#                     -DCMAKE_CXX_STANDARD=N (default: each project's own; spdlog_ext
#                     asks for C++17). libpqxx 8 needs 20.
#   --label REGEX     Run only the ctest labels matching REGEX (default: all).
#   --dry-run         Print the rows and commands, build and run nothing.
#
# Each row: configure (-DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON, tests, examples,
# benchmarks), check from the build's dependency records that the headers of
# the chosen spdlog / fmt / libpqxx were compiled in (and that the tests load
# the chosen libpqxx), build, then ctest against the throwaway PostgreSQL and
# InfluxDB of scripts/services.sh (started once, stopped on exit). CC/CXX pick
# the compiler. The script prints a table of the results (also written to
# WORK/results-DATE-PID.md) and exits 1 if any row failed.
#
# Getting the sources is up to you, e.g.:
#   git clone --branch v1.15.0 --depth 1 https://github.com/gabime/spdlog /src/spdlog-1.15.0
#   git clone --branch 7.10.7 --depth 1 https://github.com/jtv/libpqxx /src/libpqxx-7.10.7
#   scripts/compat-matrix.sh --spdlog /src/spdlog-1.15.0=compiled,header-only \
#                            --libpqxx /src/libpqxx-7.10.7
# Keep them outside this repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT

log() { printf 'compat-matrix.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
bad_usage() {
  log "$*"
  usage >&2
  exit 2
}

work=/tmp/spdlog_ext-compat jobs=${SPDLOG_EXT_BUILD_JOBS:-2} cross=0 with_system=1 label="" dry_run=0
cxx_std=""
spdlog_args=() pqxx_args=()
while (($# > 0)); do
  case $1 in
  --spdlog | --libpqxx | --work | --jobs | --label | --cxx-standard)
    (($# >= 2)) || bad_usage "$1 needs a value"
    case $1 in
    --spdlog) spdlog_args+=("$2") ;;
    --libpqxx) pqxx_args+=("$2") ;;
    --work) work=$2 ;;
    --jobs) jobs=$2 ;;
    --label) label=$2 ;;
    --cxx-standard) cxx_std=$2 ;;
    esac
    shift 2
    ;;
  --spdlog=*) spdlog_args+=("${1#*=}") && shift ;;
  --libpqxx=*) pqxx_args+=("${1#*=}") && shift ;;
  --work=*) work=${1#*=} && shift ;;
  --jobs=*) jobs=${1#*=} && shift ;;
  --label=*) label=${1#*=} && shift ;;
  --cxx-standard=*) cxx_std=${1#*=} && shift ;;
  --cross) cross=1 && shift ;;
  --no-system) with_system=0 && shift ;;
  --dry-run) dry_run=1 && shift ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) bad_usage "unknown argument: $1" ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || bad_usage "--jobs: expected a positive number, got '$jobs'"
[[ -z $cxx_std || $cxx_std =~ ^[0-9]{2}$ ]] || bad_usage "--cxx-standard: expected e.g. 17 or 20, got '$cxx_std'"
[[ $work == /* ]] || work=$PWD/$work
case $work/ in
"$ROOT"/*) bad_usage "--work must be outside the repository ($ROOT)" ;;
esac

# ---------------------------------------------------------------- sources

# src_rev DIR: the commit of a source tree that is a git clone, else "unknown".
src_rev() {
  local top
  top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) || top=""
  if [[ -n $top && $(cd "$top" && pwd -P) == "$1" ]]; then
    git -C "$1" rev-parse --short=12 HEAD
  else
    echo unknown
  fi
}

# The version a spdlog source tree declares, from include/spdlog/version.h.
spdlog_src_version() {
  local h=$1/include/spdlog/version.h
  [[ -r $h ]] || return 1
  awk '/#define SPDLOG_VER_(MAJOR|MINOR|PATCH)/ { v = v (v == "" ? "" : ".") $3 } END { print v }' "$h"
}

# The version of a libpqxx source tree, from its VERSION file.
pqxx_src_version() {
  [[ -r $1/VERSION ]] || return 1
  tr -d '[:space:]' <"$1/VERSION"
}

# Each choice is "name|version|source dir|prefix" ("system" has no source or prefix).
spdlog_choices=() pqxx_choices=()
for arg in ${spdlog_args[@]+"${spdlog_args[@]}"}; do
  dir=${arg%%=*} variants=compiled
  [[ $arg != *=* ]] || variants=${arg#*=}
  [[ -d $dir ]] || die "--spdlog $dir: no such directory"
  dir=$(cd "$dir" && pwd -P)
  version=$(spdlog_src_version "$dir") || die "--spdlog $dir: no include/spdlog/version.h (not a spdlog source tree?)"
  IFS=, read -r -a vs <<<"$variants"
  for v in "${vs[@]}"; do
    case $v in
    compiled | header-only) ;;
    *) bad_usage "--spdlog $arg: variant must be compiled or header-only, got '$v'" ;;
    esac
    spdlog_choices+=("$v|$version|$dir|$work/deps/spdlog-$version${cxx_std:+-c++$cxx_std}")
  done
done
for dir in ${pqxx_args[@]+"${pqxx_args[@]}"}; do
  [[ -d $dir ]] || die "--libpqxx $dir: no such directory"
  dir=$(cd "$dir" && pwd -P)
  version=$(pqxx_src_version "$dir") || die "--libpqxx $dir: no VERSION file (not a libpqxx source tree?)"
  pqxx_choices+=("built|$version|$dir|$work/deps/libpqxx-$version${cxx_std:+-c++$cxx_std}")
done

system_spdlog_version() {
  local h=/usr/include/spdlog/version.h
  [[ -r $h ]] && spdlog_src_version /usr || echo "?"
}
system_pqxx_version() {
  pkg-config --modversion libpqxx 2>/dev/null || echo "?"
}
sys_spdlog="system|$(system_spdlog_version)||"
sys_pqxx="system|$(system_pqxx_version)||"

# Rows: "spdlog choice#libpqxx choice".
rows=()
if ((cross)); then
  all_s=() all_p=()
  ((with_system == 0)) || all_s+=("$sys_spdlog") all_p+=("$sys_pqxx")
  all_s+=(${spdlog_choices[@]+"${spdlog_choices[@]}"})
  all_p+=(${pqxx_choices[@]+"${pqxx_choices[@]}"})
  ((${#all_p[@]} > 0)) || all_p=("$sys_pqxx")
  ((${#all_s[@]} > 0)) || all_s=("$sys_spdlog")
  for s in "${all_s[@]}"; do
    for p in "${all_p[@]}"; do rows+=("$s#$p"); done
  done
else
  ((with_system == 0)) || rows+=("$sys_spdlog#$sys_pqxx")
  for s in ${spdlog_choices[@]+"${spdlog_choices[@]}"}; do rows+=("$s#$sys_pqxx"); done
  partner=$sys_spdlog
  if ((${#spdlog_args[@]} > 0)); then
    last=${spdlog_args[-1]%%=*}
    last=$(cd "$last" && pwd -P)
    for s in "${spdlog_choices[@]}"; do
      IFS='|' read -r _ _ sdir _ <<<"$s"
      if [[ $sdir == "$last" ]]; then
        partner=$s
        break
      fi
    done
  fi
  for p in ${pqxx_choices[@]+"${pqxx_choices[@]}"}; do rows+=("$partner#$p"); done
fi
((${#rows[@]} > 0)) || bad_usage "nothing to build (--no-system without --spdlog or --libpqxx)"

# ---------------------------------------------------------------- dependencies

# build_dep KIND SRC PREFIX CMAKE_ARGS...: configure, build and install SRC into
# PREFIX unless PREFIX already holds a build of the same source and commit.
build_dep() {
  local kind=$1 src=$2 prefix=$3
  shift 3
  local stamp rev
  rev=$(src_rev "$src")
  stamp="src=$src rev=$rev args=$*"
  if [[ -f $prefix/.spdlog_ext-compat-stamp && $(cat "$prefix/.spdlog_ext-compat-stamp") == "$stamp" ]]; then
    log "$kind: reusing $prefix"
    return 0
  fi
  local bdir=$work/deps/build/${prefix##*/} dlog=$work/logs/dep-${prefix##*/}.log
  log "$kind: building $src into $prefix (log: $dlog)"
  rm -rf "$bdir" "$prefix"
  mkdir -p "$bdir"
  if ! {
    cmake -S "$src" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=$prefix" \
      -DCMAKE_INSTALL_LIBDIR=lib "$@" &&
      cmake --build "$bdir" -j "$jobs" && cmake --install "$bdir"
  } >"$dlog" 2>&1; then
    tail -n 30 "$dlog" >&2
    return 1
  fi
  printf '%s\n' "$stamp" >"$prefix/.spdlog_ext-compat-stamp"
}

spdlog_dep_args=(-DCMAKE_POSITION_INDEPENDENT_CODE=ON -DSPDLOG_BUILD_SHARED=OFF
  -DSPDLOG_FMT_EXTERNAL=OFF -DSPDLOG_INSTALL=ON -DSPDLOG_BUILD_EXAMPLE=OFF
  -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF)
pqxx_dep_args=(-DBUILD_SHARED_LIBS=ON -DBUILD_TEST=OFF -DBUILD_DOC=OFF)
if [[ -n $cxx_std ]]; then
  spdlog_dep_args+=("-DCMAKE_CXX_STANDARD=$cxx_std")
  pqxx_dep_args+=("-DCMAKE_CXX_STANDARD=$cxx_std")
fi

# ---------------------------------------------------------------- checks

# dep_header BUILD_DIR TARGET_OBJ_REGEX HEADER_REGEX: the first header matching
# HEADER_REGEX that ninja recorded as a dependency of an object matching
# TARGET_OBJ_REGEX (that is, the header the compiler really read).
dep_header() {
  local bdir=$1 obj_re=$2 hdr_re=$3
  ninja -C "$bdir" -t deps 2>/dev/null | awk -v o="$obj_re" -v h="$hdr_re" '
    /^[^ ].*: #deps/ { sub(/:$/, "", $1); inobj = ($1 ~ o); next }
    inobj && $1 ~ h { print $1; exit }'
}

# header_define FILE NAME: the value of "#define NAME value" (or "#  define ...") in FILE.
header_define() {
  sed -n "s/^#[[:space:]]*define[[:space:]]\{1,\}$2[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p" "$1" 2>/dev/null |
    head -n 1 | tr -d '"'
}

# verify_row BUILD_DIR SPDLOG_PREFIX PQXX_PREFIX VARIANT: prints "spdlog=V(compiled|header-only)
# fmt=V(bundled|external) libpqxx=V" as compiled in, and fails when a header or library came
# from the wrong place, or spdlog was not used as VARIANT says.
verify_row() {
  local bdir=$1 sprefix=$2 pprefix=$3 variant=$4 ok=0 sver fmt_h fmtv fmt_kind pqxx_h pqxxv lib spdlog_dir used
  # Compare canonical paths (a --work reached through a symbolic link is resolved by CMake).
  [[ -z $sprefix ]] || sprefix=$(realpath -m "$sprefix")
  [[ -z $pprefix ]] || pprefix=$(realpath -m "$pprefix")
  spdlog_dir=$(sed -n 's/^spdlog_DIR:PATH=//p' "$bdir/CMakeCache.txt")
  [[ -z $spdlog_dir ]] || spdlog_dir=$(realpath -m "$spdlog_dir")
  log "  spdlog_DIR=$spdlog_dir"
  if [[ -n $sprefix && $spdlog_dir != "$sprefix"/* ]]; then
    log "  spdlog_DIR is not under $sprefix"
    ok=1
  fi
  local ver_h
  ver_h=$(dep_header "$bdir" 'spdlog_ext\.dir/src/core/record\.cpp\.o$' '/spdlog/version\.h$')
  [[ -z $ver_h ]] || ver_h=$(realpath -m "$ver_h")
  log "  spdlog headers: ${ver_h%/version.h}"
  if [[ -z $ver_h ]] || { [[ -n $sprefix && $ver_h != "$sprefix"/* ]] || [[ -z $sprefix && $ver_h != /usr/include/* ]]; }; then
    log "  spdlog/version.h did not come from ${sprefix:-/usr/include}"
    ok=1
  fi
  sver="$(header_define "$ver_h" SPDLOG_VER_MAJOR).$(header_define "$ver_h" SPDLOG_VER_MINOR).$(header_define "$ver_h" SPDLOG_VER_PATCH)"
  # Compiled spdlog: its targets define SPDLOG_COMPILED_LIB for every object that uses them.
  used=header-only
  ! grep -q -- '-DSPDLOG_COMPILED_LIB' "$bdir/build.ninja" || used=compiled
  log "  spdlog used $used"
  if [[ $variant != system && $used != "$variant" ]]; then
    log "  spdlog should have been used $variant"
    ok=1
  fi
  fmt_h=$(dep_header "$bdir" 'spdlog_ext\.dir/src/core/record\.cpp\.o$' '/fmt/(bundled/)?(base|core)\.h$')
  fmtv=$(header_define "$fmt_h" FMT_VERSION)
  if [[ -z $fmtv && -n $fmt_h ]]; then # fmt 11+: core.h only includes base.h
    fmtv=$(header_define "${fmt_h%/*}/base.h" FMT_VERSION)
  fi
  fmt_kind=external
  [[ $fmt_h != */bundled/* ]] || fmt_kind=bundled
  log "  fmt headers: ${fmt_h%/*} (FMT_VERSION $fmtv)"
  pqxx_h=$(dep_header "$bdir" 'integration_tests\.dir/integration/test_postgres\.cpp\.o$' '/pqxx/version\.hxx$')
  [[ -z $pqxx_h ]] || pqxx_h=$(realpath -m "$pqxx_h")
  log "  libpqxx headers: ${pqxx_h%/version.hxx}"
  if [[ -z $pqxx_h ]] || { [[ -n $pprefix && $pqxx_h != "$pprefix"/* ]] || [[ -z $pprefix && $pqxx_h != /usr/include/* ]]; }; then
    log "  pqxx/version.hxx did not come from ${pprefix:-/usr/include}"
    ok=1
  fi
  pqxxv=$(header_define "$pqxx_h" PQXX_VERSION)
  lib=$(ldd "$bdir/tests/integration_tests" 2>/dev/null | awk '/libpqxx/ { print $3; exit }')
  [[ -z $lib ]] || lib=$(realpath -m "$lib")
  if [[ -n $lib ]]; then
    log "  integration_tests loads $lib"
    if [[ -n $pprefix && $lib != "$pprefix"/* ]] || [[ -z $pprefix && $lib == "$work"/* ]]; then
      log "  integration_tests loads the wrong libpqxx"
      ok=1
    fi
  elif [[ -n $pprefix ]]; then
    log "  integration_tests does not load libpqxx from $pprefix"
    ok=1
  fi
  printf 'spdlog=%s(%s) fmt=%s(%s) libpqxx=%s\n' "$sver" "$used" "$fmtv" "$fmt_kind" "$pqxxv"
  return "$ok"
}

# ---------------------------------------------------------------- rows

if ((dry_run)); then
  printf 'work directory: %s\n' "$work"
  for r in "${rows[@]}"; do
    IFS='|' read -r skind sver ssrc sprefix <<<"${r%%#*}"
    IFS='|' read -r pkind pver psrc pprefix <<<"${r#*#}"
    printf 'row: spdlog %s (%s%s) + libpqxx %s (%s%s)\n' "$sver" "$skind" "${ssrc:+ from $ssrc into $sprefix}" \
      "$pver" "$pkind" "${psrc:+ from $psrc into $pprefix}"
  done
  exit 0
fi

mkdir -p "$work/logs" "$work/build"

services_dir="" services_failed=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  if [[ -n $services_dir ]]; then
    if ((services_failed)); then
      "$ROOT/scripts/services.sh" status "$services_dir" >&2 || true
    fi
    "$ROOT/scripts/services.sh" stop "$services_dir" || rmdir "$services_dir" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start_services() {
  [[ -z $services_dir ]] || return 0
  unset SPDLOG_EXT_SERVICES_DIR
  services_dir=$(mktemp -d /tmp/spdlog_ext_services.XXXXXX)
  "$ROOT/scripts/services.sh" start "$services_dir" >/dev/null
  # shellcheck source=/dev/null
  . "$services_dir/env"
  export SPDLOG_EXT_REQUIRE_SERVICES=1
}

results=()
failed=0
results_file=$work/results-$(date '+%Y%m%d-%H%M%S')-$$.md
for r in "${rows[@]}"; do
  IFS='|' read -r skind sver ssrc sprefix <<<"${r%%#*}"
  IFS='|' read -r pkind pver psrc pprefix <<<"${r#*#}"
  name="spdlog-$sver-$skind+libpqxx-$pver"
  [[ $pkind == system ]] || name="spdlog-$sver-$skind+libpqxx-$pver-built"
  [[ -z $cxx_std ]] || name+="-c++$cxx_std"
  bdir=$work/build/$name rlog=$work/logs/$name.log
  conf=fail build=- test=- counts=- versions="-"
  log "==== $name (log: $rlog)"
  : >"$rlog"

  prefixes=() pc_path=${PKG_CONFIG_PATH:-}
  dep_ok=1
  if [[ -n $ssrc ]]; then
    build_dep spdlog "$ssrc" "$sprefix" "${spdlog_dep_args[@]}" || dep_ok=0
    prefixes+=("$sprefix")
  fi
  if [[ -n $psrc ]]; then
    build_dep libpqxx "$psrc" "$pprefix" "${pqxx_dep_args[@]}" || dep_ok=0
    prefixes+=("$pprefix")
    pc_path=$pprefix/lib/pkgconfig${pc_path:+:$pc_path}
  fi

  header_only=OFF
  [[ $skind != header-only ]] || header_only=ON
  prefix_path=$(IFS=';' && printf '%s' "${prefixes[*]-}")
  configure=(cmake -S "$ROOT" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
    "-DCMAKE_PREFIX_PATH=$prefix_path" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DSPDLOG_EXT_WARNINGS_AS_ERRORS=ON -DSPDLOG_EXT_BUILD_TESTS=ON -DSPDLOG_EXT_REQUIRE_TESTS=ON
    -DSPDLOG_EXT_BUILD_EXAMPLES=ON -DSPDLOG_EXT_BUILD_BENCH=ON
    "-DSPDLOG_EXT_SPDLOG_HEADER_ONLY=$header_only")
  [[ -z $cxx_std ]] || configure+=("-DCMAKE_CXX_STANDARD=$cxx_std")
  ctest=(ctest --test-dir "$bdir" --output-on-failure --no-tests=error)
  [[ -z $label ]] || ctest+=(-L "$label")

  if ((dep_ok)); then
    rm -rf "$bdir"
    {
      printf 'configure: PKG_CONFIG_PATH=%q %s\n' "$pc_path" "$(printf '%q ' "${configure[@]}")"
      "${CXX:-c++}" --version | head -n 1
    } >>"$rlog" 2>&1
    if PKG_CONFIG_PATH=$pc_path "${configure[@]}" >>"$rlog" 2>&1; then
      conf=ok build=fail
      if cmake --build "$bdir" -j "$jobs" >>"$rlog" 2>&1; then
        build=ok
        if versions=$(verify_row "$bdir" "$sprefix" "$pprefix" "$skind" 2>>"$rlog"); then
          test=fail
          start_services
          log "ctest: ${ctest[*]}"
          rc=0
          "${ctest[@]}" >>"$rlog" 2>&1 || rc=$?
          counts=$(sed -n 's/^[0-9]*% tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\)$/\1 failed of \2/p' "$rlog" | tail -n 1)
          [[ -n $counts ]] || counts=-
          ((rc != 0)) || test=ok
        else
          build="ok, wrong deps"
        fi
      fi
    fi
  else
    conf="dependency build failed"
  fi
  log "  configure $conf, build $build, test $test ($counts) $versions"
  if [[ $conf != ok || $build != ok || $test != ok ]]; then
    failed=1
    tail -n 40 "$rlog" >&2
  fi
  results+=("| $name | $versions | $conf | $build | $test | $counts |")
done

{
  printf '%s, %s\n\n' "$(date -u '+%F %H:%M UTC')" "$("${CXX:-c++}" --version | head -n 1)"
  printf '| row | compiled in | configure | build | test | ctest |\n'
  printf '| --- | --- | --- | --- | --- | --- |\n'
  printf '%s\n' "${results[@]}"
} | tee "$results_file"
log "results written to $results_file"
exit "$failed"
