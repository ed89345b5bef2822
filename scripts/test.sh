#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, a warnings-as-errors
# Release build and its tests, then the same tests under ASan + UBSan.
# Tests that need ../shared/testdata and cannot find it are reported skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
[ -d ../shared/testdata ] || echo "*** WARNING: ../shared/testdata not found: tests needing it will be SKIPPED ***"

echo "=== Release build (-Werror) ==="
bash scripts/build.sh build-ci -DCMAKE_BUILD_TYPE=Release -DDSINFER_WERROR=ON
(cd build-ci && ctest --output-on-failure -j"$jobs")

echo "=== ASan + UBSan build (-Werror) ==="
# -O1 without debug info: compiles about twice as fast as -O2 -g and checks the same.
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DDSINFER_WERROR=ON -DDSINFER_SANITIZE=ON
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")
