#!/usr/bin/python3
"""Bits per byte of a byte-level model, computed independently of `kiln-run --eval-text`.

Runs the model with plain kiln-run (--input ids.npy --output-dir) on each window, then computes
mean -log2 softmax(logits[i])[next byte] with NumPy in float64; window w feeds bytes
[wW, wW + W) and predicts [wW + 1, wW + W]. Compares with the JSON of --eval-text (exit 1 beyond
1e-9) and prints both.

Usage: bits-per-byte.py KILN_RUN MODEL TEXT WINDOW WINDOWS EVAL.json WORKDIR
"""

import json
import os
import subprocess
import sys

import numpy as np

kiln_run, model, text, window, windows, eval_json, work = sys.argv[1:8]
window, windows = int(window), int(windows)
data = np.frombuffer(open(text, "rb").read(), np.uint8).astype(np.int64)
nll_bits = []
for w in range(windows):
    ids = os.path.join(work, f"window{w}.npy")
    out = os.path.join(work, f"window{w}")
    np.save(ids, data[w * window:(w + 1) * window][None])
    subprocess.run([kiln_run, model, "--input", ids, "--output-dir", out], check=True,
                   stdout=subprocess.DEVNULL)
    logits = np.load(os.path.join(out, "logits.npy"))[0].astype(np.float64)
    targets = data[w * window + 1:(w + 1) * window + 1]
    m = logits.max(axis=1, keepdims=True)
    log_softmax = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    nll_bits.extend(-log_softmax[np.arange(window), targets] / np.log(2))
independent = float(np.mean(nll_bits))
reported = json.load(open(eval_json))
print(f"independent: {independent:.6f} bits/byte over {len(nll_bits)} predictions; "
      f"--eval-text: {reported['bits_per_byte']:.6f} over {reported['predictions']}")
if abs(independent - reported["bits_per_byte"]) > 1e-9 or len(nll_bits) != reported["predictions"]:
    sys.exit("MISMATCH")
print("OK")
