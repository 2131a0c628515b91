#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the project needs, only those missing.
#
# Usage: scripts/install-deps.sh [build|test]
#
#   build  (default) compiler, CMake, Ninja and the libraries: enough to build
#          the library and the examples (scripts/quickstart.sh).
#   test   build + doctest, cpp-httplib, PostgreSQL, InfluxDB, curl, clang with
#          its sanitizer runtimes, and the tools scripts/services.sh and
#          scripts/test.sh use.
#
# apt-get update and apt-get install run only when something is missing; sudo
# is used when not root.
set -euo pipefail

set_name=${1:-build}
case $set_name in
build | test) ;;
-h | --help)
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "usage: $0 [build|test]" >&2
  exit 2
  ;;
esac

build_pkgs=(
  g++ cmake ninja-build pkg-config
  libspdlog-dev libfmt-dev nlohmann-json3-dev libpq-dev libcurl4-openssl-dev zlib1g-dev libssl-dev
  # postgres_log_store and runtime levels (libpqxx); the spdlog-ext-logs command line (CLI11)
  libpqxx-dev libcli11-dev
)
test_pkgs=(
  "${build_pkgs[@]}"
  # the tests read the database back through libpqxx
  doctest-dev libcpp-httplib-dev
  # the log viewer's browser check (scripts/browser-check.sh)
  chromium-headless-shell
  postgresql influxdb
  curl ca-certificates openssl
  clang python3
  # the health tests parse prometheus_text() with the Prometheus client's strict parser
  python3-prometheus-client
  # used by scripts/services.sh: ss, runuser/setpriv/setsid, useradd, ps
  iproute2 util-linux passwd procps
)

log() { printf 'install-deps.sh: %s\n' "$*" >&2; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  log "error: this script needs a Debian or Ubuntu system (dpkg-query, apt-get)."
  log "install these packages by other means: ${test_pkgs[*]}"
  exit 1
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    log "error: not root and sudo is not installed"
    exit 1
  }
  SUDO=(sudo)
fi

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

missing_of() {
  local p
  MISSING=()
  for p in "$@"; do
    installed "$p" || MISSING+=("$p")
  done
}

updated=0
apt_install() {
  if ((updated == 0)); then
    log "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    updated=1
  fi
  log "installing: $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

# The sanitizer runtimes of the installed clang (clang 14 on Debian 12: libclang-rt-14-dev).
clang_rt_pkg() {
  local major
  major=$(dpkg-query -W -f='${Depends}' clang 2>/dev/null | grep -o 'clang-[0-9][0-9]*' | head -n 1 | cut -d- -f2 || true)
  echo "libclang-rt-${major:-14}-dev"
}

if [[ $set_name == build ]]; then
  wanted=("${build_pkgs[@]}")
else
  wanted=("${test_pkgs[@]}")
  installed clang && wanted+=("$(clang_rt_pkg)")
fi

missing_of "${wanted[@]}"
if ((${#MISSING[@]} > 0)); then
  apt_install "${MISSING[@]}"
fi
if [[ $set_name == test ]]; then
  # clang may have just been installed: its runtimes are only a Recommends.
  missing_of "$(clang_rt_pkg)"
  if ((${#MISSING[@]} > 0)); then
    apt_install "${MISSING[@]}"
  fi
fi
log "all packages for '$set_name' are installed"
