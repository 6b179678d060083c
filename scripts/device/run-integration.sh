#!/usr/bin/env bash
# Runs Kiln's GPU integration tests on the GPU machine (the device tool), from the repository
# root. That machine has CUDA, cmake, ninja and python3 but no LLVM/MLIR, so:
#  - the runtime (libkilnrt, kiln-run) is built there from runtime/ (no MLIR dependency);
#  - kiln-compile comes as a static binary, .device/kiln-compile.xz (or $KILN_DEVICE_COMPILER),
#    made here by scripts/build-device-compiler.sh;
#  - lit comes as .device/lit (a copy of LLVM's lit package, made by scripts/device/prepare.sh).
# Usage: scripts/device/run-integration.sh [lit options] [tests...]   (default: test/Integration)
# With KILN_SANITIZER set, every GPU run is wrapped in it (compute-sanitizer).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build=build-rt

echo "== runtime (standalone build) =="
cmake -G Ninja -S runtime -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }

compiler="${KILN_DEVICE_COMPILER:-.device/kiln-compile.xz}"
if [ -f "$compiler" ] && [ ! -x "$build/bin/kiln-compile" -o "$compiler" -nt "$build/bin/kiln-compile" ]; then
  python3 - "$compiler" "$build/bin/kiln-compile" <<'PY' || exit 1
import lzma, shutil, sys
with lzma.open(sys.argv[1]) as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$build/bin/kiln-compile"
fi

mkdir -p /tmp/kiln-lit/test/Integration
cat > /tmp/kiln-lit/test/lit.site.cfg.py <<PY
import shutil
config.llvm_tools_dir = ""
config.kiln_runtime_only = True
config.kiln_tools_dir = "$root/$build/bin"
config.kiln_src_root = "$root"
config.kiln_obj_root = "/tmp/kiln-lit"
config.python_executable = "python3"
config.ptxas_executable = shutil.which("ptxas") or "/usr/local/cuda/bin/ptxas"
import lit.llvm
lit.llvm.initialize(lit_config, config)
lit_config.load_config(config, "$root/test/lit.cfg.py")
PY
# Without a test path among the arguments, run all of test/Integration.
has_path=0
for arg in "$@"; do [ -e "$arg" ] && has_path=1; done
if [ $has_path -eq 0 ]; then set -- "$@" /tmp/kiln-lit/test/Integration; fi
PYTHONPATH="$root/.device/lit" python3 -c "from lit.main import main; main()" -v "$@"
