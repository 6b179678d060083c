#!/usr/bin/env bash
# The main job on the bundled default model (models/bytelm_llama.onnx, a trained byte-level
# Llama): installs what is missing, builds Kiln, imports the model into kiln IR (bytecode), runs
# the graph-level pipeline (simplify, raise, fuse-attention) and prints the kiln-report of both,
# runs the fused IR on the CPU reference executor on a prompt from models/eval_text.bin (the most
# likely next bytes and a short greedy continuation), and checks it against ONNX Runtime's
# reference logits; then compiles it for the GPU (fp16 artifact with main/prefill/decode entries
# and a KV cache: kernels, memory plan, PTX/cubin) and, when a GPU is present, runs it against
# ONNX Runtime and generates text from a prompt on the GPU; without one it says so and
# generates on the CPU executor (the same prefill/decode entries, interpreted).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_BUILD_DIR:-$root/build}"
model="$root/models/bytelm_llama.onnx"

"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" kiln-opt kiln-compile kiln-run kiln-exe-stub kiln-lib-stub

imported="$build/models/bytelm_llama.mlirbc"
echo "== import: $model -> $imported =="
mkdir -p "$build/models"
"$build/bin/kiln-compile" "$model" --emit=mlirbc -o "$imported"
"$build/bin/kiln-opt" --kiln-report -o /dev/null "$imported"

fused="$build/models/bytelm_llama.kiln.mlirbc"
echo "== fuse: kiln-graph-to-transformer -> $fused =="
"$build/bin/kiln-opt" "$imported" --pass-pipeline='builtin.module(kiln-graph-to-transformer)' \
  --emit-bytecode -o "$fused"
"$build/bin/kiln-opt" --kiln-report -o /dev/null "$fused"

echo "== run the fused IR on the CPU executor: next bytes after a prompt =="
/usr/bin/python3 "$root/python/scripts/kiln-next-bytes.py" --kiln-run "$build/bin/kiln-run" \
  --model "$fused" --prompt-file "$root/models/eval_text.bin" --prompt-offset 5000 \
  --prompt-length 120 --top-k 5 --generate 24

# atol 3e-5: ONNX Runtime's own float32 rounding error on these logits (test/Models/bytelm_llama.test).
echo "== check the fused IR against ONNX Runtime (seq 64) =="
"$build/bin/kiln-run" --device=cpu "$fused" \
  --inputs-from "$root/models/bytelm_llama.seq64.ref.npz" \
  --expect "$root/models/bytelm_llama.seq64.ref.npz" --rtol 1e-4 --atol 3e-5

artifact="$build/models/bytelm_llama.fp16.kiln"
echo "== compile for the GPU: main/prefill/decode entries, KV cache, kernels, memory plan, PTX (+ cubin) -> $artifact =="
"$build/bin/kiln-compile" "$model" --precision=fp16 --max-seq-len 2048 --max-batch 64 -o "$artifact"
"$build/bin/kiln-run" "$artifact" --print-signature
prompt=(--prompt-file "$root/models/eval_text.bin" --prompt-offset 5000 --prompt-length 200)
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "== run the artifact on the GPU against ONNX Runtime (seq 300, fp16) =="
  "$build/bin/kiln-run" "$artifact" \
    --inputs-from "$root/models/bytelm_llama.seq300.ref.npz" \
    --expect "$root/models/bytelm_llama.seq300.ref.npz" \
    --max-error-fraction 0.02 --min-argmax-agreement 0.99 --repeat 20 --warmup 3
  echo "== generate on the GPU: 200 bytes of prompt, 256 new bytes (prefill + decode, KV cache) =="
  "$build/bin/kiln-run" "$artifact" --generate "${prompt[@]}" --max-new-tokens 256
  echo
else
  echo "== no NVIDIA GPU here (nvidia-smi finds none): generating on the CPU executor instead =="
  echo "   (on a GPU machine: kiln-run $artifact --generate --prompt-file models/eval_text.bin --prompt-offset 5000 --prompt-length 200)"
  echo "== generate on the CPU executor: 200 bytes of prompt, 128 new bytes (prefill + decode, KV cache) =="
  "$build/bin/kiln-run" "$fused" \
    --pass-pipeline='builtin.module(kiln-kv-cache{max-seq-len=512 max-batch=1})' \
    --generate "${prompt[@]}" --max-new-tokens 128
  echo
fi
