#!/usr/bin/python3
"""Drives test/Executor/kv-cache.mlir: runs its functions with kiln-run and checks the results.

Usage: kv-cache-check.py KILN_RUN MODULE.mlir WORKDIR. Prints one line per check (FileCheck
reads them) and exits non-zero on a mismatch. Also leaves the .npy inputs of the error cases in
WORKDIR.
"""

import os
import subprocess
import sys

import numpy as np

HEADS, KV_HEADS, HEAD_DIM, LAYERS, SLOTS, MAX_SEQ = 4, 2, 8, 2, 3, 8
SCALE = np.float32(0.35355339)
kiln_run, module, work = sys.argv[1:4]
rng = np.random.default_rng(7)


def save(name, array):
    path = os.path.join(work, name + ".npy")
    np.save(path, array)
    return path


def run(entry, *arrays, out):
    paths = [save(f"{out}_in{i}", a) for i, a in enumerate(arrays)]
    out_dir = os.path.join(work, out)
    result = subprocess.run([kiln_run, module, "--entry", entry, *paths, "--output-dir", out_dir],
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"kiln-run --entry {entry} failed:\n{result.stdout}{result.stderr}")
    return {name[:-4]: np.load(os.path.join(out_dir, name)) for name in os.listdir(out_dir)}


def noise(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


# Prefill through the cache vs kiln.attention causal.
q, k, v = noise(1, HEADS, 5, HEAD_DIM), noise(1, KV_HEADS, 5, HEAD_DIM), noise(1, KV_HEADS, 5, HEAD_DIM)
out = run("prefill_vs_attention", q, k, v, out="prefill")
print("prefill_vs_attention: max abs diff", float(np.abs(out["cached"] - out["reference"]).max()))

# Three sequences: (slot, full length); the first two are prefilled with all but their last token.
seqs = [(2, 6), (0, 4), (1, 1)]
data = [(noise(1, HEADS, n, HEAD_DIM), noise(1, KV_HEADS, n, HEAD_DIM),
         noise(1, KV_HEADS, n, HEAD_DIM)) for _, n in seqs]
cache = np.zeros((SLOTS, LAYERS, 2, KV_HEADS, MAX_SEQ, HEAD_DIM), np.float32)
for i in (0, 1):
    slot, n = seqs[i]
    sq, sk, sv = (a[:, :, : n - 1] for a in data[i])
    out = run("step", sq, sk, sv, np.arange(n - 1, dtype=np.int64),
              np.full(n - 1, slot, np.int64), cache, out=f"prefill{i}")
    cache = out["cache"]
# The decode step: the last token of every sequence, packed.
packed = [np.concatenate([d[j][:, :, -1:] for d in data], axis=2) for j in range(3)]
positions = np.array([n - 1 for _, n in seqs], np.int64)
slots = np.array([s for s, _ in seqs], np.int64)
out = run("step", *packed, positions, slots, cache, out="decode")
step_out, cache = out["out"], out["cache"]

expected_cache = np.zeros_like(cache)
for (slot, n), (_, sk, sv) in zip(seqs, data):
    expected_cache[slot, 1, 0, :, :n] = sk[0]
    expected_cache[slot, 1, 1, :, :n] = sv[0]
check(np.array_equal(cache, expected_cache), "the returned cache differs from the writes")
print("step: cache written at slots/positions (2, 0..4), (0, 0..2), then (2, 5), (0, 3), (1, 0); "
      "zero elsewhere: OK")

for t, ((slot, n), (sq, sk, sv)) in enumerate(zip(seqs, data)):
    reference = run("causal", sq, sk, sv, out=f"causal{t}")["out"][:, :, -1]
    diff = float(np.abs(step_out[:, :, t] - reference).max())
    print(f"step: token {t} (slot {slot}, position {n - 1}) vs @causal last row: max abs diff {diff}")

# An independent NumPy reference (float64).
for t, ((slot, n), (sq, sk, sv)) in enumerate(zip(seqs, data)):
    for h in range(HEADS):
        g = h // (HEADS // KV_HEADS)
        scores = SCALE * (sk[0, g].astype(np.float64) @ sq[0, h, -1].astype(np.float64))
        p = np.exp(scores - scores.max())
        p /= p.sum()
        expected = p @ sv[0, g].astype(np.float64)
        check(np.allclose(step_out[0, h, t], expected, rtol=1e-5, atol=1e-6),
              f"token {t} head {h}: {step_out[0, h, t]} vs {expected}")
print("step: vs numpy: OK")

# Inputs of the error cases.
save("q1", noise(1, HEADS, 1, HEAD_DIM))
save("k1", noise(1, KV_HEADS, 1, HEAD_DIM))
save("v1", noise(1, KV_HEADS, 1, HEAD_DIM))
save("pos1", np.array([0], np.int64))
save("slots1", np.array([0], np.int64))
save("pos_bad", np.array([MAX_SEQ], np.int64))
save("slots_bad", np.array([SLOTS], np.int64))
save("q2", noise(1, HEADS, 2, HEAD_DIM))
save("pos_gap", np.array([0, 2], np.int64))
save("slots2", np.array([0, 0], np.int64))
save("cache0", np.zeros((SLOTS, LAYERS, 2, KV_HEADS, MAX_SEQ, HEAD_DIM), np.float32))
save("cache_big", np.zeros((SLOTS + 1, LAYERS, 2, KV_HEADS, MAX_SEQ, HEAD_DIM), np.float32))
