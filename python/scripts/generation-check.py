#!/usr/bin/env python3
"""Generation acceptance checks of issue 6 on the GPU machine: greedy decode against a
full-recompute ONNX Runtime reference, batched vs single-sequence decode, bits per byte.

Runs where Kiln's static kiln-compile and the runtime's kiln-run are built
(scripts/device/run-integration.sh) and onnxruntime + numpy are installed. For each byte-level
model (bytelm_llama, bytelm_gpt2) and each precision (fp32, fp16, bf16):

  * compile:  kiln-compile M.onnx --precision=P --max-seq-len 2048 -o WORK/M.P.kiln
              (retried with --dim-max seq=2048 when kiln-compile does not know --max-seq-len;
              reused while newer than the .onnx and kiln-compile and made by the same command)
  * B=8:      one kiln-run --generate of the 8 prompts below as one batch, 128 greedy tokens each
  * B=1:      one kiln-run per prompt (--max-batch 1), for the 8 prompts and the 56 extra ones
  * B=64:     one kiln-run --generate of the 64 prompts (the 8 + 56 extra, mixed lengths)
  * bpb:      kiln-run --eval-text eval_text.bin --window 512 --windows 64

and checks:

  * greedy vs reference: the B=8 tokens against ONNX Runtime's greedy full recompute on the same
    ONNX graph (the whole prefix run at every step, argmax of the last row, first index on
    ties): fp32 100% token-identical, fp16 >= 95% (position-wise over 8 x 128 tokens); bf16 is
    reported, not gated. Also reported: prompts fully identical, first divergence per prompt,
    the reference's logit gap there (ref token minus Kiln token) and a teacher-forced
    agreement (ONNX Runtime's argmax over prompt + Kiln's own tokens, one forward per prompt:
    how often Kiln's choice is ONNX Runtime's given the same context).
  * batched vs B=1: B=8 and B=64 tokens identical to the B=1 tokens of the same prompts.
  * bits per byte: within 0.002 (fp32) / 0.01 (fp16, bf16) of ONNX Runtime fp32 computed here
    (first 64 windows of 512 bytes: window w feeds bytes [512w, 512w+512), predicts
    [512w+1, 512w+513); mean -log2 softmax probability), and of the README's figures 1.4504
    (bytelm_llama) / 1.3476 (bytelm_gpt2) within the same tolerance (+0.00005 for their rounding).

Prompts: slices of eval_text.bin (token id = byte). The 8 main prompts have lengths 16, 100, 300,
512, 800, 1200, 1600, 1920 (1920 + 128 new tokens = the 2048 context) at offsets 40000, 60000,
..., 180000. The 56 extra prompts of the B=64 batch have lengths spread log-uniformly over
1..1920 in mixed order and offsets spread over the file (extra_prompts(); pure arithmetic).

ONNX Runtime references (tokens and bits per byte) are cached in WORK/ort-reference.json after
every prompt, keyed by the model's sha256, offset, length and token count: a second run (or a run
cut off by --deadline) picks up where the last one stopped. --reference-json adds a read-only
cache (e.g. one brought back from an earlier machine).

Writes OUT/generation-check.json, prints Markdown tables. Exit status: 0 all checks passed;
1 a check failed or a step errored (each printed under "FAILED"); 3 nothing failed but some
checks did not run (deadline, no onnxruntime); 2 bad usage.

Usage:
  generation-check.py --kiln-compile BIN --kiln-run BIN --models DIR --work DIR [--out DIR]
                      [--precisions fp32,fp16,bf16] [--only bytelm_llama] [--skip b64,...]
                      [--deadline SECONDS] [--dry-run]
  generation-check.py --self-test      (the pure parts; needs numpy only)
"""

import argparse
import concurrent.futures
import hashlib
import json
import math
import os
import re
import sys
import threading
import time

# The tool runner (StepError naming the step, the command and the tool's output) is the
# benchmark package's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kiln_bench.tools import StepError, read_json, run_tool  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Constants of the contract
# ----------------------------------------------------------------------------------------------

MODELS = {"bytelm_llama": 1.4504, "bytelm_gpt2": 1.3476}   # README: ORT fp32 bits per byte
MAIN_LENGTHS = [16, 100, 300, 512, 800, 1200, 1600, 1920]
MAIN_OFFSETS = [40000 + 20000 * i for i in range(8)]
BPB_TOLERANCE = {"fp32": 0.002, "fp16": 0.01, "bf16": 0.01}
README_ROUNDING = 0.00005            # the README figures have 4 decimals
GREEDY_MIN_FRACTION = {"fp32": 1.0, "fp16": 0.95}     # bf16: reported only
SKIPPABLE = ("reference", "teacher", "b1", "b64", "bpb")


# ----------------------------------------------------------------------------------------------
# Pure parts (no numpy needed unless stated; unit-checked by --self-test)
# ----------------------------------------------------------------------------------------------

def main_prompts(text_len, max_new, max_seq, lengths=None, offsets=None):
    """The 8 main prompts as (offset, length): lengths capped so prompt + max_new <= max_seq."""
    lengths = list(lengths or MAIN_LENGTHS)
    offsets = list(offsets or MAIN_OFFSETS)
    if len(offsets) < len(lengths):
        offsets += [offsets[-1] + 20000 * (i + 1) for i in range(len(lengths) - len(offsets))]
    cap = max_seq - max_new
    if cap < 1:
        raise ValueError(f"--max-new-tokens {max_new} leaves no room for a prompt in "
                         f"--max-seq-len {max_seq}")
    out = []
    for off, n in zip(offsets, lengths):
        n = max(1, min(n, cap))
        if off + n > text_len:
            off = max(0, text_len - n)
        if n > text_len:
            raise ValueError(f"prompt of {n} bytes does not fit the {text_len}-byte text")
        out.append((off, n))
    return out


def extra_prompts(count, text_len, max_new, max_seq):
    """`count` more prompts of mixed lengths for the big batch, as (offset, length).

    Lengths are log-uniform over 1..(max_seq - max_new), visited in a scrambled order
    (i * 23 mod count), so short and long prompts alternate in the batch; offsets are spread
    over the text by a fixed multiplicative step. Deterministic, independent of numpy."""
    cap = max_seq - max_new
    out = []
    if count <= 0:
        return out
    step = 23
    while math.gcd(step, count) != 1:
        step += 2
    for i in range(count):
        f = ((i * step) % count) / max(1, count - 1)
        n = int(round(math.exp(math.log(cap) * f)))
        n = max(1, min(n, cap, text_len))
        span = text_len - n
        off = (i * 104729 + 7919) % (span + 1)
        out.append((off, n))
    return out


def compare_sequences(expected, got):
    """Position-wise comparison of two lists of token lists (same number of sequences).

    Returns identical (positions equal), total (positions of `expected`), fraction,
    prompts_identical, first_divergence (per sequence: index of the first difference, or None;
    a length difference counts as a difference at the shorter length)."""
    if len(expected) != len(got):
        raise ValueError(f"{len(expected)} sequences vs {len(got)}")
    identical = total = full = 0
    first = []
    for a, b in zip(expected, got):
        total += len(a)
        same = sum(1 for x, y in zip(a, b) if x == y)
        identical += same
        d = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if d is None and len(a) != len(b):
            d = min(len(a), len(b))
        first.append(d)
        full += d is None
    return {"identical": identical, "total": total,
            "fraction": identical / total if total else 1.0,
            "prompts_identical": full, "prompts": len(expected), "first_divergence": first}


def log_softmax_rows(logits):
    """float64 log-softmax over the last axis (numpy)."""
    import numpy as np
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def window_bits(logits, targets):
    """Sum of -log2 p(target) over the rows of one window's logits [W, vocab] (numpy)."""
    import numpy as np
    lp = log_softmax_rows(logits)
    t = np.asarray(targets, dtype=np.int64)
    return float(-lp[np.arange(len(t)), t].sum() / math.log(2.0))


def eval_windows(text_len, window, windows):
    """[(input_start, input_end)] of the eval windows; inputs [wW, wW+W), targets shifted by 1."""
    need = windows * window + 1
    if text_len < need:
        raise ValueError(f"eval text has {text_len} bytes, {windows} windows of {window} need "
                         f"{need}")
    return [(w * window, w * window + window) for w in range(windows)]


def find_bits_per_byte(obj):
    """bits per byte from kiln-run --eval-text's JSON: key "bits_per_byte" (or a key containing
    both "bits" and "byte", or "bpb"), searched recursively."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            kl = k.lower()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and (
                    kl in ("bits_per_byte", "bpb") or ("bits" in kl and "byte" in kl)):
                return float(v)
        for v in obj.values():
            r = find_bits_per_byte(v)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_bits_per_byte(v)
            if r is not None:
                return r
    return None


def parse_generate_json(obj, prompts, max_new):
    """Tokens per prompt from kiln-run --generate --output-json, checked against the prompts.

    Expected: {"sequences": [{"prompt_length": n, "tokens": [generated ids]}, ...]} in the
    order of the prompts. Tokens that repeat the prompt first (length n + max_new) are also
    accepted (the prompt part is dropped). Returns (token lists, notes)."""
    notes = []
    seqs = obj.get("sequences") if isinstance(obj, dict) else None
    if not isinstance(seqs, list):
        raise StepError("kiln-run's JSON has no \"sequences\" list; "
                        + ("keys: " + ", ".join(sorted(obj)) if isinstance(obj, dict)
                           else "not a JSON object"))
    if len(seqs) != len(prompts):
        raise StepError(f"kiln-run's JSON has {len(seqs)} sequences for {len(prompts)} prompts")
    out = []
    for i, (s, (_, n)) in enumerate(zip(seqs, prompts)):
        if not isinstance(s, dict) or not isinstance(s.get("tokens"), list):
            raise StepError(f"sequence {i} of kiln-run's JSON has no \"tokens\" list")
        toks = [int(t) for t in s["tokens"]]
        pl = s.get("prompt_length")
        if pl is not None and int(pl) != n:
            raise StepError(f"sequence {i}: kiln-run reports prompt_length {pl}, the prompt has "
                            f"{n} tokens (order of sequences?)")
        if len(toks) == n + max_new and len(toks) != max_new:
            toks = toks[n:]
            notes.append(f"sequence {i}: tokens include the prompt; dropped its {n} tokens")
        if len(toks) != max_new:
            raise StepError(f"sequence {i}: {len(toks)} tokens generated, expected {max_new} "
                            "(no EOS was given, so every sequence should run to the limit)")
        out.append(toks)
    return out, notes


def divergence_details(prompts, ref, got, tf_rows):
    """Per diverging prompt: index, reference token, Kiln token, and the reference logits'
    gap there, from the teacher-forced rows (tf_rows[i]: [max_new, vocab] logits over
    prompt + Kiln's tokens; row d's context equals the reference's up to the divergence d)."""
    out = []
    for i, (a, b) in enumerate(zip(ref, got)):
        d = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), None)
        if d is None:
            continue
        item = {"prompt": i, "prompt_length": prompts[i][1], "index": d, "reference": a[d],
                "kiln": b[d]}
        if tf_rows is not None and tf_rows[i] is not None:
            row = tf_rows[i][d]
            item["ref_logit"] = float(row[a[d]])
            item["kiln_logit"] = float(row[b[d]])
            item["gap"] = item["ref_logit"] - item["kiln_logit"]
        out.append(item)
    return out


def teacher_forced_agreement(got, tf_argmax):
    """How many of Kiln's tokens equal the reference argmax given Kiln's own context."""
    agree = total = 0
    for b, a in zip(got, tf_argmax):
        total += len(b)
        agree += sum(1 for x, y in zip(a, b) if x == y)
    return {"agree": agree, "total": total, "fraction": agree / total if total else 1.0}


def evaluate(results, precisions, fp16_min=GREEDY_MIN_FRACTION["fp16"], skip=()):
    """The pass/fail list: (failures, not_run) as lists of strings. Checks named in `skip`
    (see SKIPPABLE) and those of a precision that already failed (its errors) are not listed
    as not run."""
    failures, not_run = [], []
    cfg = results.get("config", {})
    big = len(cfg.get("prompts", [])) + len(cfg.get("extra_prompts", [])) or 64
    for name, m in results["models"].items():
        for e in m.get("errors", []):
            failures.append(f"{name}: {e}")
        for p in precisions:
            r = m.get("precisions", {}).get(p)
            tag = f"{name} {p}"
            if r is None:
                not_run.append(f"{tag}: nothing ran")
                continue
            for e in r.get("errors", []):
                failures.append(f"{tag}: {e}")
            quiet = set(skip)
            if r.get("errors"):
                quiet |= set(SKIPPABLE)
            if "b1" in quiet:
                quiet.add("b64")
            v = r.get("vs_reference")
            need = {"fp32": 1.0, "fp16": fp16_min}.get(p)
            if v is None:
                if need is not None and "reference" not in quiet:
                    not_run.append(f"{tag}: greedy vs reference not checked")
            elif need is not None and v["fraction"] < need:
                failures.append(f"{tag}: greedy tokens {v['identical']}/{v['total']} "
                                f"({100 * v['fraction']:.2f}%) identical to the reference, "
                                f"need {100 * need:.0f}%; first divergences "
                                f"{v['first_divergence']}")
            for key, label, sk in (("b8_vs_b1", "B=8", "b1"), ("b64_vs_b1", f"B={big}", "b64")):
                c = r.get(key)
                if c is None:
                    if sk not in quiet:
                        not_run.append(f"{tag}: {label} vs B=1 not checked")
                elif c["identical"] != c["total"]:
                    bad = [i for i, d in enumerate(c["first_divergence"]) if d is not None]
                    failures.append(f"{tag}: {label} differs from B=1 in "
                                    f"{c['total'] - c['identical']} of {c['total']} tokens, "
                                    f"prompts {bad[:16]}{' ...' if len(bad) > 16 else ''}")
            b = r.get("bpb")
            if b is None or b.get("kiln") is None:
                if "bpb" not in quiet:
                    not_run.append(f"{tag}: bits per byte not checked")
            else:
                tol = BPB_TOLERANCE[p]
                if b.get("ort") is not None and abs(b["kiln"] - b["ort"]) > tol:
                    failures.append(f"{tag}: bits per byte {b['kiln']:.5f}, ONNX Runtime "
                                    f"{b['ort']:.5f}: |diff| {abs(b['kiln'] - b['ort']):.5f} "
                                    f"> {tol}")
                if abs(b["kiln"] - b["readme"]) > tol + README_ROUNDING:
                    failures.append(f"{tag}: bits per byte {b['kiln']:.5f}, README figure "
                                    f"{b['readme']}: |diff| "
                                    f"{abs(b['kiln'] - b['readme']):.5f} > {tol}")
    return failures, not_run


def fmt_div(first):
    return ", ".join("-" if d is None else str(d) for d in first)


def markdown_tables(results, precisions):
    lines = []
    cfg = results["config"]
    lines.append("Prompts (offset:length): "
                 + ", ".join(f"{o}:{n}" for o, n in cfg["prompts"])
                 + f"; {cfg['max_new_tokens']} new tokens; reference: ONNX Runtime "
                 f"{results.get('onnxruntime', '?')} ({results.get('ort_provider', '?')}), "
                 "greedy full recompute\n")
    lines.append("| model | precision | tokens identical to reference | prompts identical | "
                 "first divergence per prompt | teacher-forced agreement |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for name, m in results["models"].items():
        for p in precisions:
            r = m.get("precisions", {}).get(p, {})
            v, t = r.get("vs_reference"), r.get("teacher_forced")
            if v is None:
                lines.append(f"| {name} | {p} | not run | | | |")
                continue
            lines.append(f"| {name} | {p} | {v['identical']}/{v['total']} "
                         f"({100 * v['fraction']:.2f}%) | {v['prompts_identical']}/"
                         f"{v['prompts']} | {fmt_div(v['first_divergence'])} | "
                         + (f"{100 * t['fraction']:.2f}%" if t else "-") + " |")
    lines.append("")
    lines.append("| model | precision | Kiln bits/byte | ONNX Runtime fp32 (here) | README | "
                 "|Kiln - ORT| | tolerance |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for name, m in results["models"].items():
        for p in precisions:
            b = m.get("precisions", {}).get(p, {}).get("bpb")
            if not b or b.get("kiln") is None:
                lines.append(f"| {name} | {p} | not run | | | | |")
                continue
            ort = b.get("ort")
            lines.append(f"| {name} | {p} | {b['kiln']:.5f} | "
                         + (f"{ort:.5f}" if ort is not None else "-") + f" | {b['readme']} | "
                         + (f"{abs(b['kiln'] - ort):.5f}" if ort is not None else
                            f"{abs(b['kiln'] - b['readme']):.5f} (vs README)")
                         + f" | {BPB_TOLERANCE[p]} |")
    lines.append("")
    big = len(cfg["prompts"]) + len(cfg.get("extra_prompts", []))
    lines.append(f"| model | precision | B={len(cfg['prompts'])} vs B=1 | B={big} vs B=1 | "
                 f"B={len(cfg['prompts'])} decode ms/step (median) |")
    lines.append("| --- | --- | --- | --- | --- |")
    for name, m in results["models"].items():
        for p in precisions:
            r = m.get("precisions", {}).get(p, {})

            def cell(c):
                if c is None:
                    return "not run"
                return (f"{c['identical']}/{c['total']} tokens, {c['prompts_identical']}/"
                        f"{c['prompts']} prompts")
            ms = (r.get("b8") or {}).get("decode_ms_median")
            lines.append(f"| {name} | {p} | {cell(r.get('b8_vs_b1'))} | "
                         f"{cell(r.get('b64_vs_b1'))} | "
                         + (f"{ms:.4f}" if isinstance(ms, (int, float)) else "-") + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Process helpers
# ----------------------------------------------------------------------------------------------

class Budget:
    def __init__(self, seconds):
        self.end = time.time() + seconds if seconds and seconds > 0 else None

    def left(self):
        return float("inf") if self.end is None else self.end - time.time()

    def timeout(self, per_call):
        left = self.left()
        if left <= 1:
            raise DeadlineReached()
        return max(1.0, min(per_call, left))


class DeadlineReached(Exception):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# ONNX Runtime reference
# ----------------------------------------------------------------------------------------------

def ort_providers(choice):
    import onnxruntime as ort
    avail = ort.get_available_providers()
    want_cuda = choice == "cuda" or (choice == "auto" and "CUDAExecutionProvider" in avail)
    if choice == "cuda" and "CUDAExecutionProvider" not in avail:
        raise StepError(f"--ort-provider cuda: onnxruntime {ort.__version__} has only {avail}")
    if want_cuda:
        # fp32 reference: no TF32 in the CUDA EP's GEMMs.
        return [("CUDAExecutionProvider", {"use_tf32": "0"}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OrtModel:
    """One ONNX Runtime session of a [1, seq] input_ids -> [1, seq, vocab] logits graph."""

    def __init__(self, path, providers, threads=0):
        import onnxruntime as ort
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        try:
            self.sess = ort.InferenceSession(path, so, providers=providers)
        except Exception:  # noqa: BLE001  (use_tf32 unknown to this build: plain CUDA EP)
            if providers and isinstance(providers[0], tuple):
                self.sess = ort.InferenceSession(path, so, providers=[providers[0][0]] +
                                                 list(providers[1:]))
            else:
                raise
        self.input = self.sess.get_inputs()[0].name
        self.provider = self.sess.get_providers()[0]

    def logits(self, ids):
        """Logits [seq, vocab] (float32) of one sequence of token ids."""
        import numpy as np
        x = np.asarray(ids, dtype=np.int64)[None, :]
        return self.sess.run(None, {self.input: x})[0][0]


def greedy_reference(model, prompt, max_new):
    """Full recompute: the whole prefix at every step, argmax (first index) of the last row."""
    import numpy as np
    ctx = [int(t) for t in prompt]
    out = []
    for _ in range(max_new):
        t = int(np.argmax(model.logits(ctx)[-1]))
        out.append(t)
        ctx.append(t)
    return out


class ReferenceCache:
    """WORK/ort-reference.json: {"tokens": {key: {...}}, "bpb": {key: {...}}}; saved atomically
    after every entry. Extra read-only caches are consulted first."""

    def __init__(self, path, extra_paths=()):
        self.path = path
        self.lock = threading.Lock()
        self.data = {"tokens": {}, "bpb": {}}
        self.extra = []
        if os.path.exists(path):
            try:
                with open(path) as f:
                    d = json.load(f)
                self.data["tokens"].update(d.get("tokens", {}))
                self.data["bpb"].update(d.get("bpb", {}))
            except (OSError, ValueError) as e:
                print(f"warning: ignoring unreadable reference cache {path}: {e}", flush=True)
        for p in extra_paths:
            with open(p) as f:
                self.extra.append(json.load(f))

    def get(self, kind, key):
        for d in self.extra:
            if key in d.get(kind, {}):
                return d[kind][key]
        with self.lock:
            return self.data[kind].get(key)

    def put(self, kind, key, value):
        with self.lock:
            self.data[kind][key] = value
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)


def token_key(model_sha, offset, length, max_new):
    return f"{model_sha[:16]}/{offset}/{length}/{max_new}"


def reference_tokens(args, name, onnx_path, sha, text, prompts, cache, budget, providers):
    """Reference tokens per prompt (None where the deadline stopped it)."""
    todo = [i for i, (o, n) in enumerate(prompts)
            if cache.get("tokens", token_key(sha, o, n, args.max_new_tokens)) is None]
    cuda = isinstance(providers[0], tuple) or providers[0] == "CUDAExecutionProvider"
    jobs = 1 if cuda else max(1, min(args.ort_jobs, len(todo)))
    threads = 0 if jobs == 1 else max(1, (os.cpu_count() or 1) // jobs)
    if todo:
        print(f"[{name}] ONNX Runtime greedy reference for {len(todo)} prompts "
              f"({jobs} at a time, {threads or 'default'} threads each)", flush=True)

    def one(i):
        o, n = prompts[i]
        if budget.left() < 5:
            return None
        t0 = time.time()
        model = OrtModel(onnx_path, providers, threads)
        toks = greedy_reference(model, text[o:o + n], args.max_new_tokens)
        secs = time.time() - t0
        cache.put("tokens", token_key(sha, o, n, args.max_new_tokens),
                  {"tokens": toks, "provider": model.provider, "seconds": round(secs, 1)})
        print(f"[{name}] reference prompt {i} (offset {o}, length {n}): "
              f"{args.max_new_tokens} tokens in {secs:.1f} s", flush=True)
        return toks

    # Longest prompts first: they dominate the time.
    order = sorted(todo, key=lambda i: -prompts[i][1])
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, order))
    out = []
    for o, n in prompts:
        e = cache.get("tokens", token_key(sha, o, n, args.max_new_tokens))
        out.append(e["tokens"] if e else None)
    return out


def reference_bpb(args, name, onnx_path, sha, text, cache, providers):
    key = f"{sha[:16]}/{args.window}/{args.windows}"
    e = cache.get("bpb", key)
    if e:
        return e["bits_per_byte"]
    t0 = time.time()
    model = OrtModel(onnx_path, providers)
    bits = 0.0
    for s, t in eval_windows(len(text), args.window, args.windows):
        bits += window_bits(model.logits(text[s:t]), text[s + 1:t + 1])
    bpb = bits / (args.window * args.windows)
    cache.put("bpb", key, {"bits_per_byte": bpb, "provider": model.provider,
                           "seconds": round(time.time() - t0, 1)})
    print(f"[{name}] ONNX Runtime bits per byte {bpb:.5f} ({time.time() - t0:.1f} s)",
          flush=True)
    return bpb


def teacher_forced(onnx_path, providers, text, prompts, got):
    """Per prompt: ORT logits rows predicting Kiln's tokens (one forward over prompt + Kiln's
    tokens but the last) -> (rows [max_new, vocab], argmax list)."""
    model = OrtModel(onnx_path, providers)
    rows, argmax = [], []
    for (o, n), toks in zip(prompts, got):
        ctx = list(text[o:o + n]) + toks[:-1]
        lg = model.logits(ctx)[n - 1:]
        rows.append(lg)
        argmax.append([int(x) for x in lg.argmax(axis=-1)])
    return rows, argmax


# ----------------------------------------------------------------------------------------------
# Kiln
# ----------------------------------------------------------------------------------------------

def compile_artifact(args, name, onnx_path, precision, budget):
    """kiln-compile, reused when up to date. Returns (artifact path, info dict)."""
    artifact = os.path.join(args.work, f"{name}.{precision}.kiln")
    stamp = artifact + ".cmd"
    base = [args.kiln_compile, onnx_path, f"--precision={precision}"]
    tail = list(args.compile_flag) + ["-o", artifact]
    tries = [base + ["--max-seq-len", str(args.max_seq_len)] + tail,
             base + ["--dim-max", f"seq={args.max_seq_len}"] + tail]
    if not args.recompile and os.path.exists(artifact) and os.path.exists(stamp):
        newest_input = max(os.path.getmtime(onnx_path), os.path.getmtime(args.kiln_compile))
        with open(stamp) as f:
            previous = f.read()
        if os.path.getmtime(artifact) > newest_input and previous in (
                json.dumps(t) for t in tries):
            return artifact, {"reused": True, "command": json.loads(previous)}
    errors = []
    for i, cmd in enumerate(tries):
        t0 = time.time()
        try:
            run_tool(cmd, budget.timeout(args.compile_timeout), f"kiln-compile {name} "
                     f"{precision}")
        except StepError as e:
            errors.append(str(e))
            # Only an unknown --max-seq-len earns the --dim-max retry.
            if i == 0 and "max-seq-len" in str(e).split("\n", 1)[-1]:
                print("  (kiln-compile refused --max-seq-len; retrying with --dim-max)",
                      flush=True)
                continue
            raise StepError("\n".join(errors)) from None
        with open(stamp, "w") as f:
            f.write(json.dumps(cmd))
        return artifact, {"reused": False, "command": cmd,
                          "seconds": round(time.time() - t0, 1)}
    raise StepError("\n".join(errors))


def kiln_generate(args, artifact, prompts, out_json, budget, extra=(), echo=True):
    cmd = [args.kiln_run, artifact, "--generate", "--prompts-from", args.text_path,
           "--prompt-offsets", ",".join(str(o) for o, _ in prompts),
           "--prompt-lengths", ",".join(str(n) for _, n in prompts),
           "--max-new-tokens", str(args.max_new_tokens), "--output-json", out_json,
           "--quiet"] + list(extra) + list(args.run_flag)
    if os.path.exists(out_json):
        os.remove(out_json)
    run_tool(cmd, budget.timeout(args.timeout), f"kiln-run --generate ({len(prompts)} prompts)",
             echo)
    obj = read_json(out_json, "kiln-run --generate")
    toks, notes = parse_generate_json(obj, prompts, args.max_new_tokens)
    dm = obj.get("decode_ms_per_step") if isinstance(obj, dict) else None
    info = {"prefill_ms": obj.get("prefill_ms"),
            "decode_ms_median": dm.get("median") if isinstance(dm, dict) else dm,
            "notes": notes}
    return toks, info


def kiln_b1(args, artifact, prompts, tag, budget):
    """One kiln-run per prompt, --b1-jobs processes at a time. Returns token lists."""
    extra = [] if args.no_b1_max_batch else ["--max-batch", "1"]

    def one(i):
        out = os.path.join(args.work, f"{tag}.b1.{i}.json")
        toks, _ = kiln_generate(args, artifact, [prompts[i]], out, budget, extra,
                                echo=(i == 0))
        return toks[0]

    print(f"  B=1: one kiln-run per prompt for {len(prompts)} prompts, {args.b1_jobs} at a "
          "time; the first:", flush=True)
    with concurrent.futures.ThreadPoolExecutor(max(1, args.b1_jobs)) as pool:
        return list(pool.map(one, range(len(prompts))))


def kiln_bpb(args, artifact, out_json, budget):
    cmd = [args.kiln_run, artifact, "--eval-text", args.text_path, "--window", str(args.window),
           "--windows", str(args.windows), "--output-json", out_json] + list(args.run_flag)
    if os.path.exists(out_json):
        os.remove(out_json)
    out = run_tool(cmd, budget.timeout(args.timeout), "kiln-run --eval-text")
    obj = read_json(out_json, "kiln-run --eval-text")
    bpb = find_bits_per_byte(obj)
    if bpb is None:   # fall back to the printed figure
        m = re.search(r"bits[ _/-]*per[ _-]*byte\D{0,20}([0-9]+\.[0-9]+)",
                      out.stdout + out.stderr, re.IGNORECASE)
        if not m:
            raise StepError("kiln-run --eval-text: no bits per byte in its JSON (keys: "
                            f"{sorted(obj) if isinstance(obj, dict) else type(obj).__name__}) "
                            "or output")
        bpb = float(m.group(1))
    for key, want in (("windows", args.windows), ("predictions", args.windows * args.window)):
        if isinstance(obj, dict) and isinstance(obj.get(key), int) and obj[key] != want:
            raise StepError(f"kiln-run --eval-text reports {key} = {obj[key]}, expected {want}")
    return bpb


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def check_model(args, name, text, main, extra, cache, budget, providers, results):
    onnx_path = os.path.join(args.models, f"{name}.onnx")
    entry = results["models"].setdefault(name, {"errors": [], "precisions": {}})
    if not os.path.exists(onnx_path):
        entry["errors"].append(f"missing {onnx_path}")
        return
    sha = sha256_file(onnx_path)
    entry["onnx_sha256"] = sha
    skip = args.skip

    # Kiln artifacts first (compiles are independent: in parallel).
    artifacts = {}
    with concurrent.futures.ThreadPoolExecutor(len(args.precisions)) as pool:
        futs = {p: pool.submit(compile_artifact, args, name, onnx_path, p, budget)
                for p in args.precisions}
        for p, fut in futs.items():
            r = entry["precisions"].setdefault(p, {"errors": []})
            try:
                artifacts[p], r["compile"] = fut.result()
            except StepError as e:
                r["errors"].append(str(e))
            except DeadlineReached:
                results["incomplete"].append(f"{name} {p}: compile (deadline)")

    # ONNX Runtime reference (cached).
    ref = None
    if providers is not None and "reference" not in skip:
        try:
            ref = reference_tokens(args, name, onnx_path, sha, text, main, cache, budget,
                                   providers)
            if any(t is None for t in ref):
                results["incomplete"].append(f"{name}: reference for "
                                             f"{sum(t is None for t in ref)} prompts "
                                             "(deadline; rerun to continue)")
                ref = None
        except Exception as e:  # noqa: BLE001  (ORT errors: show, go on with the rest)
            entry["errors"].append(f"ONNX Runtime reference: {type(e).__name__}: {e}")
    ort_bpb = None
    if providers is not None and "bpb" not in skip:
        try:
            ort_bpb = reference_bpb(args, name, onnx_path, sha, text, cache, providers)
            entry["ort_bits_per_byte"] = ort_bpb
            if abs(ort_bpb - MODELS[name]) > 2 * README_ROUNDING:
                print(f"warning: [{name}] ONNX Runtime here gives {ort_bpb:.5f} bits/byte, the "
                      f"README {MODELS[name]}", flush=True)
        except Exception as e:  # noqa: BLE001
            entry["errors"].append(f"ONNX Runtime bits per byte: {type(e).__name__}: {e}")

    big = main + extra
    for p in args.precisions:
        r = entry["precisions"][p]
        if p not in artifacts:
            continue
        art = artifacts[p]
        tag = f"{name}.{p}"
        try:
            t0 = time.time()
            toks, info = kiln_generate(args, art, main,
                                       os.path.join(args.work, f"{tag}.b8.json"), budget)
            r["b8"] = dict(info, tokens=toks, seconds=round(time.time() - t0, 1))
            if ref is not None:
                r["vs_reference"] = compare_sequences(ref, toks)
                tf_rows = None
                if "teacher" not in skip:
                    tf_rows, tf_arg = teacher_forced(onnx_path, providers, text, main, toks)
                    r["teacher_forced"] = teacher_forced_agreement(toks, tf_arg)
                r["divergences"] = divergence_details(main, ref, toks, tf_rows)
        except StepError as e:
            r["errors"].append(str(e))
        except DeadlineReached:
            results["incomplete"].append(f"{name} {p}: B=8 (deadline)")
            continue
        except Exception as e:  # noqa: BLE001
            r["errors"].append(f"reference comparison: {type(e).__name__}: {e}")

        if "bpb" not in skip:
            try:
                kb = kiln_bpb(args, art, os.path.join(args.work, f"{tag}.bpb.json"), budget)
                r["bpb"] = {"kiln": kb, "ort": ort_bpb, "readme": MODELS[name],
                            "tolerance": BPB_TOLERANCE[p]}
            except StepError as e:
                r["errors"].append(str(e))
            except DeadlineReached:
                results["incomplete"].append(f"{name} {p}: bits per byte (deadline)")

        if "b1" in skip:
            continue
        b1_prompts = main if "b64" in skip else big[:max(len(main), args.b1_count)]
        try:
            t0 = time.time()
            b1 = kiln_b1(args, art, b1_prompts, tag, budget)
            r["b1_seconds"] = round(time.time() - t0, 1)
            r["b1_runs"] = len(b1)
            if "b8" in r:
                r["b8_vs_b1"] = compare_sequences(b1[:len(main)], r["b8"]["tokens"])
        except StepError as e:
            r["errors"].append(str(e))
            continue
        except DeadlineReached:
            results["incomplete"].append(f"{name} {p}: B=1 runs (deadline)")
            continue
        if "b64" in skip:
            continue
        try:
            t0 = time.time()
            toks, info = kiln_generate(args, art, big,
                                       os.path.join(args.work, f"{tag}.b{len(big)}.json"),
                                       budget)
            r["b64"] = {k: v for k, v in info.items()}
            r["b64"]["seconds"] = round(time.time() - t0, 1)
            n = len(b1)
            r["b64_vs_b1"] = compare_sequences(b1, toks[:n])
            r["b64_vs_b1"]["compared_prompts"] = n
            r["b64_vs_b1"]["batch"] = len(big)
        except StepError as e:
            r["errors"].append(str(e))
        except DeadlineReached:
            results["incomplete"].append(f"{name} {p}: B={args.batch} (deadline)")


def self_test():
    import numpy as np
    ok = 0

    def check(cond, what):
        nonlocal ok
        if not cond:
            raise AssertionError(what)
        ok += 1

    main = main_prompts(200000, 128, 2048)
    check([n for _, n in main] == MAIN_LENGTHS, "main lengths")
    check(all(o + n <= 200000 and n + 128 <= 2048 for o, n in main), "main fit")
    check(max(n for _, n in main) + 128 == 2048, "reaches the 2048 context")
    small = main_prompts(5000, 16, 64)
    check(all(n <= 48 and o + n <= 5000 for o, n in small), "capped prompts")
    ex = extra_prompts(56, 200000, 128, 2048)
    lens = [n for _, n in ex]
    check(len(ex) == 56 and min(lens) == 1 and max(lens) == 1920, f"extra lengths {lens}")
    check(all(0 <= o and o + n <= 200000 for o, n in ex), "extra fit")
    check(len(set(lens)) > 40, "extra lengths mostly distinct")
    check(lens != sorted(lens), "extra lengths mixed")
    check(ex == extra_prompts(56, 200000, 128, 2048), "deterministic")
    check(len(extra_prompts(5, 300, 8, 40)) == 5, "other counts")

    c = compare_sequences([[1, 2, 3], [4, 5, 6]], [[1, 2, 3], [4, 0, 6]])
    check(c["identical"] == 5 and c["total"] == 6 and c["prompts_identical"] == 1
          and c["first_divergence"] == [None, 1], f"compare {c}")
    c = compare_sequences([[1, 2, 3]], [[1, 2]])
    check(c["first_divergence"] == [2] and c["identical"] == 2, "length difference")

    # Bits per byte: uniform logits = 8 bits; a one-hot-ish row is ~0 bits for its target.
    check(abs(window_bits(np.zeros((4, 256), np.float32), [0, 1, 2, 3]) - 32.0) < 1e-9,
          "uniform = 8 bits/byte")
    lg = np.full((2, 256), -100.0, np.float32)
    lg[0, 7] = lg[1, 9] = 100.0
    check(window_bits(lg, [7, 9]) < 1e-6, "certain prediction = 0 bits")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 256)).astype(np.float32) * 10
    p = np.exp(x.astype(np.float64) - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    t = rng.integers(0, 256, 5)
    check(abs(window_bits(x, t) + np.log2(p[np.arange(5), t]).sum()) < 1e-9, "log-softmax")
    check(eval_windows(200000, 512, 64)[-1] == (63 * 512, 64 * 512), "windows")
    try:
        eval_windows(512 * 64, 512, 64)
        check(False, "short text accepted")
    except ValueError:
        ok += 1

    check(find_bits_per_byte({"bits_per_byte": 1.45, "perplexity": 2.7}) == 1.45, "bpb key")
    check(find_bits_per_byte({"eval": {"bpb": 1.3}}) == 1.3, "nested bpb")
    check(find_bits_per_byte({"perplexity": 2.7}) is None, "no bpb")

    prompts = [(0, 3), (10, 2)]
    toks, notes = parse_generate_json({"sequences": [{"prompt_length": 3, "tokens": [1, 2]},
                                                     {"prompt_length": 2, "tokens": [3, 4]}]},
                                      prompts, 2)
    check(toks == [[1, 2], [3, 4]] and not notes, "parse")
    toks, notes = parse_generate_json({"sequences": [{"tokens": [9, 9, 9, 1, 2]},
                                                     {"tokens": [8, 8, 3, 4]}]}, prompts, 2)
    check(toks == [[1, 2], [3, 4]] and len(notes) == 2, "parse with prompt")
    for bad in ({"x": 1}, {"sequences": [{"tokens": [1, 2]}]},
                {"sequences": [{"prompt_length": 2, "tokens": [1, 2]},
                               {"prompt_length": 2, "tokens": [3, 4]}]},
                {"sequences": [{"tokens": [1]}, {"tokens": [3, 4]}]}):
        try:
            parse_generate_json(bad, prompts, 2)
            check(False, f"accepted {bad}")
        except StepError:
            ok += 1

    rows = [np.zeros((3, 256)), None]
    rows[0][1, 5], rows[0][1, 6] = 2.0, 1.5
    d = divergence_details([(0, 4), (9, 4)], [[1, 5, 2], [1, 1, 1]], [[1, 6, 2], [1, 1, 2]],
                           rows)
    check(len(d) == 2 and d[0]["index"] == 1 and abs(d[0]["gap"] - 0.5) < 1e-12
          and d[1]["index"] == 2 and "gap" not in d[1], f"divergences {d}")
    tfa = teacher_forced_agreement([[1, 2], [3, 4]], [[1, 2], [3, 0]])
    check(tfa["agree"] == 3 and tfa["total"] == 4, "teacher forced")

    def fake(frac16, bpb32, b64_same=True):
        def prec(fraction, kbpb, p):
            tot = 1024
            ident = int(round(fraction * tot))
            return {"errors": [],
                    "vs_reference": {"identical": ident, "total": tot, "fraction": ident / tot,
                                     "prompts_identical": 8 if ident == tot else 7,
                                     "prompts": 8, "first_divergence": [None] * 8},
                    "b8_vs_b1": compare_sequences([[1]], [[1]]),
                    "b64_vs_b1": compare_sequences([[1]], [[1] if b64_same else [2]]),
                    "bpb": {"kiln": kbpb, "ort": 1.45041, "readme": 1.4504,
                            "tolerance": BPB_TOLERANCE[p]}}
        return {"config": {"prompts": main, "extra_prompts": ex, "max_new_tokens": 128},
                "models": {"bytelm_llama": {"errors": [], "precisions": {
                    "fp32": prec(1.0, bpb32, "fp32"), "fp16": prec(frac16, 1.455, "fp16"),
                    "bf16": prec(0.5, 1.456, "bf16")}}}}
    f, n = evaluate(fake(0.96, 1.4510), ["fp32", "fp16", "bf16"])
    check(not f and not n, f"all pass: {f} {n}")
    f, _ = evaluate(fake(0.94, 1.4510), ["fp32", "fp16", "bf16"])
    check(len(f) == 1 and "fp16" in f[0], f"fp16 < 95%: {f}")
    f, _ = evaluate(fake(0.96, 1.4530), ["fp32", "fp16", "bf16"])
    check(len(f) == 2 and all("bits per byte" in x for x in f), f"bpb: {f}")
    f, _ = evaluate(fake(0.96, 1.4510, b64_same=False), ["fp32", "fp16", "bf16"])
    check(len(f) == 3 and all("B=64" in x for x in f), f"b64: {f}")
    res = fake(0.96, 1.4510)
    res["models"]["bytelm_llama"]["precisions"]["fp32"]["vs_reference"]["fraction"] = 1023 / 1024
    f, _ = evaluate(res, ["fp32"])
    check(len(f) == 1 and "fp32" in f[0], "fp32 needs 100%")
    res = fake(0.96, 1.4510)
    del res["models"]["bytelm_llama"]["precisions"]["fp16"]["vs_reference"]
    f, n = evaluate(res, ["fp16"])
    check(not f and len(n) == 1, "not run is not a failure")
    table = markdown_tables(fake(0.96, 1.4510), ["fp32", "fp16", "bf16"])
    check(table.count("| bytelm_llama |") == 9, "tables")
    print(f"self-test: {ok} checks passed")
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See docs/Generation.md.")
    p.add_argument("--self-test", action="store_true", help="check the pure parts and exit")
    p.add_argument("--kiln-compile")
    p.add_argument("--kiln-run")
    p.add_argument("--models", help="folder with bytelm_*.onnx and eval_text.bin")
    p.add_argument("--work", help="artifacts, kiln-run JSON files, the ORT reference cache")
    p.add_argument("--out", default=".", help="where generation-check.json goes")
    p.add_argument("--precisions", default="fp32,fp16,bf16")
    p.add_argument("--only", default=",".join(MODELS), help="models, comma-separated")
    p.add_argument("--skip", default="", help="comma-separated: " + ", ".join(SKIPPABLE))
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--max-seq-len", type=int, default=2048)
    p.add_argument("--prompt-lengths", default="",
                   help="override the 8 main lengths (comma-separated; capped to the context)")
    p.add_argument("--batch", type=int, default=64, help="size of the big mixed batch")
    p.add_argument("--b1-count", type=int, default=64,
                   help="how many prompts of the big batch get a B=1 run to compare with")
    p.add_argument("--b1-jobs", type=int, default=8, help="concurrent B=1 kiln-run processes")
    p.add_argument("--no-b1-max-batch", action="store_true",
                   help="do not pass --max-batch 1 to the B=1 runs")
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--windows", type=int, default=64)
    p.add_argument("--ort-provider", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--ort-jobs", type=int, default=4,
                   help="prompts referenced concurrently on the CPU EP")
    p.add_argument("--reference-json", action="append", default=[],
                   help="an extra, read-only ort-reference.json (repeatable)")
    p.add_argument("--compile-flag", action="append", default=[],
                   help="extra kiln-compile argument (repeatable), e.g. --compile-flag=--x=1")
    p.add_argument("--run-flag", action="append", default=[],
                   help="extra kiln-run argument for every run (repeatable)")
    p.add_argument("--recompile", action="store_true")
    p.add_argument("--timeout", type=float, default=300, help="seconds per kiln-run")
    p.add_argument("--compile-timeout", type=float, default=600, help="seconds per compile")
    p.add_argument("--deadline", type=float, default=0,
                   help="stop starting work after this many seconds (0: none); a cut-off run "
                   "exits 3 and the next run reuses the cached artifacts and references")
    p.add_argument("--fp16-min", type=float, default=GREEDY_MIN_FRACTION["fp16"])
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (prompts, commands) and exit")
    args = p.parse_args(argv)
    if args.self_test:
        return args
    missing = [f"--{k.replace('_', '-')}" for k in ("kiln_compile", "kiln_run", "models", "work")
               if not getattr(args, k)]
    if missing:
        p.error("missing " + ", ".join(missing))
    args.precisions = [x for x in args.precisions.split(",") if x]
    bad = [x for x in args.precisions if x not in BPB_TOLERANCE]
    if bad:
        p.error(f"unknown precision {bad}; use fp32, fp16, bf16")
    args.only = [x for x in args.only.split(",") if x]
    bad = [x for x in args.only if x not in MODELS]
    if bad:
        p.error(f"unknown model {bad}; known: {', '.join(MODELS)}")
    args.skip = {x for x in args.skip.split(",") if x}
    bad = args.skip - set(SKIPPABLE)
    if bad:
        p.error(f"unknown --skip {sorted(bad)}; known: {', '.join(SKIPPABLE)}")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        return self_test()
    for tool in ("kiln_compile", "kiln_run"):
        path = getattr(args, tool)
        if not args.dry_run and not (os.path.isfile(path) and os.access(path, os.X_OK)):
            print(f"error: --{tool.replace('_', '-')} {path} is not an executable file",
                  file=sys.stderr)
            return 2
    args.text_path = os.path.join(args.models, "eval_text.bin")
    if not os.path.exists(args.text_path):
        print(f"error: {args.text_path} not found", file=sys.stderr)
        return 2
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    with open(args.text_path, "rb") as f:
        text = list(f.read())
    lengths = [int(x) for x in args.prompt_lengths.split(",") if x] or None
    main_p = main_prompts(len(text), args.max_new_tokens, args.max_seq_len, lengths)
    extra_p = extra_prompts(max(0, args.batch - len(main_p)), len(text), args.max_new_tokens,
                            args.max_seq_len)
    t_start = time.time()
    results = {"config": {"prompts": main_p, "extra_prompts": extra_p,
                          "max_new_tokens": args.max_new_tokens,
                          "max_seq_len": args.max_seq_len, "precisions": args.precisions,
                          "skip": sorted(args.skip), "b1_count": args.b1_count,
                          "window": args.window, "windows": args.windows,
                          "bpb_tolerance": BPB_TOLERANCE, "fp16_min": args.fp16_min},
               "models": {}, "incomplete": []}

    if args.dry_run:
        print("main prompts (offset, length):", main_p)
        print(f"extra prompts for B={len(main_p) + len(extra_p)}:", extra_p)
        for name in args.only:
            for p in args.precisions:
                art = os.path.join(args.work, f"{name}.{p}.kiln")
                print("+", args.kiln_compile, os.path.join(args.models, f"{name}.onnx"),
                      f"--precision={p}", "--max-seq-len", str(args.max_seq_len), "-o", art)
                print("+", args.kiln_run, art, "--generate --prompts-from", args.text_path,
                      "--prompt-offsets", ",".join(str(o) for o, _ in main_p),
                      "--prompt-lengths", ",".join(str(n) for _, n in main_p),
                      "--max-new-tokens", args.max_new_tokens, "--output-json ... --quiet")
                print("+", args.kiln_run, art, "--eval-text", args.text_path, "--window",
                      args.window, "--windows", args.windows, "--output-json ...")
        return 0

    import numpy as np
    text = np.asarray(text, dtype=np.int64)
    budget = Budget(args.deadline)
    providers = None
    if "reference" not in args.skip or "bpb" not in args.skip:
        try:
            import onnxruntime
            providers = ort_providers(args.ort_provider)
            results["onnxruntime"] = onnxruntime.__version__
            results["ort_provider"] = (providers[0][0] if isinstance(providers[0], tuple)
                                       else providers[0])
        except ImportError:
            results["incomplete"].append("onnxruntime is not installed: no reference checks")
        except StepError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    cache = ReferenceCache(os.path.join(args.work, "ort-reference.json"), args.reference_json)

    for name in args.only:
        print(f"\n== {name} ==", flush=True)
        t0 = time.time()
        check_model(args, name, text, main_p, extra_p, cache, budget, providers, results)
        results["models"][name]["seconds"] = round(time.time() - t0, 1)
    results["seconds"] = round(time.time() - t_start, 1)

    failures, not_run = evaluate(results, args.precisions, args.fp16_min, args.skip)
    results["failures"], results["not_run"] = failures, not_run
    os.makedirs(args.out, exist_ok=True)
    out_path = os.path.join(args.out, "generation-check.json")
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
    print()
    print(markdown_tables(results, args.precisions))
    divs = [(n, p, d) for n, m in results["models"].items()
            for p, r in m.get("precisions", {}).items() for d in r.get("divergences", [])]
    if divs:
        print("\nFirst divergences from the reference (gap = reference logit of its token "
              "minus that of Kiln's token, same context):")
        for n, p, d in divs:
            gap = f", gap {d['gap']:.4f}" if "gap" in d else ""
            print(f"  {n} {p} prompt {d['prompt']} (length {d['prompt_length']}): token "
                  f"{d['index']}: reference {d['reference']}, Kiln {d['kiln']}{gap}")
    print(f"\nwrote {out_path} ({results['seconds']} s)")
    if results["incomplete"] or not_run:
        print("\nNOT RUN:")
        for x in results["incomplete"] + not_run:
            print("  " + x.split("\n")[0])
    if failures:
        print("\nFAILED:")
        for x in failures:
            print("  " + x.replace("\n", "\n    "))
        return 1
    if results["incomplete"] or not_run:
        return 3
    print("\nall checks passed" + (f" (skipped: {', '.join(sorted(args.skip))})"
                                   if args.skip else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
