"""Compile time and peak compiler memory, next to ONNX Runtime's session creation.

For GPT-2-small-shaped models of 2, 8 and 32 layers (32 not with --quick; exported as the
decode part's models are: fp32, dynamic seq, 4224 positions):
  * Kiln: `kiln-compile M.onnx --precision=fp16 --kv-cache=on --max-seq-len 4224 --max-batch
    16 -o A` (the benchmark artifacts' command, always compiled afresh), under `/usr/bin/time
    -v`: wall time and "Maximum resident set size". Without /usr/bin/time, a Python child runs
    it and reports resource.getrusage(RUSAGE_CHILDREN).ru_maxrss.
  * ONNX Runtime: InferenceSession(M) creation time (default options, ORT_ENABLE_ALL), CPU EP
    and CUDA EP, each in a child process under the same measurement (its peak RSS includes the
    Python interpreter and onnxruntime itself).
"""

import os
import re
import sys
import time

from . import models, tools

LAYERS = (2, 8, 32)
QUICK_LAYERS = (2, 8)


def plan(args):
    return list(QUICK_LAYERS if args.quick else LAYERS)


def row_id(layers):
    return f"compile gpt2_shape {layers} layers"


_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


def parse_time_v(text):
    """Peak RSS (MB) from `/usr/bin/time -v` output, or None."""
    m = _RSS.search(text)
    return int(m.group(1)) / 1024 if m else None


_RUSAGE_CHILD = ("import resource, subprocess, sys; "
                 "rc = subprocess.run(sys.argv[1:]).returncode; "
                 "print('Maximum resident set size (kbytes): %d' % "
                 "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
                 "sys.exit(rc)")


def rss_prefix():
    """The command prefix that reports a child's peak RSS in /usr/bin/time -v's words."""
    if os.path.exists("/usr/bin/time"):
        return ["/usr/bin/time", "-v"], "/usr/bin/time -v"
    return [sys.executable, "-c", _RUSAGE_CHILD], "getrusage(RUSAGE_CHILDREN) of a Python child"


def kiln_compile_row(args, deadline, onnx_path, layers):
    prefix, how = rss_prefix()
    d = os.path.join(args.work, "compile")
    os.makedirs(d, exist_ok=True)
    artifact = os.path.join(d, f"gpt2_L{layers}.kiln")
    if os.path.exists(artifact):
        os.remove(artifact)
    cmd = prefix + [args.kiln_compile, onnx_path] + models.compile_flags() + ["-o", artifact]
    t0 = time.perf_counter()
    out = tools.run_tool(cmd, deadline.timeout(args.compile_timeout),
                         f"kiln-compile of the {layers}-layer GPT-2 shape")
    wall = (time.perf_counter() - t0) * 1e3
    rss = parse_time_v(out.stderr)
    return {"median_ms": wall, "min_ms": wall, "max_ms": wall, "n": 1, "max_rss_mb": rss,
            "artifact_mb": os.path.getsize(artifact) / 2**20 if os.path.exists(artifact)
            else None, "how": f"wall time; peak RSS by {how}",
            "command": " ".join([os.path.basename(args.kiln_compile), "M.onnx"] +
                                models.compile_flags())}


def ort_session_row(args, deadline, onnx_path, provider):
    prefix, how = rss_prefix()
    res, out = tools.run_child("peers_ort", ["session", "--onnx", onnx_path, "--provider",
                                             provider],
                               deadline.timeout(args.ort_timeout),
                               f"ONNX Runtime session ({provider})", prefix=prefix)
    if "na" in res or "error" in res:
        return res
    ms = res["session_s"] * 1e3
    return {"median_ms": ms, "min_ms": ms, "max_ms": ms, "n": 1,
            "max_rss_mb": parse_time_v(out.stderr), "providers": res.get("providers"),
            "onnxruntime": res.get("onnxruntime"),
            "how": "time of InferenceSession(M) in a child; peak RSS (interpreter + "
                   f"onnxruntime included) by {how}"}


def run(args, deadline, header):
    rows = []
    for layers in plan(args):
        s = models.shape("gpt2_small", layers=layers)
        rid = row_id(layers)
        print(f"\n== compile: {models.describe(s)} ==", flush=True)
        row = {"id": rid, "labels": {"model": f"GPT-2 shape, {layers} layers"},
               "shape": models.describe(s), "peers": {}}
        state = {}

        def export():
            state["onnx"], info = models.ensure_onnx(args.work, s, deadline)
            return dict(info, done=True)
        got = tools.measure(deadline, f"{rid}: ONNX export", export, need=20)
        if "onnx" not in state:
            bad = {k: v for k, v in got.items() if k != "seconds"}
            row["kiln"] = bad
            row["peers"] = {"ort_session_cpu": dict(bad), "ort_session_cuda": dict(bad)}
        else:
            row["onnx_mb"] = os.path.getsize(state["onnx"]) / 2**20
            row["kiln"] = tools.measure(deadline, f"{rid}: Kiln",
                                        lambda: kiln_compile_row(args, deadline, state["onnx"],
                                                                 layers), need=10)
            for provider in ("cpu", "cuda"):
                row["peers"][f"ort_session_{provider}"] = tools.measure(
                    deadline, f"{rid}: ONNX Runtime session {provider}",
                    lambda p=provider: ort_session_row(args, deadline, state["onnx"], p),
                    need=10)
        rows.append(row)
    notes = ["Kiln compiles to a deployable fp16 artifact (kernels, PTX and cubin when ptxas is "
             "present, weights, the main/prefill/decode entries); ONNX Runtime's figure is "
             "session creation (graph optimizations, kernel selection happens on the first "
             "runs). Ratio = ONNX Runtime CPU EP session time / Kiln compile time.",
             "One measurement each (n 1)."]
    return {"rows": rows, "notes": notes}
