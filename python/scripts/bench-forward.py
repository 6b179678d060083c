#!/usr/bin/env python3
"""Forward latency of Kiln next to PyTorch eager, on the same GPU, in the same run.

Runs on the GPU machine (PyTorch + transformers there; Kiln's static kiln-compile and the
runtime's kiln-run built by scripts/device/run-integration.sh). For each model:

  * bytelm_llama (the bundled trained model) at seq 512: Kiln compiles models/bytelm_llama.onnx;
    PyTorch eager runs transformers' LlamaForCausalLM with the same configuration (4 layers,
    d=256, 8 heads, 2 KV heads, SwiGLU 688, vocab 256) and random weights: latency does not
    depend on the weight values.
  * a GPT-2-small-shaped model (12 layers, d=768, 12 heads, vocab 50257, random weights),
    exported here with torch.onnx.export (dynamo, opset 18) at seq 512, compiled by Kiln; the
    same module runs in PyTorch eager.

Kiln's time is kiln-run's median GPU time per run (CUDA events around the run; CUDA graph
replay); PyTorch's is the median of CUDA-event-timed forward calls after warm-up. fp32 and
fp16 each. Writes bench-forward.json and prints a Markdown table. Never asserts a speed.

Usage: bench-forward.py --kiln-compile BIN --kiln-run BIN --models DIR --work DIR [--out DIR]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def kiln_time(args, onnx_path, precision, inputs_npz, tag):
    artifact = os.path.join(args.work, f"{tag}.{precision}.kiln")
    t0 = time.time()
    out = run([args.kiln_compile, onnx_path, f"--precision={precision}", "--dim-max", "seq=512",
               "-o", artifact])
    compile_s = time.time() - t0
    if out.returncode != 0:
        return {"error": "kiln-compile failed: " + (out.stderr or out.stdout)[-2000:]}
    out = run([args.kiln_run, artifact, "--inputs-from", inputs_npz, "--repeat",
               str(args.repeat), "--warmup", str(args.warmup)])
    text = out.stdout + out.stderr
    m = re.search(r"GPU time per run: median ([0-9.]+) ms, min ([0-9.]+) ms, max ([0-9.]+) ms",
                  text)
    if out.returncode != 0 or not m:
        return {"error": "kiln-run failed: " + text[-2000:]}
    launches = re.search(r"(\d+) kernel launches per run", text)
    return {"median_ms": float(m.group(1)), "min_ms": float(m.group(2)),
            "max_ms": float(m.group(3)), "compile_s": round(compile_s, 2),
            "launches": int(launches.group(1)) if launches else None}


def torch_time(model, ids, dtype, repeat, warmup):
    import torch
    model = model.to(device="cuda", dtype=dtype).eval()
    ids = ids.cuda()
    with torch.no_grad():
        for _ in range(warmup):
            model(input_ids=ids, use_cache=False)
        torch.cuda.synchronize()
        times = []
        for _ in range(repeat):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            model(input_ids=ids, use_cache=False)
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
    times.sort()
    return {"median_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kiln-compile", required=True)
    p.add_argument("--kiln-run", required=True)
    p.add_argument("--models", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", default=".")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seq", type=int, default=512)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)

    import numpy as np
    import torch
    import transformers

    results = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "transformers": transformers.__version__, "seq": args.seq, "models": {}}
    text = np.fromfile(os.path.join(args.models, "eval_text.bin"), dtype=np.uint8)
    byte_ids = text[: args.seq].astype(np.int64)[None, :]

    # bytelm_llama: Kiln on the real model, PyTorch on the same architecture.
    llama_npz = os.path.join(args.work, "bytelm_llama.seq512.npz")
    np.savez(llama_npz, input_ids=byte_ids)
    torch.manual_seed(0)
    llama_cfg = transformers.LlamaConfig(
        vocab_size=256, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
        num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=False)
    llama = transformers.LlamaForCausalLM(llama_cfg)
    entry = {}
    for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        entry[precision] = {
            "kiln": kiln_time(args, os.path.join(args.models, "bytelm_llama.onnx"), precision,
                              llama_npz, "bytelm_llama"),
            "torch_eager": torch_time(llama, torch.from_numpy(byte_ids), dtype, args.repeat,
                                      args.warmup)}
    results["models"]["bytelm_llama"] = entry

    # GPT-2 small shape, exported here.
    torch.manual_seed(0)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config()).float().eval()

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False).logits

    gpt2_ids = torch.from_numpy(
        np.random.default_rng(0).integers(0, 50257, size=(1, args.seq), dtype=np.int64))
    gpt2_onnx = os.path.join(args.work, "gpt2_small.onnx")
    t0 = time.time()
    with torch.no_grad():
        torch.onnx.export(LogitsOnly(gpt2), (gpt2_ids,), gpt2_onnx, dynamo=True,
                          opset_version=18, input_names=["input_ids"], output_names=["logits"],
                          external_data=False)
    export_s = time.time() - t0
    gpt2_npz = os.path.join(args.work, "gpt2_small.npz")
    np.savez(gpt2_npz, input_ids=gpt2_ids.numpy())
    entry = {"export_s": round(export_s, 1),
             "params": int(sum(p.numel() for p in gpt2.parameters()))}
    for precision, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        entry[precision] = {
            "kiln": kiln_time(args, gpt2_onnx, precision, gpt2_npz, "gpt2_small"),
            "torch_eager": torch_time(gpt2, gpt2_ids, dtype, args.repeat, args.warmup)}
    results["models"]["gpt2_small"] = entry

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench-forward.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{results['gpu']}, torch {results['torch']}, seq {args.seq}, batch 1\n")
    print("| model | precision | Kiln ms | PyTorch eager ms | PyTorch / Kiln |")
    print("| --- | --- | --- | --- | --- |")
    for name, entry in results["models"].items():
        for precision in ("fp32", "fp16"):
            k, t = entry[precision]["kiln"], entry[precision]["torch_eager"]
            if "error" in k:
                print(f"| {name} | {precision} | error | {t['median_ms']:.3f} | - |")
                print(k["error"][-1500:], file=sys.stderr)
                continue
            print(f"| {name} | {precision} | {k['median_ms']:.3f} | {t['median_ms']:.3f} | "
                  f"{t['median_ms'] / k['median_ms']:.2f}x |")


if __name__ == "__main__":
    main()
