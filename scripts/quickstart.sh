#!/usr/bin/env bash
# Build and run the quickstart example: installs the build dependencies,
# configures build/quickstart (tests off, examples on), builds the "quickstart"
# target and runs it from the repository root. Arguments go to the example.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD=$ROOT/build/quickstart

"$ROOT/scripts/install-deps.sh" build
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DSPDLOG_EXT_BUILD_TESTS=OFF -DSPDLOG_EXT_BUILD_EXAMPLES=ON
cmake --build "$BUILD" --target quickstart -j "${SPDLOG_EXT_BUILD_JOBS:-2}"
cd "$ROOT"
exec "$BUILD/examples/quickstart" "$@"
