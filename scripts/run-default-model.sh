#!/usr/bin/env bash
# The main job on the bundled default model. Today Kiln has its dialect, kiln-opt and the GPU
# back end's PTX path, but no ONNX importer yet: this builds Kiln, prints the kiln-report summary
# of the bundled Llama-style model in kiln IR (examples/bytelm-llama-layers.mlir) and lowers the
# bundled kernel to PTX for sm_90. It grows with the project (import, compile, generate).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_BUILD_DIR:-$root/build}"

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" kiln-opt

echo "== kiln-report: examples/bytelm-llama-layers.mlir =="
"$build/bin/kiln-opt" --kiln-report -o /dev/null "$root/examples/bytelm-llama-layers.mlir"
echo "== kiln-gpu-to-ptx: examples/scale-kernel.mlir (PTX for sm_90) =="
ptx="$build/examples/scale-kernel.ptx"
mkdir -p "$(dirname "$ptx")"
"$build/bin/kiln-opt" --kiln-gpu-to-ptx "$root/examples/scale-kernel.mlir" \
  | python3 "$root/python/scripts/kiln-extract-ptx.py" - -o "$ptx"
sed -n '1,20p' "$ptx"
echo "(full PTX: $ptx)"
