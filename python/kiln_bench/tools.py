"""Running Kiln's tools (kiln-compile, kiln-run) with time limits, and reading what they print.

Every failure is a StepError whose message names the step and the command and carries the tail
of the tool's output, so that a row of the report can say why it has no figure. The Deadline
bounds a whole run: tools get at most the time that is left, and rows not started in time are
recorded as skipped.
"""

import json
import math
import os
import re
import statistics
import subprocess
import time


class StepError(Exception):
    """A step failed; the message says which, with the command and the tool's output."""


class DeadlineReached(Exception):
    """The run's --deadline has passed: the remaining rows are skipped."""


class Deadline:
    """Seconds left of a run (no limit when seconds is 0 or None); `clock` is for tests."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.end = clock() + seconds if seconds and seconds > 0 else None

    def left(self):
        return math.inf if self.end is None else self.end - self.clock()

    def check(self, need=1.0):
        """Raise DeadlineReached unless at least `need` seconds are left."""
        if self.left() < need:
            raise DeadlineReached()

    def timeout(self, per_call):
        """A tool's time limit: per_call, or what is left of the run when that is less."""
        self.check()
        return max(1.0, min(per_call, self.left()))


# ----------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------

def summarize(times):
    """median/min/max/n of a list of times in ms."""
    s = sorted(times)
    if not s:
        raise StepError("no timings to summarize")
    return {"median_ms": statistics.median(s), "min_ms": s[0], "max_ms": s[-1], "n": len(s)}


def positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


# ----------------------------------------------------------------------------------------------
# Running tools
# ----------------------------------------------------------------------------------------------

def show_cmd(cmd):
    text = " ".join(str(c) for c in cmd)
    return text if len(text) < 400 else text[:380] + f" ... ({len(cmd)} arguments)"


def _text(data):
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def run_tool(cmd, timeout, what, check=True, env=None, echo=True):
    """Run a command; StepError (naming `what` and the command) on timeout, or on a non-zero
    exit status when `check`. Returns the CompletedProcess (stdout/stderr as text)."""
    cmd = [str(c) for c in cmd]
    if echo:
        print("+", show_cmd(cmd), flush=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        tail = (_text(e.stdout) + "\n" + _text(e.stderr)).strip()
        raise StepError(f"{what}: timed out after {timeout:.0f} s: {show_cmd(cmd)}\n"
                        f"{tail[-1500:]}") from None
    except OSError as e:
        raise StepError(f"{what}: cannot run {cmd[0]}: {e}") from None
    if check and out.returncode != 0:
        text = (out.stdout + "\n" + out.stderr).strip()
        raise StepError(f"{what}: exit status {out.returncode}: {show_cmd(cmd)}\n"
                        f"{text[-3000:]}")
    return out


def read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise StepError(f"{what}: cannot read {path}: {e}") from None


def check_executable(path, what):
    if not path or not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise StepError(f"{what}: {path or '(not given)'} is not an executable file")


# ----------------------------------------------------------------------------------------------
# kiln-compile, cached by its command line
# ----------------------------------------------------------------------------------------------

def compile_cached(kiln_compile, onnx_path, artifact, tries, timeout, what, recompile=False):
    """Compile `onnx_path` to `artifact` with the first of `tries` (lists of flags between the
    model and `-o`) that kiln-compile accepts; a later try runs only when the error names the
    flag that differs (an older compiler without --max-seq-len). The artifact is reused when
    its stamp (ARTIFACT.cmd) holds one of these commands and it is newer than the model and the
    compiler. Returns (artifact, seconds, command) with seconds None when reused."""
    stamp = artifact + ".cmd"
    cmds = [[kiln_compile, onnx_path] + list(t) + ["-o", artifact] for t in tries]
    if not recompile and os.path.exists(artifact) and os.path.exists(stamp):
        with open(stamp) as f:
            previous = f.read()
        newest = max(os.path.getmtime(onnx_path), os.path.getmtime(kiln_compile))
        for cmd in cmds:
            if os.path.getmtime(artifact) > newest and previous == json.dumps(cmd):
                return artifact, None, cmd
    errors = []
    for i, cmd in enumerate(cmds):
        t0 = time.time()
        try:
            run_tool(cmd, timeout, what)
        except StepError as e:
            errors.append(str(e))
            later = cmds[i + 1] if i + 1 < len(cmds) else None
            differing = [a for a in cmd if later and a.startswith("--") and a not in later]
            body = str(e).split("\n", 1)[-1]
            if later and any(a.lstrip("-").split("=")[0] in body for a in differing):
                print(f"  ({what}: kiln-compile refused {' '.join(differing)}; "
                      "trying the next form)", flush=True)
                continue
            raise StepError("\n".join(errors)) from None
        with open(stamp, "w") as f:
            f.write(json.dumps(cmd))
        return artifact, round(time.time() - t0, 2), cmd
    raise StepError("\n".join(errors))


# ----------------------------------------------------------------------------------------------
# kiln-run: --generate --output-json, and timed forward runs
# ----------------------------------------------------------------------------------------------

def decode_median(obj):
    """decode_ms_per_step median of kiln-run's --output-json ({"median": ..} or a number)."""
    if not isinstance(obj, dict) or "decode_ms_per_step" not in obj:
        raise StepError("kiln-run's JSON has no decode_ms_per_step; keys: "
                        + (", ".join(sorted(obj)) if isinstance(obj, dict) else "not an object"))
    d = obj["decode_ms_per_step"]
    v = d.get("median") if isinstance(d, dict) else d
    if not positive(v):
        raise StepError(f"kiln-run's decode_ms_per_step is {d!r}, not a positive median")
    return float(v)


def parse_generate_json(obj, prompts, max_new):
    """The figures of one `kiln-run --generate --output-json` run: decode step times (median,
    min, max, steps) and the prefill time of each sequence; StepError when the JSON does not
    describe `prompts` prompts of `max_new` new tokens."""
    if not isinstance(obj, dict):
        raise StepError("kiln-run's JSON is not an object")
    seqs = obj.get("sequences")
    if not isinstance(seqs, list) or len(seqs) != prompts:
        raise StepError(f"kiln-run's JSON has {len(seqs) if isinstance(seqs, list) else 'no'} "
                        f"sequences, not {prompts}")
    short = [i for i, s in enumerate(seqs)
             if not isinstance(s, dict) or len(s.get("tokens", [])) != max_new]
    if short:
        raise StepError(f"kiln-run generated fewer than {max_new} tokens for sequence(s) "
                        f"{short[:5]} (finish reasons: "
                        f"{[seqs[i].get('finish_reason') for i in short[:5]]})")
    prefill = [s.get("prefill_ms") for s in seqs]
    if not all(positive(p) for p in prefill):
        raise StepError(f"kiln-run's per-sequence prefill_ms are {prefill[:5]}, not all positive")
    r = {"prefill_ms": [float(p) for p in prefill],
         "decode_steps": obj.get("decode_steps"), "cuda_graphs": obj.get("cuda_graphs")}
    if max_new > 1:
        r["decode_median_ms"] = decode_median(obj)
        d = obj["decode_ms_per_step"]
        r["decode_min_ms"] = float(d.get("min", r["decode_median_ms"])) if isinstance(d, dict) \
            else r["decode_median_ms"]
        r["decode_max_ms"] = float(d.get("max", r["decode_median_ms"])) if isinstance(d, dict) \
            else r["decode_median_ms"]
    return r


def kiln_generate(kiln_run, artifact, prompts, max_new, out_json, timeout, what, extra=()):
    """kiln-run ARTIFACT --generate with one --prompt-ids per prompt (one batch);
    returns parse_generate_json's dict."""
    if os.path.exists(out_json):
        os.remove(out_json)
    cmd = [kiln_run, artifact, "--generate"]
    for p in prompts:
        cmd += ["--prompt-ids", ",".join(str(int(t)) for t in p)]
    cmd += ["--max-new-tokens", str(max_new), "--output-json", out_json, "--quiet"] + list(extra)
    run_tool(cmd, timeout, what)
    return parse_generate_json(read_json(out_json, what), len(prompts), max_new)


_GPU_TIME = re.compile(r"GPU time per run: median ([0-9.eE+-]+) ms, min ([0-9.eE+-]+) ms, "
                       r"max ([0-9.eE+-]+) ms(?: \((\d+) runs? after (\d+) warmup; (\d+) kernel "
                       r"launches per run; CUDA graphs (on|off)\))?")


def parse_gpu_time(text):
    """kiln-run's timing line of a plain forward (--repeat N --warmup W):
    'GPU time per run: median X ms, min Y ms, max Z ms (N runs after W warmup; L kernel
    launches per run; CUDA graphs on)' -> dict, or None when it is not there."""
    m = _GPU_TIME.search(text)
    if not m:
        return None
    r = {"median_ms": float(m.group(1)), "min_ms": float(m.group(2)),
         "max_ms": float(m.group(3))}
    if m.group(4):
        r.update(n=int(m.group(4)), warmup=int(m.group(5)), launches=int(m.group(6)),
                 cuda_graphs=m.group(7) == "on")
    return r


def kiln_forward(kiln_run, artifact, inputs, repeat, warmup, timeout, what, expect=None,
                 max_error_fraction=0.02):
    """kiln-run ARTIFACT --input NAME=FILE ... --repeat N --warmup W [--expect REF.npz]: the GPU
    time per run and the launch count; with `expect`, r['check'] says whether the outputs
    matched (a mismatch is reported, not raised: the timing line is printed before it)."""
    cmd = [kiln_run, artifact]
    for name, path in inputs.items():
        cmd += ["--input", f"{name}={path}"]
    cmd += ["--repeat", str(repeat), "--warmup", str(warmup)]
    if expect:
        cmd += ["--expect", expect, "--max-error-fraction", str(max_error_fraction)]
    out = run_tool(cmd, timeout, what, check=False)
    text = out.stdout + "\n" + out.stderr
    r = parse_gpu_time(text)
    mismatch = "outputs do not match" in text
    if out.returncode != 0 and not (mismatch and r):
        raise StepError(f"{what}: exit status {out.returncode}: {show_cmd(cmd)}\n"
                        f"{text.strip()[-3000:]}")
    if not r:
        raise StepError(f"{what}: no 'GPU time per run' line in kiln-run's output: "
                        f"{text.strip()[-1500:]}")
    if expect:
        lines = [l for l in text.splitlines() if "max|err|" in l or "FAIL" in l]
        r["check"] = {"passed": not mismatch, "detail": " ".join(lines)[-300:],
                      "how": f"--expect (torch's result) --max-error-fraction "
                             f"{max_error_fraction}"}
    return r


# ----------------------------------------------------------------------------------------------
# Child processes of this package (exports, ONNX Runtime): killable at the deadline, and their
# memory (host and device) is returned when they exit
# ----------------------------------------------------------------------------------------------

RESULT_MARK = "KILN_BENCH_RESULT "


def child_env():
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                  else "")
    return env


def emit_result(obj):
    """What a child prints last: one line RESULT_MARK + JSON."""
    import sys
    sys.stdout.write(RESULT_MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_result(text, what):
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                return json.loads(line[len(RESULT_MARK):])
            except ValueError as e:
                raise StepError(f"{what}: unreadable result line: {e}") from None
    raise StepError(f"{what}: the child process printed no result line; its output ends:\n"
                    f"{text.strip()[-2000:]}")


def run_child(module, args, timeout, what, prefix=()):
    """python3 -m kiln_bench.MODULE ARGS (optionally under `prefix`, e.g. /usr/bin/time -v);
    returns (its result object, the CompletedProcess)."""
    import sys
    cmd = list(prefix) + [sys.executable, "-m", f"kiln_bench.{module}"] + [str(a) for a in args]
    out = run_tool(cmd, timeout, what, env=child_env())
    return parse_result(out.stdout, what), out


# ----------------------------------------------------------------------------------------------
# One measurement of a row
# ----------------------------------------------------------------------------------------------

def measure(deadline, label, fn, need=5.0):
    """fn() -> a measurement dict, bounded by the deadline: {"skipped": "deadline"} when less
    than `need` seconds are left (or the deadline passes inside fn), {"error": "<label>: why"}
    when fn raises. Adds "seconds" (wall time of the measurement) and prints one line."""
    t0 = time.time()
    try:
        deadline.check(need)
        r = fn()
        if not isinstance(r, dict):
            raise StepError(f"internal: {label} returned {type(r).__name__}")
    except DeadlineReached:
        r = {"skipped": "deadline"}
    except StepError as e:
        if "timed out" in str(e) and deadline.left() < 2:
            # The tool got only what was left of the run: the deadline stopped it.
            r = {"skipped": f"deadline (stopped: {str(e).splitlines()[0][:300]})"}
        else:
            r = {"error": f"{label}: {e}"}
    except Exception as e:  # noqa: BLE001  (one row's failure never stops the suite)
        import traceback
        traceback.print_exc()
        r = {"error": f"{label}: {type(e).__name__}: {e}"}
    if "error" in r and not str(r["error"]).startswith(label):
        r["error"] = f"{label}: {r['error']}"
    r["seconds"] = round(time.time() - t0, 1)
    if "median_ms" in r:
        shown = f"median {r['median_ms']:.4g} ms (n {r.get('n', '?')})"
    else:
        key = next((k for k in ("error", "na", "skipped") if k in r), None)
        shown = f"{key}: {str(r[key]).splitlines()[0][:200]}" if key else "done"
    print(f"  [{label}] {shown} ({r['seconds']} s)", flush=True)
    return r


def combine_runs(runs):
    """One measurement from several runs' {median_ms, min_ms, max_ms, n}: the median of the
    run medians, the extreme min and max, n summed."""
    meds = [r["median_ms"] for r in runs]
    return {"median_ms": statistics.median(meds), "min_ms": min(r["min_ms"] for r in runs),
            "max_ms": max(r["max_ms"] for r in runs), "n": sum(r["n"] for r in runs),
            "run_medians_ms": meds}
