"""bench-suite.py --self-test: the suite's pure parts, without a GPU, torch or onnxruntime.

Checks the byte/FLOP arithmetic against hand-computed figures (and DESIGN.md's GPT-2 floor),
the parsers of kiln-run / ncu / time -v output, the cached compile and the kiln-run wrappers
against stand-in shell scripts, the deadline and skip logic (every part run with an expired
deadline records each row as skipped without touching the GPU), and the report: ratios, the
Markdown table, the SVG, merging and the exit status.
"""

import argparse
import contextlib
import io
import json
import math
import os
import stat
import tempfile
import xml.etree.ElementTree as ET

from . import compile_time, decode, kernels, models, prefill, report, tools


class Checks:
    def __init__(self):
        self.n = 0
        self.notes = []

    def __call__(self, cond, what):
        if not cond:
            raise AssertionError(what)
        self.n += 1

    def raises(self, exc, fn, what):
        try:
            fn()
        except exc:
            self.n += 1
            return
        raise AssertionError(f"{what}: no {exc.__name__}")


def close(a, b, rel=1e-9):
    return a is not None and b is not None and abs(a - b) <= rel * max(abs(a), abs(b))


def _script(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


def test_arithmetic(check):
    g = models.shape("gpt2_small")
    total, read = models.param_counts(g)
    # HF GPT-2 small has 124,439,808 parameters with 1024 positions; 4224 here.
    check(total == 124439808 + (4224 - 1024) * 768, f"gpt2 params {total}")
    check(read == 124439808 - 1024 * 768, f"gpt2 params read per step {read}")
    check(models.kv_bytes_per_position(g) == 12 * 2 * 12 * 64 * 2, "gpt2 kv bytes/pos")
    # DESIGN.md: GPT-2-small decode at ctx ~640, byte floor 0.090 ms at ~3.0 TB/s.
    f = models.decode_floor_ms(g, 1, 640, 3.0e12)
    check(abs(f - 0.0903) < 0.0005, f"gpt2 floor {f}")
    check(models.decode_floor_ms(g, 1, 640, None) is None, "no bandwidth: no floor")
    f16 = models.decode_floor_ms(g, 16, 4096, 3.0e12)
    check(close(f16, (read * 2 + 16 * 4096 * 36864) / 3.0e12 * 1e3), "B16 floor")
    ll = models.shape("llama_1b")
    check(models.param_counts(ll) == (1235814400, 1235814400), "Llama-3.2-1B: 1,235,814,400")
    check(models.kv_bytes_per_position(ll) == 16 * 2 * 8 * 64 * 2, "llama_1b kv bytes/pos")
    check(models.needs_external_data(ll) and not models.needs_external_data(g), "ext data")
    l8 = models.shape("llama_8b")
    check(models.param_counts(l8)[0] == 8030261248, "Llama-3-8B: 8,030,261,248")
    check(models.param_counts(l8)[1] == 8030261248 - 128256 * 4096, "8B: untied embedding")
    f8 = models.decode_floor_ms(l8, 1, 640, 3.0e12)
    check(abs(f8 - 5.03) < 0.03, f"DESIGN.md's Llama-8B floor 5.03 ms: {f8}")
    check(models.shape("gpt2_small", layers=2)["layers"] == 2, "layers override")
    check(models.export_path("/w", models.shape("gpt2_small", 8)).endswith(
        "onnx/gpt2_small-L8/model.onnx"), "export path")
    check(kernels.attention_flop(1, 32, 4096, 128) == 137438953472, "attention flop")
    check(kernels.attention_flop(1, 1, 2, 1, causal=False) == 16, "non-causal flop")
    check(kernels.gemm_flop(4096, 4096, 4096) == 137438953472, "gemm flop")
    check(kernels.gemm_bytes(1, 4096, 4096) == (4096 * 4096 + 2 * 4096) * 2, "gemv bytes")
    check(kernels.kv_bytes(32, 4096, 128) == 64 * 2**20, "decode attention K/V bytes: 64 MiB")
    # 1 ms for the S4096 causal attention is 137.4 TFLOP/s.
    row = report.finalize_row({"id": "x", "flop": 137438953472, "kiln": {"median_ms": 1.0},
                               "peers": {}})
    check(close(row["kiln"]["tflops"], 137.438953472), "TFLOP/s")
    row = report.finalize_row({"id": "y", "bytes": 3e9, "floor_ms": 1.0, "tokens": 16,
                               "kiln": {"median_ms": 2.0}, "peers": {"a": {"median_ms": 4.0}}})
    check(close(row["kiln"]["gbps"], 1500.0) and close(row["kiln"]["tokens_per_s"], 8000.0),
          "GB/s, tokens/s")
    check(close(row["pct_of_floor"]["kiln"], 50.0) and close(row["pct_of_floor"]["a"], 25.0),
          "% of floor")


def test_parsers(check):
    check(tools.decode_median({"decode_ms_per_step": {"median": 0.2, "min": 0.1}}) == 0.2, "d")
    check(tools.decode_median({"decode_ms_per_step": 0.3}) == 0.3, "number")
    for bad in ({}, {"decode_ms_per_step": {"min": 1}}, {"decode_ms_per_step": 0},
                {"decode_ms_per_step": float("nan")}, [1]):
        check.raises(tools.StepError, lambda b=bad: tools.decode_median(b), f"accepted {bad}")
    obj = {"sequences": [{"prompt_length": 4, "tokens": [1, 2, 3], "prefill_ms": 1.5},
                         {"prompt_length": 4, "tokens": [4, 5, 6], "prefill_ms": 1.25}],
           "decode_steps": 2, "decode_ms_per_step": {"median": 0.5, "min": 0.4, "max": 0.9},
           "prefill_ms": 2.75, "cuda_graphs": True}
    g = tools.parse_generate_json(obj, 2, 3)
    check(g["prefill_ms"] == [1.5, 1.25] and g["decode_median_ms"] == 0.5 and
          g["decode_max_ms"] == 0.9 and g["decode_steps"] == 2, f"generate json {g}")
    check.raises(tools.StepError, lambda: tools.parse_generate_json(obj, 3, 3), "3 prompts")
    check.raises(tools.StepError, lambda: tools.parse_generate_json(obj, 2, 4), "4 tokens")
    one = {"sequences": [{"tokens": [7], "prefill_ms": 3.0}], "decode_steps": 0,
           "decode_ms_per_step": {"median": 0, "min": 0, "max": 0}}
    check(tools.parse_generate_json(one, 1, 1)["prefill_ms"] == [3.0], "max-new-tokens 1")
    text = ("device 0: NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB free of 79.2 GiB)\n"
            "out: float16[1, 32, 4096, 128]\n"
            "GPU time per run: median 0.261 ms, min 0.258 ms, max 0.270 ms (20 runs after 3 "
            "warmup; 1 kernel launches per run; CUDA graphs on)\n"
            "host wall time per run: median 0.300 ms, min 0.290 ms, max 0.400 ms\n")
    t = tools.parse_gpu_time(text)
    check(t == {"median_ms": 0.261, "min_ms": 0.258, "max_ms": 0.27, "n": 20, "warmup": 3,
                "launches": 1, "cuda_graphs": True}, f"gpu time {t}")
    t = tools.parse_gpu_time("GPU time per run: median 1.5 ms, min 1 ms, max 2 ms")
    check(t == {"median_ms": 1.5, "min_ms": 1.0, "max_ms": 2.0}, f"short timing line {t}")
    check(tools.parse_gpu_time("nothing") is None, "no timing line")
    s = tools.summarize([3.0, 1.0, 2.0, 10.0])
    check(s == {"median_ms": 2.5, "min_ms": 1.0, "max_ms": 10.0, "n": 4}, "summarize")
    c = tools.combine_runs([{"median_ms": 1.0, "min_ms": 0.5, "max_ms": 2.0, "n": 32},
                            {"median_ms": 3.0, "min_ms": 0.7, "max_ms": 4.0, "n": 32},
                            {"median_ms": 2.0, "min_ms": 0.9, "max_ms": 2.5, "n": 32}])
    check(c["median_ms"] == 2.0 and c["min_ms"] == 0.5 and c["max_ms"] == 4.0 and
          c["n"] == 96, f"combine runs {c}")
    check(compile_time.parse_time_v("\tMaximum resident set size (kbytes): 2097152\n") == 2048,
          "time -v")
    check(compile_time.parse_time_v("") is None, "time -v absent")
    ncu = "\n".join([
        "==PROF== Connected to process 4242 (/x/kiln-run)",
        "==PROF== Profiling \"kv_cache_decode_f16_l1\": 0%....50%....100% - 1 pass",
        '"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream",'
        '"Block Size","Grid Size","Device","CC","Section Name","Metric Name","Metric Unit",'
        '"Metric Value"',
        '"0","4242","kiln-run","127.0.0.1","kv_cache_decode_f16_l1_g1_gh1_scale3db5",'
        '"1","7","(128, 1, 1)","(16, 32, 1)","0","9.0","Command line profiler metrics",'
        '"gpu__time_duration.sum","usecond","21.50"',
        '"1","4242","kiln-run","127.0.0.1","kv_cache_decode_combine_f16_h32_d128_sp16_kb256",'
        '"1","7","(128, 1, 1)","(8, 1, 1)","0","9.0","Command line profiler metrics",'
        '"gpu__time_duration.sum","nsecond","3,100"',
        '"2","4242","kiln-run","127.0.0.1","kv_cache_decode_f16_l1_g1_gh1_scale3db5",'
        '"1","7","(128, 1, 1)","(16, 32, 1)","0","9.0","Command line profiler metrics",'
        '"gpu__time_duration.sum","usecond","22.50"',
        '"3","4242","kiln-run","127.0.0.1","kv_cache_decode_combine_f16_h32_d128_sp16_kb256",'
        '"1","7","(128, 1, 1)","(8, 1, 1)","0","9.0","Command line profiler metrics",'
        '"gpu__time_duration.sum","usecond","2.9"',
        "==PROF== Disconnected from process 4242"])
    recs = kernels.parse_ncu_csv(ncu)
    check(len(recs) == 4 and close(recs[1]["us"], 3.1), f"ncu csv {recs}")
    steps, split, comb = kernels.decode_steps_from_ncu(recs)
    check(len(steps) == 2 and close(steps[0], 24.6) and close(steps[1], 25.4), f"steps {steps}")
    check.raises(tools.StepError, lambda: kernels.parse_ncu_csv("==PROF== ERR_NVGPUCTRPERM"),
                 "no ncu table")
    check.raises(tools.StepError, lambda: kernels.decode_steps_from_ncu(recs[:1]),
                 "no combine kernel")


def test_tools(check, d):
    # The deadline, with a fake clock.
    now = [100.0]
    dl = tools.Deadline(10, clock=lambda: now[0])
    check(dl.timeout(300) == 10 and dl.timeout(4) == 4, "timeout clamped to what is left")
    now[0] = 108.0
    check(dl.timeout(300) == 2, "2 s left")
    check.raises(tools.DeadlineReached, lambda: dl.check(5), "less than need")
    now[0] = 111.0
    check.raises(tools.DeadlineReached, lambda: dl.timeout(5), "past")
    check(tools.Deadline(0).left() == math.inf, "no deadline")
    r = tools.measure(dl, "row A", lambda: {"median_ms": 1.0, "n": 1})
    check(r == {"skipped": "deadline", "seconds": r["seconds"]}, f"skipped {r}")
    free = tools.Deadline(0)
    r = tools.measure(free, "row B", lambda: (_ for _ in ()).throw(tools.StepError("boom")))
    check(r["error"] == "row B: boom", f"error labelled {r}")
    r = tools.measure(free, "row C", lambda: {}["missing"])
    check(r["error"].startswith("row C: KeyError"), f"exception labelled {r}")
    r = tools.measure(free, "row D", lambda: {"error": "plain"})
    check(r["error"] == "row D: plain", "returned error labelled")
    clock = iter([0.0, 0.0, 9.5, 9.5, 9.5, 9.5]).__next__
    near = tools.Deadline(10, clock=clock)
    r = tools.measure(near, "row E", lambda: (_ for _ in ()).throw(
        tools.StepError("kiln-run: timed out after 9 s: kiln-run A")), need=1)
    check(r.get("skipped", "").startswith("deadline (stopped: kiln-run: timed out"),
          f"a tool stopped by the deadline is a skip {r}")
    # Cached compile with a fallback form, against a stand-in compiler.
    log = os.path.join(d, "calls")
    comp = _script(d, "kiln-compile", f'echo "$@" >> {log}\n'
                   'case "$*" in *--max-seq-len*) echo "unknown option --max-seq-len" >&2; '
                   'exit 1;; esac\n'
                   'while [ $# -gt 1 ]; do [ "$1" = -o ] && touch "$2"; shift; done\n')
    model = os.path.join(d, "m.onnx")
    open(model, "w").close()
    os.utime(model, (1, 1))
    os.utime(comp, (1, 1))
    art = os.path.join(d, "m.kiln")
    tries = [["--max-seq-len", "64"], ["--dim-max", "seq=64"]]
    a, secs, cmd = tools.compile_cached(comp, model, art, tries, 10, "compile m")
    check(a == art and secs is not None and "--dim-max" in cmd, "fell back to --dim-max")
    a, secs, _ = tools.compile_cached(comp, model, art, tries, 10, "compile m")
    check(secs is None, "reused the artifact")
    check(len(open(log).read().splitlines()) == 2, "two compiler calls, not three")
    _, secs, _ = tools.compile_cached(comp, model, art, tries, 10, "compile m", recompile=True)
    check(secs is not None, "--recompile")
    bad = _script(d, "bad-compile", 'echo "error: unsupported op Foo" >&2; exit 1\n')
    check.raises(tools.StepError, lambda: tools.compile_cached(
        bad, model, os.path.join(d, "b.kiln"), tries, 10, "compile b"), "no fallback")
    # kiln-run stand-ins: a timed forward (matching and not), --generate JSON.
    ok_run = _script(d, "run-ok", 'echo "y: max|err| 0.001 (of 2.0)"\n'
                     'echo "GPU time per run: median 0.500 ms, min 0.400 ms, max 0.700 ms '
                     '(5 runs after 3 warmup; 2 kernel launches per run; CUDA graphs on)"\n')
    r = tools.kiln_forward(ok_run, art, {"x": "x.npy"}, 5, 3, 10, "fwd", expect="ref.npz")
    check(r["median_ms"] == 0.5 and r["launches"] == 2 and r["check"]["passed"], f"fwd {r}")
    mism = _script(d, "run-mismatch", 'echo "GPU time per run: median 0.5 ms, min 0.4 ms, '
                   'max 0.7 ms"\necho "kiln-run: outputs do not match \'ref.npz\'" >&2; exit 1\n')
    r = tools.kiln_forward(mism, art, {"x": "x.npy"}, 5, 3, 10, "fwd", expect="ref.npz")
    check(r["check"]["passed"] is False and r["median_ms"] == 0.5, "mismatch reported")
    crash = _script(d, "run-crash", 'echo "kiln-run: CUDA_ERROR_OUT_OF_MEMORY" >&2; exit 1\n')
    check.raises(tools.StepError, lambda: tools.kiln_forward(crash, art, {}, 5, 3, 10, "fwd"),
                 "crash")
    gen = _script(d, "run-gen", 'while [ $# -gt 0 ]; do [ "$1" = --output-json ] && out="$2";'
                  ' shift; done\n'
                  'echo \'{"sequences": [{"tokens": [1, 2], "prefill_ms": 4.0}, {"tokens": '
                  '[3, 4], "prefill_ms": 5.0}], "decode_steps": 1, "decode_ms_per_step": '
                  '{"median": 0.25, "min": 0.25, "max": 0.25}}\' > "$out"\n')
    g = tools.kiln_generate(gen, art, [[1, 2, 3], [4, 5, 6]], 2, os.path.join(d, "g.json"), 10,
                            "gen")
    check(g["decode_median_ms"] == 0.25 and g["prefill_ms"] == [4.0, 5.0], f"generate {g}")
    slow = _script(d, "run-slow", "sleep 5\n")
    check.raises(tools.StepError, lambda: tools.run_tool([slow], 0.5, "slow", echo=False),
                 "timeout")
    check(tools.parse_result("noise\n" + tools.RESULT_MARK + '{"a": 1}\n', "x") == {"a": 1},
          "child result line")
    check.raises(tools.StepError, lambda: tools.parse_result("Traceback ...", "x"), "no result")


def fake_args(d, **kw):
    a = argparse.Namespace(
        work=d, out=d, kiln_compile="/nonexistent/kiln-compile", kiln_run="/nonexistent/kiln-run",
        quick=True, with_8b=False, models=[], recompile=False, check_context=512, steps=32,
        kiln_runs=2, repeats=3, hf_tokens=8, prefill_reps=3, kernel_reps=10, run_timeout=10,
        compile_timeout=10, ort_timeout=10)
    for k, v in kw.items():
        setattr(a, k, v)
    return a


def test_plans_and_skips(check, d):
    a = fake_args(d)
    p = decode.plan(a)
    check(len(p) == 8 and p[0] == ("gpt2_small", 1, 512) and p[-1] == ("llama_1b", 16, 4096),
          f"decode plan {p}")
    check(len(decode.plan(fake_args(d, with_8b=True))) == 12, "with 8b")
    check(decode.plan(fake_args(d, models=["llama_1b"]))[0][0] == "llama_1b", "--models")
    check(prefill.plan(a) == [("gpt2_small", 512), ("gpt2_small", 4096), ("llama_1b", 512),
                              ("llama_1b", 4096)], "prefill plan")
    check(compile_time.plan(a) == [2, 8] and compile_time.plan(fake_args(d, quick=False)) ==
          [2, 8, 32], "compile plan")
    ids = decode.prompts_for(50257, 16, 4096)
    check(ids.shape == (16, 4096) and ids.min() >= 0 and ids.max() < 1000, "prompts")
    # Every part with an expired deadline: each row skipped, nothing run.
    expired = tools.Deadline(1, clock=iter([0.0] + [5.0] * 10000).__next__)
    h = {"copy_bandwidth": {"bytes_per_s": 3.0e12}}
    parts = {}
    for name, mod in (("decode", decode), ("prefill", prefill), ("kernels", kernels),
                      ("compile", compile_time)):
        part = mod.run(a, expired, h)
        for row in part["rows"]:
            report.finalize_row(row)
            for m in [row["kiln"]] + list(row["peers"].values()):
                check(report.status(m) in ("skipped", "na"), f"{row['id']}: {m}")
        check(any(report.status(r["kiln"]) == "skipped" for r in part["rows"]), name)
        parts[name] = part
    check(len(parts["kernels"]["rows"]) == len(kernels.row_ids(a)) == 6, "kernel rows")
    check(parts["decode"]["rows"][0]["peers"]["onnxruntime"]["na"].startswith("n/a"), "ORT n/a")
    check("hf_generate" in parts["decode"]["rows"][0]["peers"] and
          "hf_generate" not in parts["decode"]["rows"][1]["peers"], "HF only at B1 ctx512")
    results = {"header": {"date": "2026-11-22", "gpu": "NVIDIA H100 80GB HBM3"}, "parts": parts}
    check(report.measured_count(results) == 0 and report.exit_status(results) == 1,
          "nothing measured: exit 1")
    md = report.markdown(results)
    check("skipped: deadline" in md and "## Not measured" in md, "skips listed")


def synthetic():
    """A result with every kind of cell."""
    ok = lambda m, lo, hi, n, **kw: dict(median_ms=m, min_ms=lo, max_ms=hi, n=n, **kw)  # noqa
    dec = [
        {"id": "decode gpt2_small B1 ctx512",
         "labels": {"model": "gpt2_small", "batch": 1, "context": 512}, "tokens": 1,
         "floor_ms": 0.09, "kiln": ok(0.25, 0.24, 0.3, 64),
         "peers": {"torch_cuda_graph": ok(0.5, 0.49, 0.6, 160, check={"passed": True}),
                   "hf_generate": ok(60.0, 59.0, 61.0, 2),
                   "onnxruntime": {"na": decode.ORT_NA}}},
        {"id": "decode llama_1b B16 ctx4096",
         "labels": {"model": "llama_1b", "batch": 16, "context": 4096}, "tokens": 16,
         "floor_ms": 1.5, "kiln": ok(4.0, 3.9, 4.4, 64),
         "peers": {"torch_cuda_graph": ok(3.0, 2.9, 3.1, 160),
                   "onnxruntime": {"na": decode.ORT_NA}}},
        {"id": "decode llama_1b B1 ctx4096",
         "labels": {"model": "llama_1b", "batch": 1, "context": 4096}, "tokens": 1,
         "floor_ms": 0.9, "kiln": {"error": "decode llama_1b B1 ctx4096: Kiln: kiln-run: exit "
                                            "status 1: kiln-run A --generate\nout of memory"},
         "peers": {"torch_cuda_graph": {"skipped": "deadline"},
                   "onnxruntime": {"na": decode.ORT_NA}}}]
    pre = [{"id": "prefill llama_1b 4096 tokens", "labels": {"model": "llama_1b", "tokens": 4096},
            "tokens": 4096, "kiln": ok(40.0, 39.0, 41.0, 3),
            "peers": {"torch_eager": ok(50.0, 49.0, 52.0, 3),
                      "torch_eager_last": ok(45.0, 44.0, 46.0, 3),
                      "ort_cuda": {"na": "onnxruntime 1.30 has no CUDAExecutionProvider"}}}]
    ker = [{"id": "kernels attention causal B1 H32 S4096 D128",
            "labels": {"kernel": "causal prefill attention", "shape": "B1 H32 S4096 D128"},
            "flop": kernels.attention_flop(1, 32, 4096, 128), "metric": "tflops",
            "kiln": ok(0.5, 0.49, 0.55, 10, launches=1, check={"passed": True}),
            "peers": {"sdpa_flash": ok(0.26, 0.25, 0.27, 10)}},
           {"id": "kernels gemv 1x4096x4096", "labels": {"kernel": "GEMV", "shape": "1x4096x4096"},
            "flop": kernels.gemm_flop(1, 4096, 4096), "bytes": kernels.gemm_bytes(1, 4096, 4096),
            "metric": "gbps", "floor_ms": 0.0112,
            "kiln": ok(0.014, 0.013, 0.02, 10, launches=1, check={"passed": False}),
            "peers": {"cublas": ok(0.016, 0.015, 0.02, 10)}}]
    comp = [{"id": "compile gpt2_shape 2 layers", "labels": {"model": "GPT-2 shape, 2 layers"},
             "kiln": ok(3500.0, 3500.0, 3500.0, 1, max_rss_mb=900.0),
             "peers": {"ort_session_cpu": ok(700.0, 700.0, 700.0, 1, max_rss_mb=400.0),
                       "ort_session_cuda": {"error": "ONNX Runtime session (cuda): boom"}}}]
    res = {"header": {"date": "2026-11-22", "gpu": "NVIDIA H100 80GB HBM3", "driver": "580.1",
                      "kiln_commit": "abc1234", "copy_bandwidth": {"bytes_per_s": 3.0e12},
                      "weights": "random (speed does not depend on the values)",
                      "precision": "fp16", "mode": "quick"},
           "parts": {"decode": {"rows": dec, "notes": ["n1"]}, "prefill": {"rows": pre},
                     "kernels": {"rows": ker}, "compile": {"rows": comp}}}
    for p in res["parts"].values():
        for r in p["rows"]:
            report.finalize_row(r)
    return res


def test_report(check, d):
    res = synthetic()
    r0 = res["parts"]["decode"]["rows"][0]
    check(close(r0["ratios"]["torch_cuda_graph"], 2.0) and r0["best_peer"] == "torch_cuda_graph"
          and close(r0["best_ratio"], 2.0), f"best peer {r0.get('best_peer')}")
    check(close(r0["pct_of_floor"]["kiln"], 36.0), "kiln % of floor")
    r1 = res["parts"]["decode"]["rows"][1]
    check(close(r1["best_ratio"], 0.75) and close(r1["kiln"]["tokens_per_s"], 4000.0), "B16")
    check(res["parts"]["decode"]["rows"][2]["best_ratio"] is None, "no Kiln time, no ratio")
    md = report.markdown(res)
    for s in ("| gpt2_small | 1 | 512 | 0.25 (0.24–0.3, n 64) | 4000 | 0.5 (0.49–0.6, n 160) | "
              "60 (59–61, n 2) | n/a* | 2.00x (PyTorch + CUDA graph) | 0.09 | 36% / 18% |",
              "| llama_1b | 16 | 4096 | 4 (3.9–4.4, n 64) | 4000 |",
              "0.75x (PyTorch + CUDA graph)",
              "| llama_1b | 1 | 4096 | error* |",
              "decode llama_1b B1 ctx4096: Kiln: error: Kiln: kiln-run: exit status 1: "
              "kiln-run A --generate … out of memory",
              "decode llama_1b B1 ctx4096: PyTorch + CUDA graph: skipped: deadline",
              "- ONNX Runtime: na in 3 rows (decode gpt2_small B1 ctx512, decode llama_1b B16 "
              "ctx4096, decode llama_1b B1 ctx4096): n/a: the export has no past K/V inputs",
              "| llama_1b | 4096 | 40 (39–41, n 3) | 102400 |",
              "1.12x (PyTorch eager, last logits only)",
              "| causal prefill attention | B1 H32 S4096 D128 | 0.5 (0.49–0.55, n 10) | "
              "274.9 TFLOP/s | PyTorch SDPA (flash) | 0.26 (0.25–0.27, n 10) | 528.6 TFLOP/s | "
              "0.52x | - | Kiln output matches PyTorch's; 1 launch per run |",
              "Kiln output DIFFERS from PyTorch's",
              "2398 GB/s", "80% / 70%",
              "| GPT-2 shape, 2 layers | 3.5 | 900 | 0.7 (400) | error* | 0.20x |",
              "3.000 TB/s", "correctness check FAILED", "| Kiln commit | abc1234 |"):
        check(s in md, f"markdown lacks {s!r}:\n{md}")
    svg = report.svg_decode(res)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    bars = [e for e in root.iter(ns + "rect") if e.get("fill") in ("#2e7d32", "#e65100")]
    check(len(bars) == 2, f"two ratio bars, got {len(bars)}")
    check(any(e.get("stroke-dasharray") for e in root.iter(ns + "line")), "the 1.0 line")
    texts = " ".join(e.text or "" for e in root.iter(ns + "text"))
    check("2.00x vs PyTorch + CUDA graph" in texts and "no ratio (Kiln: error)" in texts, texts)
    check(ET.fromstring(report.svg_decode({"parts": {}})) is not None, "empty svg")
    # Exit status: a failed Kiln check is reported, a failed peer check fails the run.
    check(report.exit_status(res) == 0, "kiln check failure does not fail the run")
    r0["peers"]["torch_cuda_graph"]["check"]["passed"] = False
    check(report.exit_status(res) == 1, "peer check failure fails the run")
    check(report.gpu_slug("NVIDIA H100 80GB HBM3") == "h100-80gb-hbm3", "slug")
    check(report.gpu_slug(None) == "gpu", "slug of nothing")
    m = report.merge({"header": {"date": "old"}, "parts": {"decode": 1, "kernels": 2}},
                     {"header": {"date": "new"}, "parts": {"kernels": 3, "compile": 4}})
    check(m["parts"] == {"decode": 1, "kernels": 3, "compile": 4} and
          m["header"]["date"] == "new", "merge")
    m = report.merge({}, {"suite": "s", "header": {"date": "d"}, "parts": {"decode": 1}})
    check(m == {"suite": "s", "header": {"date": "d"}, "parts": {"decode": 1}}, f"merge {m}")
    paths = report.write_all(synthetic(), d)
    for k in ("json", "md", "svg", "latest_json", "latest_md", "latest_svg"):
        check(os.path.exists(paths[k]), f"wrote {k}")
    check(paths["json"].endswith("bench/results/2026-11-22-h100-80gb-hbm3.json"), paths["json"])
    with open(paths["latest_json"]) as f:
        check(json.load(f)["header"]["kiln_commit"] == "abc1234", "latest.json")
    check(report.num(0.43641) == "0.4364" and report.num(123456.7) == "123457" and
          report.num(None) == "-", "number format")


def test_graphs(check):
    try:
        import numpy as np
        import onnx
    except ImportError:
        check.notes.append("onnx or numpy missing: the ONNX graph builders were not checked")
        return
    check(hasattr(onnx, "helper"), "onnx")
    m = kernels.attention_model(1, 2, 16, 8)
    ops = [n.op_type for n in m.graph.node]
    check(ops.count("Softmax") == 1 and ops.count("MatMul") == 2 and "Where" in ops, ops)
    check([i.name for i in m.graph.input] == ["q", "k", "v"], "attention inputs")
    check(kernels.attention_scale(128) == float(np.float16(1 / np.sqrt(128))), "fp16 scale")
    w = kernels.gemm_weight(8, 4)
    g = kernels.gemm_model(2, 8, 4, w)
    check(w.shape == (4, 8) and w.dtype == np.float16 and
          g.graph.initializer[0].dims == [4, 8], "gemm graph")


def run():
    """Runs every check with the suite's own printing captured (shown only on a failure)."""
    check = Checks()
    captured = io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(captured), \
                contextlib.redirect_stderr(captured):
            test_arithmetic(check)
            test_parsers(check)
            test_tools(check, d)
            test_plans_and_skips(check, d)
            test_report(check, d)
            test_graphs(check)
    except Exception:
        print(captured.getvalue())
        print(f"self-test: FAILED after {check.n} checks")
        raise
    for n in check.notes:
        print(f"self-test: {n}")
    print(f"self-test: {check.n} checks passed")
    return 0
