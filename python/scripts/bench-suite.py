#!/usr/bin/env python3
"""Kiln's benchmark suite: Kiln next to PyTorch and ONNX Runtime on one GPU, in one run.

Parts (--parts, any subset, each runnable alone):
  decode   ms per decode step, B=1 and B=16, context 512 and 4096: GPT-2-small and Llama-1B
           shapes (Llama-8B with --with-8b); peers: a PyTorch static-cache loop under a CUDA
           graph, HF generate (B=1, context 512), ONNX Runtime (n/a); floor = bytes / copy
           bandwidth
  prefill  time to first token (B=1) of 512 and 4096 tokens; peers: PyTorch eager, ONNX Runtime
           CUDA EP (fp32 graph)
  kernels  causal prefill attention (TFLOP/s), decode attention (GB/s of K/V, Kiln under ncu),
           GEMM/GEMV against cuBLAS
  compile  kiln-compile time and peak RSS for 2, 8 (and 32) layers, next to ONNX Runtime's
           session creation

Writes OUT/bench/results/<date>-<gpu>.json, .md and -decode.svg, and copies them to
OUT/bench/results/latest.*. Every row is independent: a failure is recorded in its row (with the
command and the cause) and the suite goes on; rows not started before --deadline are recorded as
skipped. Exit status: 0; 1 when nothing could be measured or a peer's correctness check failed
(speed is never asserted); 2 bad usage. See docs/Benchmarks.md.

Usage (on the GPU machine, after scripts/device/run-integration.sh built build-rt/; or through
scripts/device/bench-suite.sh, which does both):
  bench-suite.py [--quick] [--parts decode,prefill,kernels,compile] [--deadline S]
                 [--work build-rt/bench] [--out DIR] [--kiln-commit SHA] [--with-8b]
                 [--merge PREVIOUS.json ...]
  bench-suite.py --report-only --merge A.json [--merge B.json ...] --out DIR
  bench-suite.py --self-test          (the pure parts; no GPU, torch or onnxruntime needed)
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from kiln_bench import report, tools  # noqa: E402

PARTS = ("decode", "prefill", "kernels", "compile")

# (quick, full) defaults of the knobs that set the run's length.
SETTINGS = {"steps": (32, 64), "kiln_runs": (2, 3), "repeats": (3, 5), "hf_tokens": (8, 16),
            "prefill_reps": (3, 5), "kernel_reps": (10, 20)}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--self-test", action="store_true", help="check the pure parts and exit")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    p.add_argument("--quick", action="store_true",
                   help="fewer steps and repeats, compile without the 32-layer model")
    p.add_argument("--deadline", type=float, default=0,
                   help="seconds for the whole run; rows not reached are recorded as skipped")
    p.add_argument("--kiln-compile", default="build-rt/bin/kiln-compile")
    p.add_argument("--kiln-run", default="build-rt/bin/kiln-run")
    p.add_argument("--work", default="build-rt/bench",
                   help="exports, artifacts, inputs (reused between runs)")
    p.add_argument("--out", default=".", help="results go to OUT/bench/results/")
    p.add_argument("--kiln-commit", default=None, help="the Kiln commit measured")
    p.add_argument("--with-8b", action="store_true", help="also the Llama-8B shape (slow)")
    p.add_argument("--models", default="",
                   help="decode/prefill: only these (gpt2_small, llama_1b, llama_8b)")
    p.add_argument("--merge", action="append", default=[],
                   help="a previous results JSON whose other parts are kept (repeatable)")
    p.add_argument("--report-only", action="store_true",
                   help="write the report of the --merge files only (no measurement)")
    p.add_argument("--recompile", action="store_true", help="ignore cached Kiln artifacts")
    p.add_argument("--plan", action="store_true", help="print the rows each part would measure")
    p.add_argument("--check-context", type=int, default=512,
                   help="decode: PyTorch's loop is checked against HF up to this context")
    for k, (q, f) in SETTINGS.items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=None,
                       help=f"default {q} with --quick, else {f}")
    p.add_argument("--run-timeout", type=float, default=300, help="one kiln-run (s)")
    p.add_argument("--compile-timeout", type=float, default=900, help="one kiln-compile (s)")
    p.add_argument("--ort-timeout", type=float, default=600, help="one ONNX Runtime child (s)")
    args = p.parse_args(argv)
    for k, (q, f) in SETTINGS.items():
        if getattr(args, k) is None:
            setattr(args, k, q if args.quick else f)
        elif getattr(args, k) < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1")
    args.parts = [x for x in args.parts.split(",") if x]
    bad = sorted(set(args.parts) - set(PARTS))
    if bad:
        p.error(f"--parts: unknown {bad}; known: {', '.join(PARTS)}")
    args.models = [x for x in args.models.split(",") if x]
    known = ("gpt2_small", "llama_1b", "llama_8b")
    if set(args.models) - set(known):
        p.error(f"--models: unknown {sorted(set(args.models) - set(known))}; known: "
                f"{', '.join(known)}")
    if "llama_8b" in args.models:
        args.with_8b = True
    if args.report_only and not args.merge:
        p.error("--report-only needs --merge FILE")
    if 4096 + args.steps + 1 > 4224:
        p.error("--steps must be at most 127 (4096 + steps + 1 must fit the artifacts' 4224 "
                "positions)")
    if args.prefill_reps + 1 > 16:
        p.error("--prefill-reps must be at most 15 (the artifacts have 16 cache slots)")
    return args


# ----------------------------------------------------------------------------------------------
# The run's header: machine, versions, copy bandwidth
# ----------------------------------------------------------------------------------------------

def version(*dists):
    for d in dists:
        try:
            return importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def nvidia_smi():
    r = {}
    smi = shutil.which("nvidia-smi")
    if not smi:
        return {"error": "nvidia-smi not found"}
    try:
        q = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        first = q.stdout.strip().splitlines()[0].split(",") if q.stdout.strip() else []
        if len(first) >= 3:
            r.update(gpu=first[0].strip(), driver=first[1].strip(), memory=first[2].strip())
        banner = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
        for token in banner.split("|"):
            if "CUDA Version" in token:
                r["cuda_driver"] = token.split("CUDA Version:")[-1].strip()
    except (OSError, subprocess.SubprocessError, IndexError) as e:
        r["error"] = f"nvidia-smi: {e}"
    return r


def header(args):
    now = datetime.datetime.now(datetime.timezone.utc)
    h = {"date": now.strftime("%Y-%m-%d"), "time_utc": now.strftime("%H:%M:%S"),
         "host": platform.node(), "kiln_commit": args.kiln_commit or "unknown",
         "weights": "random (speed does not depend on the values)", "precision": "fp16",
         "mode": "quick" if args.quick else "full",
         "transformers": version("transformers"),
         "onnxruntime": version("onnxruntime-gpu", "onnxruntime"), "onnx": version("onnx"),
         "numpy": version("numpy"), "python": platform.python_version(),
         "settings": {k: getattr(args, k) for k in SETTINGS}}
    smi = nvidia_smi()
    h.update({k: v for k, v in smi.items() if k != "error"})
    if "error" in smi:
        h["nvidia_smi_error"] = smi["error"]
    try:
        import torch
        h["torch"] = torch.__version__
        h["cuda_torch"] = torch.version.cuda
        if torch.cuda.is_available():
            h.setdefault("gpu", torch.cuda.get_device_name(0))
            from kiln_bench import peers_torch
            print("== device copy bandwidth ==", flush=True)
            bw = peers_torch.copy_bandwidth()
            print(f"  {bw['bytes_per_s'] / 1e12:.3f} TB/s (read + write), median of {bw['n']} "
                  f"copies of 1 GiB", flush=True)
            h["copy_bandwidth"] = bw
        else:
            h["copy_bandwidth"] = {"error": "torch sees no CUDA device"}
    except Exception as e:  # noqa: BLE001
        h["copy_bandwidth"] = {"error": f"{type(e).__name__}: {e}"}
    return h


# ----------------------------------------------------------------------------------------------

def run_parts(args, deadline, h):
    from kiln_bench import compile_time, decode, kernels, prefill
    modules = {"decode": decode, "prefill": prefill, "kernels": kernels,
               "compile": compile_time}
    parts = {}
    for name in args.parts:
        t0 = time.time()
        print(f"\n######## {name} ########", flush=True)
        try:
            part = modules[name].run(args, deadline, h)
        except Exception as e:  # noqa: BLE001  (a part's own bug: recorded, the next goes on)
            import traceback
            traceback.print_exc()
            part = {"rows": [], "error": f"{name}: {type(e).__name__}: {e}"}
        for row in part.get("rows", []):
            report.finalize_row(row)
        part["run"] = {"date": h["date"], "time_utc": h["time_utc"],
                       "kiln_commit": h["kiln_commit"], "mode": h["mode"],
                       "copy_bandwidth_bytes_per_s": (h.get("copy_bandwidth") or {}).get(
                           "bytes_per_s")}
        part["seconds"] = round(time.time() - t0, 1)
        for row in part.get("rows", []):
            print(f"  {row['id']}: {row.get('elapsed_s', '?')} s", flush=True)
        print(f"== {name}: {part['seconds']} s ==", flush=True)
        parts[name] = part
    return parts


def print_plan(args):
    from kiln_bench import compile_time, decode, kernels, prefill
    rows = {"decode": [decode.row_id(*k) for k in decode.plan(args)],
            "prefill": [prefill.row_id(*k) for k in prefill.plan(args)],
            "kernels": kernels.row_ids(args),
            "compile": [compile_time.row_id(n) for n in compile_time.plan(args)]}
    print("settings: " + ", ".join(f"{k} {getattr(args, k)}" for k in SETTINGS) +
          f"; deadline {args.deadline or 'none'}")
    for part in args.parts:
        print(f"{part}:")
        for r in rows[part]:
            print(f"  {r}")
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from kiln_bench import selftest
        return selftest.run()
    if args.plan:
        return print_plan(args)
    base = {}
    for path in args.merge:
        try:
            with open(path) as f:
                base = report.merge(base, json.load(f))
        except (OSError, ValueError) as e:
            print(f"error: --merge {path}: {e}", file=sys.stderr)
            return 2
    if args.report_only:
        results = base
    else:
        for tool, what in ((args.kiln_compile, "--kiln-compile"), (args.kiln_run, "--kiln-run")):
            try:
                tools.check_executable(tool, what)
            except tools.StepError as e:
                print(f"warning: {e}; the Kiln measurements will fail", file=sys.stderr)
        args.work = os.path.abspath(args.work)
        os.makedirs(args.work, exist_ok=True)
        for k in ("kiln_compile", "kiln_run"):
            setattr(args, k, os.path.abspath(getattr(args, k)))
        deadline = tools.Deadline(args.deadline)
        t0 = time.time()
        h = header(args)
        parts = run_parts(args, deadline, h)
        h["seconds"] = round(time.time() - t0, 1)
        h["args"] = " ".join(sys.argv[1:] if argv is None else argv)
        results = report.merge(base, {"suite": "kiln bench-suite", "schema": 1, "header": h,
                                      "parts": parts})
    paths = report.write_all(results, args.out)
    print("\n" + report.markdown(results))
    for k in ("json", "md", "svg"):
        print(f"wrote {paths[k]} (and {paths['latest_' + k]})")
    status = report.exit_status(results)
    failed = report.failed_checks(results)
    if failed:
        print("correctness checks that failed: " + "; ".join(f"{r} ({w})" for r, w, _ in failed))
    if report.measured_count(results) == 0:
        print("nothing was measured")
    return status


if __name__ == "__main__":
    sys.exit(main())
