#!/usr/bin/python3
"""Compares the tokens of two `kiln-run --generate --output-json` files (exit 1 if they differ).

Usage: compare-generations.py A.json B.json
"""

import json
import sys

a, b = (json.load(open(path)) for path in sys.argv[1:3])
sa, sb = a["sequences"], b["sequences"]
if len(sa) != len(sb):
    sys.exit(f"{len(sa)} vs {len(sb)} sequences")
for i, (x, y) in enumerate(zip(sa, sb)):
    if x["prompt_length"] != y["prompt_length"] or x["tokens"] != y["tokens"]:
        first = next((j for j, (p, q) in enumerate(zip(x["tokens"], y["tokens"])) if p != q),
                     min(len(x["tokens"]), len(y["tokens"])))
        sys.exit(f"sequence {i} differs from token {first}: {x['tokens']} vs {y['tokens']}")
lengths = sorted({len(s["tokens"]) for s in sa})
print(f"{a['strategy']} vs {b['strategy']}: {len(sa)} sequences, "
      f"{'/'.join(map(str, lengths))} tokens each, identical")
