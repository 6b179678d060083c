#!/usr/bin/python3
"""Checks that importing a model holds at most one extra copy of its weights.

Writes a model with WEIGHT_MB of float32 weights (raw_data, in tensors of 8 MB) and a tiny one,
imports both with
`kiln-compile --emit=mlirbc -o /dev/null`, and compares their peak resident memory: the difference
must stay below 1.5x the weights (one copy is the blobs the module owns; the protobuf's buffers
are taken over, not copied). Prints the figures. Tensors are kept under protobuf's 50 MB string
reservation cap: a larger one is grown by doubling while it is parsed, so the peak is the
weights plus the largest such tensor (docs/Importer.md). Usage: check-import-memory.py KILN_COMPILE DIR
"""

import os
import resource
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHT_MB = 192


def write_model(path, tensors, elements):
    weights = [numpy_helper.from_array(np.full(elements, i, np.float32), f"W{i}")
               for i in range(tensors)]
    node = helper.make_node("Identity", ["W0"], ["y"], name="id")
    graph = helper.make_graph([node], "g", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [elements])],
                              weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, path)


def peak_rss_mb(kiln_compile, model):
    """Peak RSS of one kiln-compile run, from a fresh child so the maximum is its own."""
    code = ("import resource, subprocess, sys; "
            "subprocess.run(sys.argv[1:], check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, kiln_compile, model, "--emit=mlirbc",
                          "-o", os.devnull], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main():
    kiln_compile, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    big, small = os.path.join(out_dir, "big.onnx"), os.path.join(out_dir, "small.onnx")
    write_model(big, WEIGHT_MB // 8, 8 * 1024 * 1024 // 4)
    write_model(small, 1, 16)
    extra = peak_rss_mb(kiln_compile, big) - peak_rss_mb(kiln_compile, small)
    print(f"weights {WEIGHT_MB} MB, extra peak memory {extra:.0f} MB "
          f"({extra / WEIGHT_MB:.2f}x the weights)")
    if extra > 1.5 * WEIGHT_MB:
        print("FAIL: the import holds more than one extra copy of the weights")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
