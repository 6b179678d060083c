#!/usr/bin/env python3
"""Decode latency (ms/token, batch 1, context 512) of Kiln next to PyTorch, same GPU, same run.

Runs on the GPU machine (PyTorch + transformers there; Kiln's static kiln-compile and the
runtime's kiln-run built by scripts/device/run-integration.sh). Models:

  * bytelm_llama: Kiln compiles the bundled models/bytelm_llama.onnx; PyTorch runs the same
    architecture (LlamaForCausalLM config: 4 layers, hidden 256, 8 heads, 2 KV heads, SwiGLU
    688, vocab 256, RoPE theta 10000 as in the ONNX graph) with random weights: latency does not
    depend on the weight values.
  * gpt2_small: GPT2LMHeadModel(GPT2Config()) (12 layers, d=768, 12 heads, vocab 50257, 1024
    positions), torch.manual_seed(0) weights, exported here once (cached in WORK) with
    torch.onnx.export(dynamo=True, opset 18) with a dynamic `seq` dim (input_ids [1, seq] ->
    logits [1, seq, 50257]; the module returns the logits only, use_cache=False), compiled by
    Kiln with --max-seq-len 1024 (its position table); PyTorch runs the same weights.

Per model and precision (fp16, fp32):

  * Kiln: kiln-compile M.onnx --precision=P --max-seq-len N (retried with --dim-max seq=N), then
    kiln-run M.P.kiln --generate --prompt-file eval_text.bin --prompt-length 512
    --max-new-tokens 128 --output-json F --quiet, --kiln-repeats times; the figure is the median
    over runs of decode_ms_per_step.median (GPU time of one decode step as kiln-run measures it).
  * PyTorch "plain PyTorch + CUDA graph" (DESIGN.md's anchor): a hand-written decode step over a
    static KV cache: K and V tensors [layers, 1, kv_heads, max_seq, head_dim] preallocated with
    max_seq = 512 + 128 = 640 (the context this benchmark reaches); one step = embedding (+ the
    position row for GPT-2 / the RoPE row for Llama, both selected by a device-side position
    tensor), per layer: norm, fused QKV projection, cache write at the position (index_copy_),
    scaled_dot_product_attention of the new query over the WHOLE max_seq cache with a boolean
    mask (positions <= current) so every shape is static (GQA: the 4 query heads of a KV head
    are the 4 query rows of one SDPA call, no K/V copy), output projection, MLP (fused
    gate/up for Llama); final norm, LM head, argmax; the step writes the next token and
    increments the position on the device. Captured once with torch.cuda.graph, replayed.
    The prompt is fed through the same graph one token per replay (untimed); then 128 replays
    are timed with CUDA events around each, --repeats times; the figure is the median per-step
    time. The loop's logits after the prompt are checked against the Hugging Face model's
    full forward of the same prompt (reported: max |diff|, argmax agreement).
  * HF generate (reference only): model.generate greedy with its default cache,
    (time of 1 + K new tokens - time of 1 new token) / K with K = --hf-tokens (wall clock,
    synchronized).

Writes OUT/bench-decode.json and prints a Markdown table. Never asserts a speed (exit status 1
only when a step failed to run).

Usage: bench-decode.py --kiln-compile BIN --kiln-run BIN --models DIR --work DIR [--out DIR]
                       [--only bytelm_llama,gpt2_small] [--precisions fp16,fp32]
                       [--skip kiln,torch,hf]
       bench-decode.py --self-test
"""

import argparse
import json
import os
import statistics
import sys
import time

MODELS = ("bytelm_llama", "gpt2_small")
LLAMA = dict(vocab_size=256, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
             num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
             tie_word_embeddings=False)
MAX_SEQ_LEN = {"bytelm_llama": 2048, "gpt2_small": 1024}

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# The reusable pieces live in python/kiln_bench (shared with bench-suite.py).
from kiln_bench.models import export_logits_onnx  # noqa: E402
from kiln_bench.peers_torch import GPT2Decoder, LlamaDecoder  # noqa: E402
from kiln_bench.tools import StepError, compile_cached, decode_median, run_tool  # noqa: E402
from kiln_bench.tools import summarize  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Pure parts (checked by --self-test)
# ----------------------------------------------------------------------------------------------

def ratio(torch_ms, kiln_ms):
    if not torch_ms or not kiln_ms:
        return None
    return torch_ms / kiln_ms


def table(results):
    lines = ["| model | precision | Kiln ms/token | PyTorch + CUDA graph ms/token | "
             "PyTorch / Kiln | HF generate ms/token | PyTorch loop vs HF forward |",
             "| --- | --- | --- | --- | --- | --- | --- |"]

    def ms(d):
        if not d:
            return "-"
        if "error" in d:
            return "error"
        return f"{d['median_ms']:.4f}" if d["median_ms"] < 1 else f"{d['median_ms']:.3f}"
    for name, entry in results["models"].items():
        for p, r in entry.get("precisions", {}).items():
            k, t, h = r.get("kiln"), r.get("torch_cuda_graph"), r.get("hf_generate")
            rt = ratio(t and t.get("median_ms"), k and k.get("median_ms"))
            chk = "-"
            if t and "check" in t:
                c = t["check"]
                chk = (f"max abs diff {c['max_abs_diff']:.3g} (of {c['max_abs_ref']:.3g}), "
                       f"argmax {'same' if c['argmax_same'] else 'DIFFERENT'}")
            lines.append(f"| {name} | {p} | {ms(k)} | {ms(t)} | "
                         + (f"{rt:.2f}x" if rt else "-") + f" | {ms(h)} | {chk} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Kiln
# ----------------------------------------------------------------------------------------------

def kiln_compile(args, onnx_path, precision, tag, max_seq):
    """kiln-compile --precision=P --max-seq-len N (retried with --dim-max seq=N), cached."""
    artifact = os.path.join(args.work, f"{tag}.{precision}.kiln")
    base = [f"--precision={precision}"]
    tries = [base + ["--max-seq-len", str(max_seq)] + list(args.compile_flag),
             base + ["--dim-max", f"seq={max_seq}"] + list(args.compile_flag)]
    artifact, seconds, _ = compile_cached(args.kiln_compile, onnx_path, artifact, tries,
                                          args.compile_timeout, f"kiln-compile {tag} {precision}",
                                          recompile=args.recompile)
    return artifact, (round(seconds, 1) if seconds is not None else None)


def kiln_decode(args, onnx_path, precision, tag, max_seq, ids):
    use_ids = False
    try:
        artifact, compile_s = kiln_compile(args, onnx_path, precision, tag, max_seq)
        medians, prefill = [], []
        for r in range(args.kiln_repeats):
            out_json = os.path.join(args.work, f"{tag}.{precision}.decode.{r}.json")
            if os.path.exists(out_json):
                os.remove(out_json)
            as_ids = ["--prompt-ids", ",".join(str(int(b)) for b in ids)]
            as_file = ["--prompt-file", args.text_path, "--prompt-length", str(args.context)]
            rest = ["--max-new-tokens", str(args.new_tokens), "--output-json", out_json,
                    "--quiet"] + list(args.run_flag)
            head = [args.kiln_run, artifact, "--generate"]
            try:
                run_tool(head + (as_ids if use_ids else as_file) + rest, args.timeout,
                         f"kiln-run --generate {tag}")
            except StepError as e:
                if use_ids or r or tag == "bytelm_llama":
                    raise
                # A non-byte vocabulary may refuse --prompt-file: the same bytes as ids.
                print(f"  ({str(e).splitlines()[-1][:200]}; retrying with --prompt-ids)")
                use_ids = True
                run_tool(head + as_ids + rest, args.timeout,
                         f"kiln-run --generate {tag} (--prompt-ids)")
            try:
                with open(out_json) as f:
                    obj = json.load(f)
            except (OSError, ValueError) as e:
                raise StepError(f"kiln-run wrote no readable {out_json}: {e}") from None
            medians.append(decode_median(obj))
            if isinstance(obj.get("prefill_ms"), (int, float)):
                prefill.append(obj["prefill_ms"])
        return {"median_ms": statistics.median(medians), "run_medians_ms": medians,
                "prefill_ms": prefill, "compile_s": compile_s, "artifact": artifact,
                "prompt": "--prompt-ids" if use_ids else "--prompt-file"}
    except StepError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return {"error": str(e)}


# ----------------------------------------------------------------------------------------------
# PyTorch: the static-cache CUDA-graph loop and HF generate (python/kiln_bench/peers_torch.py)
# ----------------------------------------------------------------------------------------------

def torch_decode(hf, cls, dtype, ids, args):
    from kiln_bench import peers_torch
    r = peers_torch.torch_decode(hf, cls, dtype, ids[None], args.new_tokens, args.repeats)
    if "check" in r:
        r["check"].pop("passed", None)      # this script reports the check, it does not gate
    return r


def hf_generate(hf, dtype, ids, args):
    from kiln_bench import peers_torch
    return peers_torch.hf_generate(hf, dtype, ids, args.hf_tokens)


# ----------------------------------------------------------------------------------------------

def self_test():
    ok = 0

    def check(c, what):
        nonlocal ok
        if not c:
            raise AssertionError(what)
        ok += 1
    check(decode_median({"decode_ms_per_step": {"median": 0.2, "min": 0.1}}) == 0.2, "dict")
    check(decode_median({"decode_ms_per_step": 0.3}) == 0.3, "number")
    for bad in ({}, {"decode_ms_per_step": {"min": 1}}, {"decode_ms_per_step": 0},
                {"decode_ms_per_step": float("nan")}, [1]):
        try:
            decode_median(bad)
            check(False, f"accepted {bad}")
        except StepError:
            ok += 1
    s = summarize([3.0, 1.0, 2.0, 10.0])
    check(s["median_ms"] == 2.5 and s["min_ms"] == 1.0 and s["n"] == 4, "summarize")
    check(ratio(1.0, 0.5) == 2.0 and ratio(None, 1) is None and ratio(1, 0) is None, "ratio")
    res = {"models": {"gpt2_small": {"precisions": {
        "fp16": {"kiln": {"median_ms": 0.25},
                 "torch_cuda_graph": {"median_ms": 0.5, "check": {
                     "max_abs_diff": 0.01, "max_abs_ref": 5.0, "argmax_same": True}},
                 "hf_generate": {"median_ms": 60.0}},
        "fp32": {"kiln": {"error": "x"}, "torch_cuda_graph": {"median_ms": 0.9}}}}}}
    t = table(res)
    check("| gpt2_small | fp16 | 0.2500 | 0.5000 | 2.00x | 60.000 |" in t, t)
    check("| gpt2_small | fp32 | error | 0.9000 | - | - | - |" in t, t)
    print(f"self-test: {ok} checks passed")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--self-test", action="store_true")
    p.add_argument("--kiln-compile")
    p.add_argument("--kiln-run")
    p.add_argument("--models", help="folder with bytelm_llama.onnx and eval_text.bin")
    p.add_argument("--work", help="artifacts, the GPT-2 export, kiln-run JSON files")
    p.add_argument("--out", default=".")
    p.add_argument("--only", default=",".join(MODELS))
    p.add_argument("--precisions", default="fp16,fp32")
    p.add_argument("--skip", default="", help="comma-separated: kiln, torch, hf")
    p.add_argument("--context", type=int, default=512, help="prompt length")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5, help="timed PyTorch decode runs")
    p.add_argument("--kiln-repeats", type=int, default=3, help="kiln-run --generate runs")
    p.add_argument("--hf-tokens", type=int, default=32, help="K of the HF generate timing")
    p.add_argument("--compile-flag", action="append", default=[])
    p.add_argument("--run-flag", action="append", default=[])
    p.add_argument("--recompile", action="store_true")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--compile-timeout", type=float, default=600)
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    missing = [f"--{k.replace('_', '-')}" for k in ("kiln_compile", "kiln_run", "models", "work")
               if not getattr(args, k)]
    if missing:
        p.error("missing " + ", ".join(missing))
    only = [x for x in args.only.split(",") if x]
    precisions = [x for x in args.precisions.split(",") if x]
    skip = {x for x in args.skip.split(",") if x}
    for bad, known, what in ((set(only) - set(MODELS), MODELS, "--only"),
                             (set(precisions) - {"fp16", "fp32", "bf16"},
                              ("fp16", "fp32", "bf16"), "--precisions"),
                             (skip - {"kiln", "torch", "hf"}, ("kiln", "torch", "hf"),
                              "--skip")):
        if bad:
            p.error(f"{what}: unknown {sorted(bad)}; known: {', '.join(known)}")
    args.text_path = os.path.join(args.models, "eval_text.bin")
    args.work = os.path.abspath(args.work)
    if args.dry_run:
        for name in only:
            for prec in precisions:
                print(f"{name} {prec}: kiln-compile --precision={prec} --max-seq-len "
                      f"{MAX_SEQ_LEN[name]}; kiln-run --generate --prompt-file {args.text_path} "
                      f"--prompt-length {args.context} --max-new-tokens {args.new_tokens} "
                      f"x{args.kiln_repeats}; PyTorch static cache of "
                      f"{args.context + args.new_tokens} positions, {args.repeats} x "
                      f"{args.new_tokens} timed replays")
        return 0
    if "kiln" not in skip:
        for tool in (args.kiln_compile, args.kiln_run):
            if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
                print(f"error: {tool} is not an executable file", file=sys.stderr)
                return 2
    if not os.path.exists(args.text_path):
        print(f"error: {args.text_path} not found", file=sys.stderr)
        return 2
    if args.context + args.new_tokens > min(MAX_SEQ_LEN[n] for n in only):
        p.error("--context + --new-tokens exceeds a model's maximum context")
    os.makedirs(args.work, exist_ok=True)

    import numpy as np
    import torch
    import transformers
    if not torch.cuda.is_available():
        print("error: no CUDA device for PyTorch", file=sys.stderr)
        return 2
    dtypes = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}
    results = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "transformers": transformers.__version__, "context": args.context,
               "new_tokens": args.new_tokens, "batch": 1,
               "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "models": {}}
    ids = np.fromfile(args.text_path, dtype=np.uint8)[:args.context].astype(np.int64)
    failed = False
    t_start = time.time()

    for name in only:
        print(f"\n== {name} ==", flush=True)
        entry = results["models"].setdefault(name, {"precisions": {}})
        torch.manual_seed(0)
        if name == "bytelm_llama":
            onnx_path = os.path.join(args.models, "bytelm_llama.onnx")
            model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA)).eval()
            cls = LlamaDecoder
        else:
            model = transformers.GPT2LMHeadModel(transformers.GPT2Config()).float().eval()
            cls = GPT2Decoder
            onnx_path = os.path.join(args.work, "gpt2_small_dynseq.onnx")
            if "kiln" not in skip:
                try:
                    entry["export"] = export_logits_onnx(model, onnx_path, MAX_SEQ_LEN[name])
                except Exception as e:  # noqa: BLE001
                    entry["export"] = {"error": f"{type(e).__name__}: {e}"}
                    print(f"error: GPT-2 export: {e}", file=sys.stderr, flush=True)
        entry["params"] = int(sum(t.numel() for t in model.parameters()))
        for prec in precisions:
            r = entry["precisions"].setdefault(prec, {})
            if "kiln" not in skip and "error" not in entry.get("export", {}):
                r["kiln"] = kiln_decode(args, onnx_path, prec, name, MAX_SEQ_LEN[name], ids)
            if "torch" not in skip:
                r["torch_cuda_graph"] = torch_decode(model, cls, dtypes[prec], ids, args)
            if "hf" not in skip:
                r["hf_generate"] = hf_generate(model, dtypes[prec], ids, args)
            failed |= any("error" in v for v in r.values() if isinstance(v, dict))
            model = model.float().cpu()
        failed |= "error" in entry.get("export", {})
        del model
        torch.cuda.empty_cache()

    results["seconds"] = round(time.time() - t_start, 1)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bench-decode.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{results['gpu']}, torch {results['torch']}, batch 1, prompt {args.context}, "
          f"{args.new_tokens} new tokens (ms/token = GPU time per decode step, median)\n")
    print(table(results))
    print(f"\nwrote {path} ({results['seconds']} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
