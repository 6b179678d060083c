#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the lit suite (check-kiln) and the C++ unit
# tests (CTest). Exits non-zero if any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_BUILD_DIR:-$root/build}"

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"

status=0
echo "== lit suite (check-kiln) =="
# The ONNX node tests are the executor's main external check: never skip them silently here.
KILN_REQUIRE_ONNX_NODE_TESTS=1 ninja -C "$build" check-kiln || status=1
echo "== unit tests (ctest) =="
(cd "$build" && ctest --output-on-failure) || status=1
exit $status
