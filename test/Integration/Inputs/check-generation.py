#!/usr/bin/env python3
"""Checks kiln-run --generate on a GPU against the same artifact's full forward pass.

For prompts taken from a text file, it generates greedily with the KV cache (prefill + decode
entries) and then runs the artifact's default entry (`main`, no cache) once per sequence on
prompt + generated tokens: with greedy decoding, generated token i must be the arg-max of the
full forward's logits at position (prompt length + i - 1). This is teacher forcing: every token
is checked against a full recompute of its own prefix, in one forward pass.

  --batch-check: also generates each prompt alone (B = 1) and requires the batched tokens to be
  identical to them.
  --min-agreement F: the fraction of tokens that must agree (1.0 by default). Disagreements are
  printed with the full forward's top-2 logit gap, so near-ties are visible.

Exit status 0 when every check passes; the failures are printed otherwise.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("check-generation: command failed (%d): %s\n%s%s" %
                 (result.returncode, " ".join(cmd), result.stdout, result.stderr))
    return result


def generate(args, offsets, lengths, workdir, tag):
    out = os.path.join(workdir, tag + ".json")
    cmd = args.sanitize + [args.kiln_run, args.artifact, "--generate", "--prompts-from",
                           args.text, "--prompt-offsets", ",".join(map(str, offsets)),
                           "--prompt-lengths", ",".join(map(str, lengths)),
                           "--max-new-tokens", str(args.max_new_tokens), "--output-json", out,
                           "--quiet"]
    run(cmd)
    with open(out) as f:
        result = json.load(f)
    sequences = result["sequences"]
    if len(sequences) != len(offsets):
        sys.exit("check-generation: %d prompts but %d sequences in %s" %
                 (len(offsets), len(sequences), out))
    return [list(map(int, s["tokens"])) for s in sequences]


def full_forward(args, ids, workdir):
    path = os.path.join(workdir, "ids.npy")
    np.save(path, np.array([ids], dtype=np.int64))
    outdir = os.path.join(workdir, "forward")
    run([args.kiln_run, args.artifact, "--input", "input_ids=" + path, "--output-dir", outdir])
    return np.load(os.path.join(outdir, "logits.npy"))[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kiln-run", required=True)
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--text", required=True, help="file the prompts are taken from")
    parser.add_argument("--prompt-offsets", required=True)
    parser.add_argument("--prompt-lengths", required=True)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--min-agreement", type=float, default=1.0)
    parser.add_argument("--batch-check", action="store_true")
    args = parser.parse_args()
    args.sanitize = os.environ.get("KILN_SANITIZER", "").split()

    offsets = [int(v) for v in args.prompt_offsets.split(",")]
    lengths = [int(v) for v in args.prompt_lengths.split(",")]
    if len(offsets) != len(lengths):
        sys.exit("check-generation: --prompt-offsets and --prompt-lengths differ in length")
    text = np.fromfile(args.text, dtype=np.uint8)

    failures = []
    with tempfile.TemporaryDirectory() as workdir:
        batched = generate(args, offsets, lengths, workdir, "batched")
        total = agree = 0
        for i, (offset, length) in enumerate(zip(offsets, lengths)):
            prompt = [int(b) for b in text[offset:offset + length]]
            tokens = batched[i]
            if len(tokens) != args.max_new_tokens:
                failures.append("sequence %d: %d tokens generated, expected %d" %
                                (i, len(tokens), args.max_new_tokens))
            logits = full_forward(args, prompt + tokens[:-1], workdir)
            for j, token in enumerate(tokens):
                row = logits[length + j - 1]
                expected = int(np.argmax(row))
                total += 1
                if expected == token:
                    agree += 1
                    continue
                top2 = np.sort(row)[-2:]
                print("sequence %d token %d: generated %d, full forward's arg-max %d "
                      "(logits %.6g vs %.6g, top-2 gap %.3g)" %
                      (i, j, token, expected, row[token], row[expected], top2[1] - top2[0]))
        fraction = agree / max(total, 1)
        print("teacher-forced agreement with the full forward: %d / %d (%.4f)" %
              (agree, total, fraction))
        if fraction < args.min_agreement:
            failures.append("agreement %.4f below %.4f" % (fraction, args.min_agreement))

        if args.batch_check:
            same = 0
            for i, (offset, length) in enumerate(zip(offsets, lengths)):
                alone = generate(args, [offset], [length], workdir, "single%d" % i)[0]
                if alone == batched[i]:
                    same += 1
                else:
                    first = next((j for j, (a, b) in enumerate(zip(alone, batched[i])) if a != b),
                                 min(len(alone), len(batched[i])))
                    failures.append("sequence %d: batched tokens differ from B=1 from token %d" %
                                    (i, first))
            print("batched (B=%d) vs alone (B=1): %d of %d sequences identical" %
                  (len(offsets), same, len(offsets)))

    for failure in failures:
        print("FAILED: " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
