"""Kernels: Kiln's attention, decode attention and GEMM/GEMV next to PyTorch's (fp16).

  * Causal prefill attention, B1 H32 S4096 D128 and B4 H16 S2048 D64. Kiln: a one-block ONNX
    graph (inputs q, k, v [B, H, S, D] fp16; MatMul(q, Transpose(k)) x scale, a causal mask
    Where(Greater(kv index, q index), -inf, scores) from Range over Shape(q)[2], Softmax,
    MatMul v) that kiln-fuse-attention turns into one causal kiln.attention: one kernel, no
    conversion (fp16 in and out), timed by `kiln-run A --input q=.. --repeat N --warmup 3`
    ("GPU time per run", CUDA events around the CUDA graph replay) and checked against
    PyTorch's result (--expect, max error 2% of max |ref|). Peer: F.scaled_dot_product_attention
    (is_causal=True) under the flash backend, one call in a CUDA graph, CUDA events around each
    replay. TFLOP/s = 4 B H S^2 D / 2 / time (QK^T and PV, 2 flop per multiply-add, half of the
    score matrix under the causal mask).
  * Decode attention, B1 H32 D128 at context 4096: Kiln's exists only inside a decode entry, so a
    one-layer Llama-shaped model (hidden 4096, 32 heads, 32 KV heads) is compiled and run under
    ncu (`ncu --csv --clock-control none --metrics gpu__time_duration.sum --kernel-name
    regex:kv_cache_decode_ kiln-run A --generate --prompt-ids <4095 ids> --max-new-tokens 4
    --no-cuda-graph`); a step's time is its split kernel plus its combine kernel (kernel time
    only, clocks not locked). Peer: SDPA of q [1,32,1,128] over k, v [1,32,4096,128], 20 calls
    in one CUDA graph (per-call average: kernel time plus the gaps between graph nodes).
    GB/s = K and V bytes read (2 x 32 x 4096 x 128 x 2) / time; floor = those bytes / copy
    bandwidth.
  * GEMM/GEMV, M x N x K = 4096x4096x4096, 2048x11008x4096, 1x4096x4096: Kiln: an ONNX graph
    y = MatMul(x [M, K] fp16, W [K, N] fp16 initializer), which kiln-raise makes one kiln.linear
    (weight transposed at compile time): one GEMM (or GEMV for M = 1) kernel. Peer: torch.matmul
    (cuBLAS) on the same x and W, one call in a CUDA graph. TFLOP/s = 2 M N K / time; the GEMV
    also GB/s = (K N + M K + M N) x 2 bytes / time, floor = those bytes / copy bandwidth.
"""

import csv
import io
import json
import os
import shutil

from . import models, tools

ATTENTION = ((1, 32, 4096, 128), (4, 16, 2048, 64))
GEMMS = ((4096, 4096, 4096), (2048, 11008, 4096), (1, 4096, 4096))
DECODE_ATTENTION = dict(batch=1, heads=32, kv_heads=32, context=4096, head_dim=128)
KV_KERNELS = "kv_cache_decode_"     # KVCacheKernels.cpp: split and combine kernel prefixes


# ----------------------------------------------------------------------------------------------
# Formulas (pure; checked by --self-test)
# ----------------------------------------------------------------------------------------------

def attention_flop(B, H, S, D, causal=True):
    """QK^T and PV: 2 x (2 B H S S D) flop, halved by the causal mask."""
    f = 4 * B * H * S * S * D
    return f / 2 if causal else f


def gemm_flop(M, N, K):
    return 2 * M * N * K


def gemm_bytes(M, N, K, elem=2):
    """Bytes a GEMM must move at least once: W, x and y."""
    return (K * N + M * K + M * N) * elem


def kv_bytes(kv_heads, context, head_dim, elem=2, batch=1):
    """K and V bytes one decode attention step reads."""
    return 2 * batch * kv_heads * context * head_dim * elem


_UNIT_US = {"ns": 1e-3, "nsecond": 1e-3, "nsecond(s)": 1e-3, "us": 1.0, "usecond": 1.0,
            "microsecond": 1.0, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}


def parse_ncu_csv(text, metric="gpu__time_duration.sum"):
    """[{"kernel": name, "us": duration}] in launch order from `ncu --csv` output (other lines,
    e.g. ==PROF== and the program's own, are skipped); StepError when there is no table."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines)
                  if l.startswith('"ID"') and "Metric Value" in l), None)
    if start is None:
        raise tools.StepError("ncu printed no CSV table; its output ends:\n"
                              + text.strip()[-1500:])
    table = [l for l in lines[start:] if l.startswith('"')]
    reader = csv.DictReader(io.StringIO("\n".join(table)))
    out = []
    name_key = next((k for k in ("Kernel Name", "Function Name", "Name")
                     if k in (reader.fieldnames or [])), None)
    if not name_key:
        raise tools.StepError(f"ncu's CSV has no kernel name column: {reader.fieldnames}")
    for row in reader:
        if row.get("Metric Name") != metric:
            continue
        unit = (row.get("Metric Unit") or "ns").strip().lower()
        if unit not in _UNIT_US:
            raise tools.StepError(f"ncu's unit {unit!r} for {metric} is unknown")
        value = float((row.get("Metric Value") or "nan").replace(",", ""))
        out.append({"kernel": row[name_key], "us": value * _UNIT_US[unit],
                    "id": row.get("ID")})
    return out


def decode_steps_from_ncu(records, layers=1):
    """Per decode step: the split kernels' plus the combine kernels' time (µs) of `layers`
    layers, in launch order."""
    split = [r["us"] for r in records if "combine" not in r["kernel"]]
    comb = [r["us"] for r in records if "combine" in r["kernel"]]
    if not split or not comb:
        raise tools.StepError(f"ncu saw {len(split)} split and {len(comb)} combine decode "
                              f"attention kernels; names: "
                              f"{sorted({r['kernel'][:80] for r in records})}")
    steps = min(len(split), len(comb)) // layers
    return [sum(split[i * layers:(i + 1) * layers]) + sum(comb[i * layers:(i + 1) * layers])
            for i in range(steps)], split, comb


# ----------------------------------------------------------------------------------------------
# ONNX graphs (onnx + numpy)
# ----------------------------------------------------------------------------------------------

def attention_scale(D):
    """The graph's scale constant is fp16: 1/sqrt(D) rounded to fp16 (PyTorch gets the same)."""
    import numpy as np
    return float(np.float16(1.0 / np.sqrt(D)))


def attention_model(B, H, S, D):
    """q, k, v [B, H, S, D] fp16 -> causal attention, written as exporters write it."""
    import numpy as np
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    f16 = TP.FLOAT16
    inputs = [h.make_tensor_value_info(n, f16, [B, H, S, D]) for n in ("q", "k", "v")]
    output = h.make_tensor_value_info("out", f16, [B, H, S, D])
    inits = [nh.from_array(np.array(attention_scale(D), np.float16), "scale"),
             nh.from_array(np.array(-np.inf, np.float16), "neg_inf"),
             nh.from_array(np.array(0, np.int64), "zero"),
             nh.from_array(np.array(1, np.int64), "one"),
             nh.from_array(np.array([0], np.int64), "axis0"),
             nh.from_array(np.array([1], np.int64), "axis1")]
    nodes = [h.make_node("Shape", ["q"], ["q_shape"], start=2, end=3),
             h.make_node("Squeeze", ["q_shape"], ["seq"]),
             h.make_node("Range", ["zero", "seq", "one"], ["positions"]),
             h.make_node("Unsqueeze", ["positions", "axis0"], ["kv_index"]),
             h.make_node("Unsqueeze", ["positions", "axis1"], ["q_index"]),
             h.make_node("Greater", ["kv_index", "q_index"], ["hidden"]),
             h.make_node("Transpose", ["k"], ["k_t"], perm=[0, 1, 3, 2]),
             h.make_node("MatMul", ["q", "k_t"], ["scores"]),
             h.make_node("Mul", ["scores", "scale"], ["scaled"]),
             h.make_node("Where", ["hidden", "neg_inf", "scaled"], ["masked"]),
             h.make_node("Softmax", ["masked"], ["probs"], axis=-1),
             h.make_node("MatMul", ["probs", "v"], ["out"])]
    g = h.make_graph(nodes, f"causal_attention_B{B}_H{H}_S{S}_D{D}", inputs, [output], inits)
    return h.make_model(g, opset_imports=[h.make_opsetid("", 18)],
                        producer_name="kiln_bench", ir_version=KERNEL_GRAPH_IR_VERSION)


# onnx >= 1.19's make_model writes the newest IR version (14 with onnx 1.23); Kiln reads 7..10,
# and opset 18 needs no more than IR 8.
KERNEL_GRAPH_IR_VERSION = 8


def gemm_weight(N, K, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((K, N), dtype=np.float32) / np.sqrt(K)).astype(np.float16)


def gemm_model(M, N, K, w):
    """y [M, N] = MatMul(x [M, K], W [K, N] constant), fp16."""
    from onnx import TensorProto as TP
    from onnx import helper as h
    from onnx import numpy_helper as nh
    g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"])], f"gemm_{M}x{N}x{K}",
                     [h.make_tensor_value_info("x", TP.FLOAT16, [M, K])],
                     [h.make_tensor_value_info("y", TP.FLOAT16, [M, N])],
                     [nh.from_array(w, "w")])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 18)], producer_name="kiln_bench",
                        ir_version=KERNEL_GRAPH_IR_VERSION)


def random_f16(shape, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32).astype(np.float16)


def _save_model(model, path, spec):
    """Write model to path unless the same spec was written there before."""
    import onnx
    stamp = path + ".spec.json"
    text = json.dumps(dict(spec, ir_version=KERNEL_GRAPH_IR_VERSION), sort_keys=True)
    if os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == text:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model() if callable(model) else model, path)
    with open(stamp, "w") as f:
        f.write(text)


# ----------------------------------------------------------------------------------------------
# Rows
# ----------------------------------------------------------------------------------------------

def row_ids(args):
    ids = [f"kernels attention causal B{B} H{H} S{S} D{D}" for B, H, S, D in ATTENTION]
    a = DECODE_ATTENTION
    ids.append(f"kernels decode attention B{a['batch']} H{a['heads']} ctx{a['context']} "
               f"D{a['head_dim']}")
    ids += [f"kernels {'gemv' if M == 1 else 'gemm'} {M}x{N}x{K}" for M, N, K in GEMMS]
    return ids


def run(args, deadline, header):
    bw = (header.get("copy_bandwidth") or {}).get("bytes_per_s")
    rows = []
    for B, H, S, D in ATTENTION:
        rows.append(attention_row(args, deadline, B, H, S, D))
    rows.append(decode_attention_row(args, deadline, bw))
    for M, N, K in GEMMS:
        rows.append(gemm_row(args, deadline, M, N, K, bw))
    notes = [f"Kiln: kiln-run --repeat {args.kernel_reps} --warmup 3 (GPU time per run: CUDA "
             "events around the CUDA graph of the one kernel); peers: one call in a CUDA graph, "
             f"CUDA events around each of {args.kernel_reps} replays after 3 warm-up; decode "
             "attention: Kiln under ncu (kernel time), SDPA as 20 calls per graph.",
             "Attention TFLOP/s = 4 B H S^2 D / 2 / time (causal); GEMM TFLOP/s = 2 M N K / "
             "time; GB/s = bytes that must be read (and written) once / time; % of floor = "
             "(bytes / copy bandwidth) / time, given where the kernel is bound by memory."]
    return {"rows": rows, "notes": notes}


def _kdir(args, name):
    d = os.path.join(args.work, "kernels", name)
    os.makedirs(d, exist_ok=True)
    return d


def kiln_graph_row(args, deadline, rid, state, got, d, inputs, ref, what):
    """Kiln's cell of a kernel row: compile the row's ONNX graph (state["onnx"]) to
    D/fp16.kiln (cached), time it with kiln-run --repeat, compared with the peer's outputs in
    `ref` when the peer wrote them; `got` (the graph step's result) stands in when the graph
    could not be written. The reference is removed afterwards (written again by the next run,
    from that run's inputs)."""
    def kiln():
        artifact, seconds, _ = tools.compile_cached(
            args.kiln_compile, state["onnx"], os.path.join(d, "fp16.kiln"),
            [["--precision=fp16"]], deadline.timeout(args.compile_timeout),
            f"kiln-compile of {what}", recompile=args.recompile)
        r = tools.kiln_forward(args.kiln_run, artifact, inputs, args.kernel_reps, 3,
                               deadline.timeout(args.run_timeout), f"kiln-run of {what}",
                               expect=ref if os.path.exists(ref) else None)
        r["compile_s"] = seconds
        return r
    cell = tools.measure(deadline, f"{rid}: Kiln", kiln) if "onnx" in state else \
        {k: v for k, v in got.items() if k != "seconds"}
    if os.path.exists(ref):
        os.remove(ref)
    return cell


def attention_row(args, deadline, B, H, S, D):
    rid = f"kernels attention causal B{B} H{H} S{S} D{D}"
    d = _kdir(args, f"attention_B{B}_H{H}_S{S}_D{D}")
    row = {"id": rid, "labels": {"kernel": "causal prefill attention",
                                 "shape": f"B{B} H{H} S{S} D{D}"},
           "flop": attention_flop(B, H, S, D), "metric": "tflops", "peers": {},
           "notes": []}
    files = {n: os.path.join(d, f"{n}.npy") for n in ("q", "k", "v")}
    ref = os.path.join(d, "ref.npz")
    state = {}

    def inputs():
        import numpy as np
        for i, (n, p) in enumerate(files.items()):
            if not os.path.exists(p):
                np.save(p, random_f16((B, H, S, D), seed=10 + i))
        path = os.path.join(d, "model.onnx")
        _save_model(lambda: attention_model(B, H, S, D), path, {"B": B, "H": H, "S": S, "D": D})
        state["onnx"] = path
        return {"done": True}
    got = tools.measure(deadline, f"{rid}: inputs + ONNX graph", inputs, need=10)

    def peer():
        import numpy as np
        import torch
        import torch.nn.functional as F
        from . import peers_torch
        q, k, v = (torch.from_numpy(np.load(files[n])).cuda() for n in ("q", "k", "v"))
        scale = attention_scale(D)

        def fn():
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                fn()                                   # raises when flash cannot run it
                times, how = peers_torch.time_graph(fn, args.kernel_reps, 3)
                out = fn()
            name = "sdpa_flash"
        except (ImportError, RuntimeError) as e:
            print(f"  (SDPA flash backend: {type(e).__name__}: {str(e)[:200]}; timing SDPA's "
                  "own choice)", flush=True)
            times, how = peers_torch.time_graph(fn, args.kernel_reps, 3)
            out = fn()
            name = "sdpa"
        np.savez(ref, out=out.cpu().numpy())
        state["peer_name"] = name
        return dict(tools.summarize(times), how=how + f"; scale {scale} (the graph's fp16 "
                                                        "constant)")
    if "onnx" in state:
        p = tools.measure(deadline, f"{rid}: PyTorch SDPA", peer)
        row["peers"][state.get("peer_name", "sdpa_flash")] = p
    else:
        row["peers"]["sdpa_flash"] = {k: v for k, v in got.items() if k != "seconds"}

    row["kiln"] = kiln_graph_row(args, deadline, rid, state, got, d, files, ref,
                                 f"the attention graph B{B} H{H} S{S} D{D}")
    return row


def gemm_row(args, deadline, M, N, K, bw):
    kind = "gemv" if M == 1 else "gemm"
    rid = f"kernels {kind} {M}x{N}x{K}"
    d = _kdir(args, f"{kind}_{M}x{N}x{K}")
    row = {"id": rid, "labels": {"kernel": "GEMV" if M == 1 else "GEMM",
                                 "shape": f"{M}x{N}x{K} (M x N x K)"},
           "flop": gemm_flop(M, N, K), "metric": "gbps" if M == 1 else "tflops",
           "peers": {}, "notes": []}
    if M == 1:
        row["bytes"] = gemm_bytes(M, N, K)
        row["floor_ms"] = row["bytes"] / bw * 1e3 if bw else None
    x_path = os.path.join(d, "x.npy")
    w_path = os.path.join(d, "w.npy")
    ref = os.path.join(d, "ref.npz")
    state = {}

    def inputs():
        import numpy as np
        if not os.path.exists(w_path):
            np.save(w_path, gemm_weight(N, K))
        if not os.path.exists(x_path):
            np.save(x_path, random_f16((M, K), seed=20))
        path = os.path.join(d, "model.onnx")
        _save_model(lambda: gemm_model(M, N, K, np.load(w_path)), path,
                    {"M": M, "N": N, "K": K})
        state["onnx"] = path
        return {"done": True}
    got = tools.measure(deadline, f"{rid}: inputs + ONNX graph", inputs, need=10)

    def peer():
        import numpy as np
        import torch
        from . import peers_torch
        x = torch.from_numpy(np.load(x_path)).cuda()
        w = torch.from_numpy(np.load(w_path)).cuda()
        times, how = peers_torch.time_graph(lambda: torch.matmul(x, w), args.kernel_reps, 3)
        np.savez(ref, y=torch.matmul(x, w).cpu().numpy())
        return dict(tools.summarize(times), how=how)
    row["peers"]["cublas"] = tools.measure(deadline, f"{rid}: torch.matmul", peer) \
        if "onnx" in state else {k: v for k, v in got.items() if k != "seconds"}

    row["kiln"] = kiln_graph_row(args, deadline, rid, state, got, d, {"x": x_path}, ref,
                                 f"the {kind} graph {M}x{N}x{K}")
    return row


def find_ncu():
    return shutil.which("ncu") or next(
        (p for p in ("/usr/local/cuda/bin/ncu", "/opt/nvidia/nsight-compute/ncu")
         if os.path.exists(p)), None)


def decode_attention_row(args, deadline, bw):
    a = DECODE_ATTENTION
    H, C, D = a["heads"], a["context"], a["head_dim"]
    rid = f"kernels decode attention B1 H{H} ctx{C} D{D}"
    row = {"id": rid, "labels": {"kernel": "decode attention (split + combine)",
                                 "shape": f"B1 H{H} KV heads {a['kv_heads']} ctx {C} D{D}"},
           "bytes": kv_bytes(a["kv_heads"], C, D), "metric": "gbps", "peers": {},
           "notes": ["Kiln: one-layer Llama-shaped model (hidden 4096) under ncu; SDPA: "
                     "per-call average of 20 calls in a CUDA graph"]}
    row["floor_ms"] = row["bytes"] / bw * 1e3 if bw else None

    def peer():
        import torch
        import torch.nn.functional as F
        from . import peers_torch
        g = torch.Generator(device="cuda").manual_seed(0)
        q = torch.randn(1, H, 1, D, device="cuda", dtype=torch.float16, generator=g)
        k = torch.randn(1, a["kv_heads"], C, D, device="cuda", dtype=torch.float16, generator=g)
        v = torch.randn(1, a["kv_heads"], C, D, device="cuda", dtype=torch.float16, generator=g)
        times, how = peers_torch.time_graph(lambda: F.scaled_dot_product_attention(q, k, v),
                                            args.kernel_reps, 3, calls=20)
        return dict(tools.summarize(times), how=how)
    row["peers"]["sdpa"] = tools.measure(deadline, f"{rid}: PyTorch SDPA", peer)

    def kiln():
        ncu = find_ncu()
        if not ncu:
            raise tools.StepError("ncu (Nsight Compute) is not installed (not on PATH, not in "
                                  "/usr/local/cuda/bin)")
        s = models.shape("attn_probe")
        max_seq = C + 64
        path, _ = models.ensure_onnx(args.work, s, deadline)
        artifact = os.path.join(os.path.dirname(path), f"fp16-seq{max_seq}-b1.kiln")
        artifact, _, _ = tools.compile_cached(
            args.kiln_compile, path, artifact, [models.compile_flags(max_seq, 1)],
            deadline.timeout(args.compile_timeout), "kiln-compile of the one-layer probe",
            recompile=args.recompile)
        ids = ",".join(str(i % 256) for i in range(C - 1))
        cmd = [ncu, "--csv", "--clock-control", "none", "--metrics", "gpu__time_duration.sum",
               "--kernel-name", "regex:" + KV_KERNELS, args.kiln_run, artifact, "--generate",
               "--prompt-ids", ids, "--max-new-tokens", "4", "--max-batch", "1", "--quiet",
               "--no-cuda-graph"]
        out = tools.run_tool(cmd, deadline.timeout(300), "ncu on kiln-run --generate "
                             f"(one-layer probe, prompt {C - 1} tokens)", check=False)
        text = out.stdout + "\n" + out.stderr
        if out.returncode != 0:
            raise tools.StepError(f"ncu on kiln-run: exit status {out.returncode}: "
                                  f"{tools.show_cmd(cmd)}\n{text.strip()[-2500:]}")
        steps, split, comb = decode_steps_from_ncu(parse_ncu_csv(text))
        r = tools.summarize([us * 1e-3 for us in steps])
        r.update(split_us=split, combine_us=comb,
                 kernels=sorted({x["kernel"] for x in parse_ncu_csv(text)}),
                 how="ncu gpu__time_duration.sum, --clock-control none: split + combine "
                     f"kernel of each decode step at {C}..{C + len(steps) - 1} keys")
        return r
    row["kiln"] = tools.measure(deadline, f"{rid}: Kiln (ncu)", kiln, need=30)
    return row

