"""Decode: GPU time per decode step at batch 1 and 16, context 512 and 4096 (fp16).

Per model (gpt2_small, llama_1b; llama_8b with --with-8b), per (B, context):
  * Kiln: the model's fp16 artifact (models.ensure_artifact: --kv-cache=on --max-seq-len 4224
    --max-batch 16), `kiln-run A --generate --prompt-ids ... (B prompts of `context` random
    ids) --max-new-tokens steps+1 --max-batch B --output-json F --quiet`, --kiln-runs times;
    the figure: decode_ms_per_step (median of the runs' medians; min/max over the runs).
  * PyTorch + CUDA graph: peers_torch.torch_decode, max_seq = context + steps; at contexts up to
    --check-context the B prompts go through the graph and its logits are checked against the
    HF forward (a failed check makes the suite's exit status 1), beyond it the cache holds
    random K/V.
  * HF generate: B = 1 at context 512 only (it runs at 40-60 ms/token).
  * ONNX Runtime: not applicable (the export has no past K/V inputs).
Floor: (weight bytes + B x mean context x K/V bytes per position) / copy bandwidth.
"""

import os

import numpy as np

from . import models, tools

MODELS = ("gpt2_small", "llama_1b")
BATCHES = (1, 16)
CONTEXTS = (512, 4096)
ORT_NA = ("n/a: the export has no past K/V inputs (logits of input_ids only), so ONNX Runtime "
          "could only recompute the whole prefix for every token")


def plan(args):
    """[(model, batch, context)] in the order they run."""
    names = list(MODELS) + (["llama_8b"] if args.with_8b else [])
    if args.models:
        names = [n for n in names if n in args.models]
    return [(n, b, c) for n in names for b in BATCHES for c in CONTEXTS]


def row_id(name, batch, context):
    return f"decode {name} B{batch} ctx{context}"


def prompts_for(vocab, batch, context, seed=0):
    """Random prompt ids [B, context] below min(vocab, 1000) (short command lines)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, min(vocab, 1000), size=(batch, context), dtype=np.int64)


def kiln_row(args, deadline, artifact, s, batch, context):
    prompts = prompts_for(s["vocab"], batch, context)
    runs = []
    for r in range(args.kiln_runs):
        out_json = os.path.join(args.work, "decode",
                                f"{s['name']}.B{batch}.ctx{context}.run{r}.json")
        os.makedirs(os.path.dirname(out_json), exist_ok=True)
        g = tools.kiln_generate(args.kiln_run, artifact, prompts, args.steps + 1, out_json,
                                deadline.timeout(args.run_timeout),
                                f"kiln-run --generate ({batch} prompts of {context} tokens)",
                                extra=["--max-batch", str(batch)])
        runs.append({"median_ms": g["decode_median_ms"], "min_ms": g["decode_min_ms"],
                     "max_ms": g["decode_max_ms"], "n": g.get("decode_steps") or args.steps})
    r = tools.combine_runs(runs)
    r["how"] = (f"kiln-run --generate, {batch} prompts x {context} random ids, "
                f"--max-new-tokens {args.steps + 1}; decode_ms_per_step over {args.kiln_runs} "
                "runs")
    return r


def run(args, deadline, header):
    bw = (header.get("copy_bandwidth") or {}).get("bytes_per_s")
    rows, prep = {}, {}
    todo = plan(args)
    for name, b, c in todo:
        s = models.shape(name)
        if c + args.steps + 1 > models.MAX_SEQ:
            raise tools.StepError(f"context {c} + {args.steps + 1} new tokens exceeds the "
                                  f"artifacts' {models.MAX_SEQ}")
        rows[(name, b, c)] = {
            "id": row_id(name, b, c), "labels": {"model": name, "batch": b, "context": c},
            "shape": models.describe(s), "kiln": {"skipped": "not reached"}, "peers": {
                "torch_cuda_graph": {"skipped": "not reached"},
                "onnxruntime": {"na": ORT_NA}},
            "tokens": b,
            "floor_ms": models.decode_floor_ms(s, b, c + (args.steps + 1) / 2, bw),
            "floor_how": (f"({models.weight_bytes(s) / 1e9:.4f} GB weights + {b} x "
                          f"{c + (args.steps + 1) / 2:g} positions x "
                          f"{models.kv_bytes_per_position(s)} B of K/V) / copy bandwidth")}
        if b == 1 and c == 512:
            rows[(name, b, c)]["peers"]["hf_generate"] = {"skipped": "not reached"}

    names = list(dict.fromkeys(n for n, _, _ in todo))
    for name in names:
        s = models.shape(name)
        mine = [k for k in todo if k[0] == name]
        print(f"\n== decode: {name} ({models.describe(s)}) ==", flush=True)
        # Kiln: export + compile once, then every (B, context).
        art = {}

        def prepare():
            a, info = models.ensure_artifact(args, s, deadline)
            art["path"] = a
            prep[name] = info
            return {"done": True}
        got = tools.measure(deadline, f"decode {name}: export + kiln-compile", prepare, need=30)
        if "path" not in art:
            prep[name] = got
        for key in mine:
            _, b, c = key
            if "path" not in art:
                rows[key]["kiln"] = {k: v for k, v in got.items() if k != "seconds"}
                continue
            rows[key]["kiln"] = tools.measure(
                deadline, f"{row_id(*key)}: Kiln",
                lambda b=b, c=c: kiln_row(args, deadline, art["path"], s, b, c), need=10)
        # PyTorch: one fp16 model on the GPU for the loop and HF generate.
        holder = {}

        def load():
            import torch
            holder["m"] = models.build_hf_model(s, device="cuda", dtype=torch.float16)
            return {"done": True}
        got = tools.measure(deadline, f"decode {name}: PyTorch model", load, need=20)
        for key in mine:
            _, b, c = key
            peers = rows[key]["peers"]
            if "m" not in holder:
                peers["torch_cuda_graph"] = {k: v for k, v in got.items() if k != "seconds"}
                if "hf_generate" in peers:
                    peers["hf_generate"] = dict(peers["torch_cuda_graph"])
                continue
            peers["torch_cuda_graph"] = tools.measure(
                deadline, f"{row_id(*key)}: PyTorch + CUDA graph",
                lambda b=b, c=c: torch_row(args, holder["m"], s, b, c), need=10)
            if "hf_generate" in peers:
                peers["hf_generate"] = tools.measure(
                    deadline, f"{row_id(*key)}: HF generate",
                    lambda c=c: hf_row(args, holder["m"], s, c), need=10)
        holder.clear()
        _free_cuda()
    out = [rows[key] for key in todo]
    notes = [f"{args.steps} decode steps per run; Kiln: {args.kiln_runs} kiln-run runs; PyTorch "
             f"+ CUDA graph: {args.repeats} timed runs of {args.steps} replays (its max_seq = "
             "context + steps; the whole static cache is read with a mask); HF generate at B=1, "
             f"context 512 only, {args.hf_tokens} tokens.",
             f"PyTorch's loop is checked against the HF forward at contexts up to "
             f"{args.check_context}; beyond, its cache holds random K/V.",
             "Kiln's and PyTorch's models have the same shapes and random weights (not the same "
             "values).",
             "ONNX Runtime: " + ORT_NA + "."]
    notes += [n for n in (models.prep_note(k, v) for k, v in prep.items()) if n]
    return {"rows": out, "notes": notes, "prep": prep}


def torch_row(args, model, s, batch, context):
    import torch
    from . import peers_torch
    cls = peers_torch.decoder_class(model)
    prompts = prompts_for(s["vocab"], batch, context, seed=1) \
        if context <= args.check_context else None
    r = peers_torch.torch_decode(model, cls, torch.float16, prompts, args.steps, args.repeats,
                                 context=context, batch=batch)
    return r


def hf_row(args, model, s, context):
    import torch
    from . import peers_torch
    ids = prompts_for(s["vocab"], 1, context, seed=2)[0]
    return peers_torch.hf_generate(model, torch.float16, ids, args.hf_tokens)


def _free_cuda():
    try:
        import gc

        import torch
        gc.collect()
        torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass
