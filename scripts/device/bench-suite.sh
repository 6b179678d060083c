#!/usr/bin/env bash
# Runs the benchmark suite (python/scripts/bench-suite.py; docs/Benchmarks.md) on the GPU
# machine, from the repository root. First builds the runtime (build-rt/bin/kiln-run) and unpacks
# the static compiler (build-rt/bin/kiln-compile, from $KILN_DEVICE_COMPILER or
# .device/kiln-compile.xz) through run-integration.sh with a filter that runs no test, then
# measures. Results: $OUT/bench/results/<date>-<gpu>.{json,md} and -decode.svg (+ latest.*).
# Usage: scripts/device/bench-suite.sh [--quick] [bench-suite.py options]
#   scripts/device/bench-suite.sh --quick --deadline 540
#   scripts/device/bench-suite.sh --parts decode,prefill --deadline 540
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export PYTHONUNBUFFERED=1

log="$(mktemp /tmp/kiln-bench-build.XXXXXX)"
echo "== building build-rt/ (scripts/device/run-integration.sh, no tests; log: $log) =="
bash scripts/device/run-integration.sh -j 8 --filter 'kiln-bench-builds-only' \
  --allow-empty-runs >"$log" 2>&1
rc=$?
for tool in build-rt/bin/kiln-run build-rt/bin/kiln-compile; do
  if [ ! -x "$tool" ]; then
    echo "bench-suite.sh: $tool was not built (run-integration.sh exit status $rc):"
    tail -40 "$log"
    exit 1
  fi
done
if [ $rc -ne 0 ]; then
  echo "bench-suite.sh: warning: run-integration.sh exit status $rc; using the tools in build-rt/bin:"
  tail -15 "$log"
fi

commit="$(cat .device/commit 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)"
exec python3 python/scripts/bench-suite.py --kiln-compile build-rt/bin/kiln-compile \
  --kiln-run build-rt/bin/kiln-run --work build-rt/bench --out "${OUT:-bench/results-local}" \
  --kiln-commit "$commit" "$@"
