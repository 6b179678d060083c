#!/usr/bin/python3
"""Runs a byte-level language model on a prompt with kiln-run and prints its next bytes.

The model's input is `input_ids` [1, seq] (token id = byte value) and its output is logits
[1, seq, 256]. The script prints the most likely next bytes after the prompt with their
probabilities, then extends the prompt greedily, one kiln-run call per byte (the CPU executor
has no KV cache; it recomputes the whole sequence each step).

Usage: kiln-next-bytes.py --kiln-run PATH --model MODEL(.onnx, .mlir or .mlirbc) [--prompt TEXT | --prompt-file F
       --prompt-offset N --prompt-length N] [--top-k 5] [--generate 24]
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def next_byte_logits(kiln_run, model, ids, workdir):
    """Runs the model on `ids` and returns the logits of the byte after the last one."""
    ids_path = os.path.join(workdir, "input_ids.npy")
    np.save(ids_path, np.array([ids], dtype=np.int64))
    out_dir = os.path.join(workdir, "out")
    result = subprocess.run([kiln_run, "--device=cpu", model, "--input", ids_path,
                             "--output-dir", out_dir], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("kiln-next-bytes: kiln-run failed:\n" + result.stderr)
    outputs = sorted(os.listdir(out_dir))
    logits = np.load(os.path.join(out_dir, outputs[0]))
    if logits.ndim != 3 or logits.shape[-1] != 256:
        sys.exit(f"kiln-next-bytes: expected logits [1, seq, 256], got {logits.shape}")
    return logits[0, -1].astype(np.float64)


def show(byte):
    return repr(bytes([byte]))[2:-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln-run", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--prompt")
    parser.add_argument("--prompt-file")
    parser.add_argument("--prompt-offset", type=int, default=0)
    parser.add_argument("--prompt-length", type=int, default=96)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--generate", type=int, default=24)
    args = parser.parse_args()

    if args.prompt is not None:
        prompt = args.prompt.encode("utf-8")
    elif args.prompt_file:
        with open(args.prompt_file, "rb") as f:
            f.seek(args.prompt_offset)
            prompt = f.read(args.prompt_length)
    else:
        sys.exit("kiln-next-bytes: give --prompt or --prompt-file")
    if not prompt:
        sys.exit("kiln-next-bytes: the prompt is empty")

    ids = list(prompt)
    with tempfile.TemporaryDirectory() as workdir:
        logits = next_byte_logits(args.kiln_run, args.model, ids, workdir)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        print("prompt (%d bytes):" % len(prompt))
        print(prompt.decode("utf-8", errors="replace"))
        print("-- most likely next bytes --")
        for byte in np.argsort(-probs)[: args.top_k]:
            print("  %-6s p=%.3f" % ("'" + show(int(byte)) + "'", probs[byte]))
        generated = []
        for step in range(args.generate):
            if step:
                logits = next_byte_logits(args.kiln_run, args.model, ids, workdir)
            byte = int(np.argmax(logits))
            generated.append(byte)
            ids.append(byte)
        if generated:
            print("-- greedy continuation (%d bytes) --" % len(generated))
            print(prompt.decode("utf-8", errors="replace") + "\u2502" +
                  bytes(generated).decode("utf-8", errors="replace"))


if __name__ == "__main__":
    main()
