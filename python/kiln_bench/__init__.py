"""Kiln's benchmark suite: Kiln next to PyTorch and ONNX Runtime on one GPU (docs/Benchmarks.md).

One module per part (decode, prefill, kernels, compile_time) and the pieces they share: tools
(running kiln-compile / kiln-run / ncu, parsing what they print, the deadline), models (the
benchmark shapes, their byte counts and their ONNX export), peers_torch (the static-cache
CUDA-graph decode loop, HF generate, CUDA-event timing), peers_ort (ONNX Runtime sessions, run
in a child process) and report (JSON rows, the Markdown table, the SVG plot). The entry point is
python/scripts/bench-suite.py; python/scripts/bench-decode.py uses the same pieces.

Nothing here imports torch, transformers or onnxruntime at module level, so that the pure parts
(bench-suite.py --self-test) run without them.
"""
