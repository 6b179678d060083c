"""ONNX Runtime as a peer, always in a child process (python3 -m kiln_bench.peers_ort): a
session that hangs is killed at the deadline, its device memory is returned when it exits, and
its CUDA libraries never meet torch's in one process.

  session  --onnx M --provider cpu|cuda
           time of InferenceSession(M) (default options: ORT_ENABLE_ALL graph optimizations)
  prefill  --onnx M --lengths 512,4096 --reps N --warmup W --vocab V
           CUDA EP session on M; per length, session.run of input_ids [1, S] (random ids) with
           IOBinding, the logits left on the device; wall time per run (the CUDA EP
           synchronizes at the end of each run)

Each prints one result line (tools.RESULT_MARK + JSON); where ONNX Runtime or its CUDA EP is
missing the result is {"na": "<why>"}.
"""

import argparse
import sys
import time

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def _session(path, provider):
    """(session, seconds to create it) or {"na": why}."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        return {"na": f"onnxruntime is not installed ({e})"}
    avail = ort.get_available_providers()
    if provider == "cuda" and CUDA not in avail:
        return {"na": f"onnxruntime {ort.__version__} has no {CUDA} (available: "
                      f"{', '.join(avail)})"}
    providers = [CUDA, CPU] if provider == "cuda" else [CPU]
    t0 = time.perf_counter()
    sess = ort.InferenceSession(path, ort.SessionOptions(), providers=providers)
    seconds = time.perf_counter() - t0
    if provider == "cuda" and sess.get_providers()[0] != CUDA:
        return {"na": f"onnxruntime {ort.__version__} did not start its {CUDA} (session "
                      f"providers: {sess.get_providers()}); see its warnings"}
    return sess, seconds


def _info(sess):
    import onnxruntime as ort
    r = {"onnxruntime": ort.__version__, "providers": sess.get_providers()}
    try:
        opts = sess.get_provider_options().get(CUDA)
        if opts:
            r["cuda_options"] = {k: opts[k] for k in ("use_tf32", "cudnn_conv_algo_search",
                                                      "enable_cuda_graph") if k in opts}
    except Exception:  # noqa: BLE001
        pass
    return r


def session_main(a):
    got = _session(a.onnx, a.provider)
    if isinstance(got, dict):
        return got
    sess, seconds = got
    return dict(_info(sess), session_s=seconds)


def prefill_main(a):
    import numpy as np
    got = _session(a.onnx, "cuda")
    if isinstance(got, dict):
        return got
    sess, seconds = got
    inp = sess.get_inputs()[0].name
    out = sess.get_outputs()[0].name
    rng = np.random.default_rng(0)
    rows = {}
    for n in [int(x) for x in a.lengths.split(",") if x]:
        ids = rng.integers(0, min(a.vocab, 1000), size=(1, n), dtype=np.int64)
        try:
            times = []
            for r in range(a.warmup + a.reps):
                io = sess.io_binding()
                io.bind_cpu_input(inp, ids)
                io.bind_output(out, "cuda")
                t0 = time.perf_counter()
                sess.run_with_iobinding(io)
                io.synchronize_outputs()
                ms = (time.perf_counter() - t0) * 1e3
                if r >= a.warmup:
                    times.append(ms)
                del io
            rows[str(n)] = {"times_ms": times}
        except Exception as e:  # noqa: BLE001
            rows[str(n)] = {"error": f"ONNX Runtime {CUDA} run at {n} tokens: "
                                     f"{type(e).__name__}: {str(e)[:500]}"}
    return dict(_info(sess), session_s=seconds, rows=rows,
                how="session.run_with_iobinding, input from the host, logits left on the "
                    "device; wall time per run")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=("session", "prefill"))
    p.add_argument("--onnx", required=True)
    p.add_argument("--provider", choices=("cpu", "cuda"), default="cuda")
    p.add_argument("--lengths", default="512")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--vocab", type=int, default=1000)
    a = p.parse_args(argv)
    from .tools import emit_result
    try:
        result = session_main(a) if a.mode == "session" else prefill_main(a)
    except Exception as e:  # noqa: BLE001  (the parent reports it as the row's error)
        result = {"error": f"ONNX Runtime ({a.mode}, {a.provider}): {type(e).__name__}: "
                           f"{str(e)[:800]}"}
    emit_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
