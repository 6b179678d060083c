"""Prefill (B = 1): time to first token of a 512- and a 4096-token prompt, and tokens/s.

Per model (gpt2_small, llama_1b; llama_8b with --with-8b), per prompt length S:
  * Kiln: the decode part's artifact; one `kiln-run A --generate` with 1 + --prefill-reps
    prompts of S random ids, --max-new-tokens 1 --max-batch 1+reps: each prompt is prefilled
    on its own (its own cache slot), and the JSON gives each sequence's prefill_ms (GPU time of
    the prefill entry: every prompt position's logits, K/V written to the cache, the first
    token sampled from the last row). The first prompt is a warm-up; the figure is the median of
    the others.
  * PyTorch eager: the HF model (fp16, its default SDPA attention) on input_ids [1, S],
    use_cache=False, CUDA events around the call: all logits (the same work as Kiln's
    prefill entry), and with logits_to_keep=1 (what HF generate's first step computes).
  * ONNX Runtime CUDA EP on the same ONNX file Kiln compiles: that export is fp32, so ONNX
    Runtime runs it in fp32 (TF32 as its CUDA EP's default use_tf32 allows); a child process
    (peers_ort prefill), wall time of session.run with IOBinding, logits left on the device.
tokens/s = S / time.
"""

import os

from . import decode, models, tools

LENGTHS = (512, 4096)


def plan(args):
    """[(model, prompt length)] in the order they run."""
    return [(n, S) for n in _models(args) for S in LENGTHS]


def _models(args):
    names = list(decode.MODELS) + (["llama_8b"] if args.with_8b else [])
    return [n for n in names if not args.models or n in args.models]


def row_id(name, tokens):
    return f"prefill {name} {tokens} tokens"


def kiln_row(args, deadline, artifact, s, tokens):
    count = 1 + args.prefill_reps
    prompts = decode.prompts_for(s["vocab"], count, tokens, seed=3)
    out_json = os.path.join(args.work, "prefill", f"{s['name']}.S{tokens}.json")
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    g = tools.kiln_generate(args.kiln_run, artifact, prompts, 1, out_json,
                            deadline.timeout(args.run_timeout),
                            f"kiln-run --generate ({count} prompts of {tokens} tokens, "
                            "--max-new-tokens 1)", extra=["--max-batch", str(count)])
    r = tools.summarize(g["prefill_ms"][1:])
    r["warmup_ms"] = g["prefill_ms"][0]
    r["how"] = (f"per-sequence prefill_ms of kiln-run --generate --max-new-tokens 1, {count} "
                "prompts, the first dropped")
    return r


def run(args, deadline, header):
    todo = plan(args)
    rows = {}
    for name, S in todo:
        rows[(name, S)] = {"id": row_id(name, S), "labels": {"model": name, "tokens": S},
                           "shape": models.describe(models.shape(name)),
                           "kiln": {"skipped": "not reached"},
                           "peers": {"torch_eager": {"skipped": "not reached"},
                                     "torch_eager_last": {"skipped": "not reached"},
                                     "ort_cuda": {"skipped": "not reached"}},
                           "tokens": S}
    prep = {}
    for name in dict.fromkeys(n for n, _ in todo):
        s = models.shape(name)
        mine = [k for k in todo if k[0] == name]
        print(f"\n== prefill: {name} ({models.describe(s)}) ==", flush=True)
        art = {}

        def prepare():
            a, info = models.ensure_artifact(args, s, deadline)
            art.update(path=a, onnx=info["onnx"])
            prep[name] = info
            return {"done": True}
        got = tools.measure(deadline, f"prefill {name}: export + kiln-compile", prepare, need=30)
        if "path" not in art:
            prep[name] = got
        for key in mine:
            S = key[1]
            if "path" not in art:
                rows[key]["kiln"] = {k: v for k, v in got.items() if k != "seconds"}
                continue
            rows[key]["kiln"] = tools.measure(
                deadline, f"{row_id(*key)}: Kiln",
                lambda S=S: kiln_row(args, deadline, art["path"], s, S), need=10)

        holder = {}

        def load():
            import torch
            holder["m"] = models.build_hf_model(s, device="cuda", dtype=torch.float16)
            return {"done": True}
        got = tools.measure(deadline, f"prefill {name}: PyTorch model", load, need=20)
        for key in mine:
            S = key[1]
            peers = rows[key]["peers"]
            if "m" not in holder:
                peers["torch_eager"] = {k: v for k, v in got.items() if k != "seconds"}
                peers["torch_eager_last"] = dict(peers["torch_eager"])
                continue
            ids = decode.prompts_for(s["vocab"], 1, S, seed=4)
            for peer, last in (("torch_eager", False), ("torch_eager_last", True)):
                peers[peer] = tools.measure(
                    deadline, f"{row_id(*key)}: {peer}",
                    lambda last=last, ids=ids: eager_row(args, holder["m"], ids, last), need=5)
        holder.clear()
        decode._free_cuda()

        if "onnx" not in art:
            reason = prep.get(name, {})
            for key in mine:
                rows[key]["peers"]["ort_cuda"] = (
                    {"skipped": reason["skipped"]} if "skipped" in reason else
                    {"error": "no ONNX file: " + str(reason.get("error", "export did not run"))})
            continue
        res = tools.measure(deadline, f"prefill {name}: ONNX Runtime CUDA EP",
                            lambda: ort_rows(args, deadline, art["onnx"], s,
                                             [k[1] for k in mine]), need=30)
        for key in mine:
            rows[key]["peers"]["ort_cuda"] = _ort_cell(res, key[1])
    out = [rows[key] for key in todo]
    notes = [f"Kiln: per-sequence prefill_ms of one kiln-run ({args.prefill_reps} timed prompts "
             "after one warm-up); every prompt position's logits are computed, like the PyTorch "
             "eager (all logits) and ONNX Runtime columns; HF generate's own first step keeps "
             "only the last position's logits (the \"last logits only\" column).",
             "PyTorch eager: the HF model in fp16 with its default (SDPA) attention, CUDA events "
             f"around each forward, {args.prefill_reps} timed after 2 warm-up.",
             "ONNX Runtime: the CUDA EP runs the fp32 ONNX export Kiln compiles (fp32 weights "
             "and activations; TF32 matmuls when its use_tf32 default is on, reported in the "
             "JSON); wall time of session.run with IOBinding (logits stay on the device)."]
    notes += [n for n in (models.prep_note(k, v) for k, v in prep.items()) if n]
    return {"rows": out, "notes": notes, "prep": prep}


def eager_row(args, model, ids, last):
    from . import peers_torch
    times = peers_torch.eager_forward(model, ids, args.prefill_reps, 2, last)
    r = tools.summarize(times)
    r["how"] = "HF forward, fp16, use_cache=False" + (", logits_to_keep=1" if last else "")
    return r


def ort_rows(args, deadline, onnx_path, s, lengths):
    res, _ = tools.run_child(
        "peers_ort", ["prefill", "--onnx", onnx_path, "--lengths", ",".join(map(str, lengths)),
                      "--reps", args.prefill_reps, "--warmup", 1, "--vocab", s["vocab"]],
        deadline.timeout(args.ort_timeout), f"ONNX Runtime prefill of {s['name']}")
    return res


def _ort_cell(res, S):
    for k in ("na", "error", "skipped"):
        if k in res:
            return {k: res[k]}
    row = res.get("rows", {}).get(str(S))
    if not row:
        return {"error": f"ONNX Runtime gave no result for {S} tokens"}
    if "error" in row:
        return {"error": row["error"]}
    r = tools.summarize(row["times_ms"])
    r.update(how=res.get("how"), session_s=res.get("session_s"),
             providers=res.get("providers"), cuda_options=res.get("cuda_options"),
             onnxruntime=res.get("onnxruntime"), precision="fp32 graph")
    return r
