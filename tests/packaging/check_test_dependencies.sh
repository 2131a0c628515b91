#!/usr/bin/env bash
# Configuring without a test dependency: the tests are skipped with one warning (a plain
# "configure, build, install" must not need doctest, libpqxx or cpp-httplib), unless
# SPDLOG_EXT_REQUIRE_TESTS=ON asks for them (scripts/test.sh), which makes it a configure error.
# Registered as the ctest test "packaging.test_dependencies" (label "packaging"); doctest is
# hidden with CMAKE_DISABLE_FIND_PACKAGE_doctest. Configures only, builds nothing.
#
# Usage: check_test_dependencies.sh SOURCE_DIR WORK_DIR [PREFIX_PATH]
set -euo pipefail

source_dir=$1 work_dir=$2 prefix_path=${3:-}
prefix_path=${prefix_path//:/;}
fail() {
  printf 'check_test_dependencies.sh: FAILED: %s\n' "$*" >&2
  exit 1
}
rm -rf "$work_dir"
mkdir -p "$work_dir"
common=(-G Ninja -DSPDLOG_EXT_BUILD_TESTS=ON -DSPDLOG_EXT_BUILD_EXAMPLES=OFF
  -DCMAKE_DISABLE_FIND_PACKAGE_doctest=ON "-DCMAKE_PREFIX_PATH=$prefix_path")

out=$(cmake -S "$source_dir" -B "$work_dir/skip" "${common[@]}" 2>&1) ||
  fail "configuring without doctest failed instead of skipping the tests: $out"
grep -q 'tests skipped, missing doctest' <<<"$out" || fail "no 'tests skipped' warning: $out"
[[ ! -e $work_dir/skip/tests ]] || fail "the tests were configured anyway"
echo "ok: without doctest the tests are skipped with a warning"

if out=$(cmake -S "$source_dir" -B "$work_dir/require" "${common[@]}" -DSPDLOG_EXT_REQUIRE_TESTS=ON 2>&1); then
  fail "SPDLOG_EXT_REQUIRE_TESTS=ON without doctest configured: $out"
fi
grep -q 'the tests need doctest' <<<"$out" || fail "no error naming doctest: $out"
echo "ok: with SPDLOG_EXT_REQUIRE_TESTS=ON a missing doctest is a configure error"
rm -rf "$work_dir"
