#!/usr/bin/env python3
"""Extracts the PTX text of every gpu.binary object in printed MLIR.

`gpu-module-to-binary{format=isa}` stores PTX as an MLIR string attribute (`assembly = "..."`)
with non-printable bytes escaped as `\\XX`. This decodes it so that ptxas can assemble it.

usage: kiln-extract-ptx.py [input.mlir|-] -o out.ptx   (several objects are concatenated)
"""

import argparse
import re
import sys

ASSEMBLY = re.compile(r'assembly = "((?:[^"\\]|\\.)*)"')


def decode_mlir_string(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in '\\"':
            out.append(nxt)
            i += 2
        elif nxt == "n":
            out.append("\n")
            i += 2
        elif nxt == "t":
            out.append("\t")
            i += 2
        else:
            out.append(chr(int(text[i + 1:i + 3], 16)))
            i += 3
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", default="-")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    source = sys.stdin.read() if args.input == "-" else open(args.input).read()
    objects = [decode_mlir_string(m.group(1)) for m in ASSEMBLY.finditer(source)]
    if not objects:
        print(f"kiln-extract-ptx: no 'assembly' (PTX) object found in {args.input}",
              file=sys.stderr)
        return 1
    with open(args.output, "w") as f:
        f.write("\n".join(objects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
