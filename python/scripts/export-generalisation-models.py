#!/usr/bin/env python3
"""Export Kiln's "generalisation" fixtures: tiny, randomly initialised Hugging Face
causal LMs of architectures that Kiln's passes were NOT written against, exported to
ONNX with PyTorch's own exporters, with ONNX Runtime and PyTorch reference outputs.

This file is also the record of exactly how each fixture in models/generalisation/
was made.  How it was run (on the device machine, CPU only; torch 2.11, transformers
5.17, onnx 1.23, onnxruntime 1.30, onnxscript 0.7):

    PYTHONUNBUFFERED=1 python3 python/scripts/export-generalisation-models.py \
        --out /tmp/gen --jobs 12 --deadline 320
    cd /tmp/gen && tar czf - . | split -b 15m -d -a 1 - $OUT/gen-models.tgz.part

What one fixture is (for every entry of FIXTURES below):

  * config: the architecture's transformers config class with a tiny shape:
    2 layers, hidden 128, 4 attention heads (head_dim 32), intermediate 256,
    vocab 512, max positions 128, use_cache=False, plus the per-architecture
    options listed in ARCHS (GQA kv heads, partial rotary, ...).
  * weights: torch.manual_seed(0), then AutoModelForCausalLM.from_config(config,
    attn_implementation=IMPL) with IMPL "eager" (and "sdpa" for the *_sdpa_* files);
    float32, .eval().
  * graph: a wrapper module forward(input_ids) -> model(input_ids=input_ids,
    use_cache=False).logits, so the graph is input_ids [1, 32] int64 -> logits
    [1, 32, 512] float32 and has no KV-cache inputs or outputs.  In the
    *_onesmask_ts17 fixtures the wrapper also passes
    attention_mask=torch.ones_like(input_ids) (built inside the graph from input_ids),
    because without it transformers 5.17's mask code calls torch.diff, which the
    TorchScript exporter cannot export at opset 17 (the plain *_ts17 attempts are kept
    in summary.json with that error).
  * exporter: torch.onnx.export(..., dynamo=True, opset_version=18,
    external_data=False; the exporter's default optimize=True) ("dynamo18") or
    torch.onnx.export(..., dynamo=False, opset_version=17, do_constant_folding=True)
    ("ts17", the TorchScript exporter).
    The weights are stored inside the .onnx file (no external data).
  * names: ARCH[_sdpa][_dynseq|_onesmask]_{dynamo18|ts17}.onnx; no "_sdpa" means
    attn_implementation="eager".
  * input: in0 = numpy.random.default_rng(0).integers(0, 512, size=(1, 32)), int64
    (the same tokens for every fixture).
  * NAME.ref.npz: in0 (the input ids), ort_out0 (ONNX Runtime, CPUExecutionProvider,
    graph optimisations disabled, so it evaluates the graph as written) and
    torch_out0 (PyTorch eager output of the same module).
  * the *_dynseq_* fixture has a dynamic `seq` axis on input_ids and logits; besides
    NAME.ref.npz (seq 32) it has NAME.seq17.ref.npz (seq 17, from
    default_rng(17).integers(0, 512, size=(1, 17))).

Every fixture is exported in its own subprocess (so that one exporter crash or hang
cannot take the others down); a failure is caught and its error text recorded in
summary.json instead of aborting.  Per fixture the script prints max |ort - torch| and
the op-type histogram of the exported graph.  summary.json lists, per fixture,
architecture, exporter, opset, file size, status, error (if any), op histogram, the
rotary buffers seen in the PyTorch model (to confirm partial rotary), and the
transformers / torch / onnx / onnxruntime / onnxscript versions.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time
import traceback

SEQ = 32
VOCAB = 512

# Common tiny shape.  head_dim = 128 / 4 = 32.
COMMON = dict(vocab_size=VOCAB, max_position_embeddings=128, use_cache=False)

# Per architecture: transformers config class name, its kwargs, and what the fixture
# exercises (copied into summary.json and the README).
ARCHS = {
    "qwen2": dict(
        config="Qwen2Config",
        kwargs=dict(COMMON, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2,
                    use_sliding_window=False, tie_word_embeddings=False),
        exercises="GQA 4/2, biases on q/k/v projections (none on o), RMSNorm, SwiGLU, full rotary (rotate_half)",
    ),
    "mistral": dict(
        config="MistralConfig",
        kwargs=dict(COMMON, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                    sliding_window=None, tie_word_embeddings=False),
        exercises="GQA 4/2, no biases, RMSNorm, SwiGLU, full rotary; sliding window off",
    ),
    "opt": dict(
        config="OPTConfig",
        kwargs=dict(COMMON, hidden_size=128, ffn_dim=256, num_hidden_layers=2,
                    num_attention_heads=4, word_embed_proj_dim=128,
                    do_layer_norm_before=True, activation_function="relu",
                    enable_bias=True, layer_norm_elementwise_affine=True,
                    dropout=0.0, attention_dropout=0.0, layerdrop=0.0),
        exercises="MHA 4 heads, learned positions (offset 2, from the cumsum of an all-ones mask), pre-LN LayerNorm, ReLU MLP, biases everywhere, tied lm_head",
    ),
    "stablelm": dict(
        config="StableLmConfig",
        kwargs=dict(COMMON, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=4,
                    partial_rotary_factor=0.25, use_qkv_bias=False,
                    qk_layernorm=False, use_parallel_residual=False,
                    tie_word_embeddings=False),
        exercises="partial rotary (25% of head_dim = 8 dims rotated, rotate_half), LayerNorm (not RMSNorm), SwiGLU, MHA",
    ),
    "phi": dict(
        config="PhiConfig",
        kwargs=dict(COMMON, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=4,
                    partial_rotary_factor=0.5, hidden_act="gelu_new",
                    resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
                    qk_layernorm=False, tie_word_embeddings=False),
        exercises="partial rotary (50% = 16 dims), parallel attention + MLP residual, one LayerNorm per block, gelu_new (tanh) MLP, biases everywhere incl. lm_head",
    ),
    "gptj": dict(
        config="GPTJConfig",
        kwargs=dict(COMMON, n_embd=128, n_layer=2, n_head=4, n_inner=256,
                    n_positions=128, rotary_dim=16, activation_function="gelu_new",
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                    tie_word_embeddings=False),
        exercises="interleaved (GPT-J style rotate_every_two) partial rotary, 16 of 32 dims, sin/cos from a precomputed table, parallel residual, gelu_new, no qkv biases",
    ),
    "gptneox": dict(
        config="GPTNeoXConfig",
        kwargs=dict(COMMON, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                    num_attention_heads=4, rotary_pct=0.25, partial_rotary_factor=0.25,
                    hidden_act="gelu", use_parallel_residual=True,
                    attention_bias=True, attention_dropout=0.0, hidden_dropout=0.0,
                    tie_word_embeddings=False),
        exercises="fused QKV projection with per-head [q|k|v] interleaving, rotary_pct 0.25 (8 dims), parallel residual, exact GELU, biases",
    ),
    "falcon": dict(
        config="FalconConfig",
        kwargs=dict(COMMON, hidden_size=128, ffn_hidden_size=256, num_hidden_layers=2,
                    num_attention_heads=4, multi_query=True,
                    new_decoder_architecture=False, parallel_attn=True, bias=False,
                    alibi=False, attention_dropout=0.0, hidden_dropout=0.0,
                    tie_word_embeddings=False),
        exercises="multi-query attention (1 kv head), fused QKV, parallel attention + MLP with one LayerNorm, full rotary, GELU, no biases",
    ),
}

# (name, arch, attn_implementation, exporter, opset, dynamic seq, ones mask) in
# priority order: the required ones first, so that a deadline drops only the optional
# tail.  "ones mask": the wrapper passes attention_mask=torch.ones_like(input_ids) to
# the model (still one graph input, input_ids).  These *_onesmask_ts17 variants exist
# because with attention_mask=None transformers 5.17 builds the causal mask through
# its packed-sequence detection (torch.diff on position_ids), and the TorchScript
# exporter has no symbolic for aten::diff at opset 17; see the plain *_ts17 entries,
# which are kept so that summary.json records that failure.
FIXTURES = [
    ("qwen2_dynamo18", "qwen2", "eager", "dynamo", 18, False, False),
    ("mistral_dynamo18", "mistral", "eager", "dynamo", 18, False, False),
    ("opt_dynamo18", "opt", "eager", "dynamo", 18, False, False),
    ("stablelm_dynamo18", "stablelm", "eager", "dynamo", 18, False, False),
    ("phi_dynamo18", "phi", "eager", "dynamo", 18, False, False),
    ("qwen2_ts17", "qwen2", "eager", "torchscript", 17, False, False),
    ("mistral_ts17", "mistral", "eager", "torchscript", 17, False, False),
    ("opt_ts17", "opt", "eager", "torchscript", 17, False, False),
    ("stablelm_ts17", "stablelm", "eager", "torchscript", 17, False, False),
    ("phi_ts17", "phi", "eager", "torchscript", 17, False, False),
    ("qwen2_dynseq_dynamo18", "qwen2", "eager", "dynamo", 18, True, False),
    ("gptj_dynamo18", "gptj", "eager", "dynamo", 18, False, False),
    ("gptneox_dynamo18", "gptneox", "eager", "dynamo", 18, False, False),
    ("gptj_ts17", "gptj", "eager", "torchscript", 17, False, False),
    ("gptneox_ts17", "gptneox", "eager", "torchscript", 17, False, False),
    ("falcon_dynamo18", "falcon", "eager", "dynamo", 18, False, False),
    ("falcon_ts17", "falcon", "eager", "torchscript", 17, False, False),
    ("qwen2_sdpa_dynamo18", "qwen2", "sdpa", "dynamo", 18, False, False),
    ("qwen2_sdpa_ts17", "qwen2", "sdpa", "torchscript", 17, False, False),
    ("mistral_sdpa_dynamo18", "mistral", "sdpa", "dynamo", 18, False, False),
    ("opt_sdpa_dynamo18", "opt", "sdpa", "dynamo", 18, False, False),
    ("stablelm_sdpa_dynamo18", "stablelm", "sdpa", "dynamo", 18, False, False),
    ("phi_sdpa_dynamo18", "phi", "sdpa", "dynamo", 18, False, False),
    ("gptneox_sdpa_dynamo18", "gptneox", "sdpa", "dynamo", 18, False, False),
    ("qwen2_onesmask_ts17", "qwen2", "eager", "torchscript", 17, False, True),
    ("mistral_onesmask_ts17", "mistral", "eager", "torchscript", 17, False, True),
    ("stablelm_onesmask_ts17", "stablelm", "eager", "torchscript", 17, False, True),
    ("phi_onesmask_ts17", "phi", "eager", "torchscript", 17, False, True),
    ("gptj_onesmask_ts17", "gptj", "eager", "torchscript", 17, False, True),
    ("gptneox_onesmask_ts17", "gptneox", "eager", "torchscript", 17, False, True),
    ("qwen2_sdpa_onesmask_ts17", "qwen2", "sdpa", "torchscript", 17, False, True),
]


def versions():
    out = {"python": sys.version.split()[0]}
    for mod in ("torch", "transformers", "onnx", "onnxruntime", "onnxscript", "numpy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001
            out[mod] = f"unavailable: {e!r}"
    return out


def input_ids(seq, seed):
    import numpy as np
    return np.random.default_rng(seed).integers(0, VOCAB, size=(1, seq)).astype(np.int64)


def op_histogram(model):
    """Op types of the main graph (and of local functions, prefixed 'fn:'), recursing
    into If/Loop/Scan bodies."""
    hist = collections.Counter()

    def walk(graph, prefix=""):
        for n in graph.node:
            key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
            hist[prefix + key] += 1
            for a in n.attribute:
                if a.g is not None and a.HasField("g"):
                    walk(a.g, prefix)
                for g in a.graphs:
                    walk(g, prefix)

    walk(model.graph)
    for f in model.functions:
        for n in f.node:
            hist["fn:" + n.op_type] += 1
    return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


def run_one(name, outdir):
    """Build, export, check and reference one fixture.  Returns its summary record."""
    spec = {f[0]: f for f in FIXTURES}[name]
    _, arch, impl, exporter, opset, dynseq, ones_mask = spec
    a = ARCHS[arch]
    rec = dict(name=name, file=f"{name}.onnx", architecture=arch, config_class=a["config"],
               config_kwargs=a["kwargs"], attn_implementation=impl, exporter=exporter,
               opset_requested=opset, dynamic_seq=dynseq, ones_mask=ones_mask,
               exercises=a["exercises"],
               status="started", error=None, stage="import")
    t0 = time.time()
    try:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        import numpy as np
        import torch
        import transformers
        torch.set_num_threads(2)
        rec["versions"] = versions()

        rec["stage"] = "config"
        cfg_cls = getattr(transformers, a["config"])
        config = cfg_cls(**a["kwargs"])
        rec["stage"] = "model"
        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation=impl)
        model = model.float().eval()
        rec["hf_class"] = type(model).__name__
        rec["attn_implementation_effective"] = getattr(model.config, "_attn_implementation", None)
        rec["num_parameters"] = int(sum(p.numel() for p in model.parameters()))
        rec["rotary_buffers"] = {n: list(b.shape) for n, b in model.named_buffers()
                                 if "inv_freq" in n or "embed_positions" in n or "rotary" in n}
        rec["config_json"] = json.loads(model.config.to_json_string(use_diff=True))

        class LogitsOnly(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids):
                return self.m(input_ids=input_ids, use_cache=False).logits

        class LogitsOnlyOnesMask(LogitsOnly):
            def forward(self, input_ids):
                return self.m(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                              use_cache=False).logits

        wrapper = (LogitsOnlyOnesMask if ones_mask else LogitsOnly)(model).eval()
        rec["wrapper"] = ("model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), "
                          "use_cache=False).logits" if ones_mask else
                          "model(input_ids=input_ids, use_cache=False).logits")
        ids = input_ids(SEQ, 0)
        with torch.no_grad():
            torch_out = wrapper(torch.from_numpy(ids)).float().numpy()

        rec["stage"] = "export"
        path = os.path.join(outdir, f"{name}.onnx")
        te = time.time()
        with torch.no_grad():
            if exporter == "dynamo":
                kw = dict(dynamo=True, opset_version=opset, input_names=["input_ids"],
                          output_names=["logits"], external_data=False)
                if dynseq:
                    seq_dim = torch.export.Dim("seq", min=2, max=128)
                    try:
                        torch.onnx.export(wrapper, (torch.from_numpy(ids),), path,
                                          dynamic_shapes={"input_ids": {1: seq_dim}}, **kw)
                        rec["dynamic_via"] = "dynamic_shapes={'input_ids': {1: Dim('seq', min=2, max=128)}}"
                    except Exception as e:  # noqa: BLE001
                        rec["dynamic_shapes_error"] = repr(e)[:2000]
                        torch.onnx.export(wrapper, (torch.from_numpy(ids),), path,
                                          dynamic_axes={"input_ids": {1: "seq"},
                                                        "logits": {1: "seq"}}, **kw)
                        rec["dynamic_via"] = "dynamic_axes={'input_ids': {1: 'seq'}, 'logits': {1: 'seq'}}"
                else:
                    torch.onnx.export(wrapper, (torch.from_numpy(ids),), path, **kw)
            else:
                kw = dict(dynamo=False, opset_version=opset, input_names=["input_ids"],
                          output_names=["logits"], do_constant_folding=True)
                torch.onnx.export(wrapper, (torch.from_numpy(ids),), path, **kw)
        rec["export_call"] = "torch.onnx.export(wrapper, (input_ids,), path, " + ", ".join(
            f"{k}={v!r}" for k, v in kw.items()) + (", dynamic seq" if dynseq else "") + ")"
        rec["export_seconds"] = round(time.time() - te, 2)

        rec["stage"] = "onnx-check"
        import onnx
        # Make sure the weights are inside the file: if the exporter wrote external
        # data anyway, load it and save it back inline.
        m = onnx.load(path, load_external_data=False)
        ext = [t.name for t in m.graph.initializer
               if t.data_location == onnx.TensorProto.EXTERNAL]
        if ext:
            m = onnx.load(path)
            for t in m.graph.initializer:
                if t.data_location == onnx.TensorProto.EXTERNAL:
                    raise RuntimeError(f"external data not loaded for {t.name}")
            onnx.save_model(m, path, save_as_external_data=False)
            rec["external_data_inlined"] = len(ext)
        for extra in os.listdir(outdir):
            if extra.startswith(name) and extra.endswith(".data"):
                os.remove(os.path.join(outdir, extra))
        m = onnx.load(path)
        rec["opset"] = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
        rec["opset_imports"] = {o.domain or "ai.onnx": o.version for o in m.opset_import}
        rec["ir_version"] = m.ir_version
        rec["producer"] = f"{m.producer_name} {m.producer_version}"
        rec["file_size"] = os.path.getsize(path)
        import hashlib
        with open(path, "rb") as f:
            rec["sha256"] = hashlib.sha256(f.read()).hexdigest()
        rec["num_initializers"] = len(m.graph.initializer)
        rec["num_nodes"] = len(m.graph.node)
        rec["num_functions"] = len(m.functions)

        def vi(v):
            t = v.type.tensor_type
            dims = [d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim]
            return dict(name=v.name, elem_type=onnx.TensorProto.DataType.Name(t.elem_type), shape=dims)

        rec["graph_inputs"] = [vi(v) for v in m.graph.input]
        rec["graph_outputs"] = [vi(v) for v in m.graph.output]
        rec["op_histogram"] = op_histogram(m)
        try:
            onnx.checker.check_model(m, full_check=False)
            rec["onnx_checker"] = "ok"
        except Exception as e:  # noqa: BLE001
            rec["onnx_checker"] = repr(e)[:1000]

        rec["stage"] = "onnxruntime"
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        so.intra_op_num_threads = 2
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        ort_out = sess.run(None, {in_name: ids})[0]
        rec["ort_output_shape"] = list(ort_out.shape)
        rec["max_abs_ort_torch"] = float(np.max(np.abs(ort_out.astype(np.float64) - torch_out)))
        rec["max_abs_logit"] = float(np.max(np.abs(torch_out)))
        np.savez(os.path.join(outdir, f"{name}.ref.npz"), in0=ids, ort_out0=ort_out,
                 torch_out0=torch_out)

        if dynseq:
            rec["stage"] = "dynamic-seq17"
            ids17 = input_ids(17, 17)
            with torch.no_grad():
                t17 = wrapper(torch.from_numpy(ids17)).float().numpy()
            o17 = sess.run(None, {in_name: ids17})[0]
            rec["max_abs_ort_torch_seq17"] = float(np.max(np.abs(o17.astype(np.float64) - t17)))
            np.savez(os.path.join(outdir, f"{name}.seq17.ref.npz"), in0=ids17, ort_out0=o17,
                     torch_out0=t17)

        rec["status"] = "ok"
        rec["stage"] = "done"
    except BaseException as e:  # noqa: BLE001
        rec["status"] = f"failed:{rec['stage']}"
        rec["error"] = f"{type(e).__name__}: {e}"[:4000]
        rec["traceback"] = traceback.format_exc()[-6000:]
    rec["seconds"] = round(time.time() - t0, 2)
    return rec


def child_main(name, outdir):
    rec = run_one(name, outdir)
    with open(os.path.join(outdir, "jobs", f"{name}.json"), "w") as f:
        json.dump(rec, f, indent=1, default=str)
    if rec["status"] == "ok":
        print(f"[{name}] ok  max|ort-torch|={rec['max_abs_ort_torch']:.3g}"
              f"  size={rec['file_size']}  opset={rec['opset']}  ops={rec['op_histogram']}")
    else:
        print(f"[{name}] {rec['status']}: {rec['error'][:1500]}")
    return 0


def driver(args):
    outdir = os.path.abspath(args.out)
    os.makedirs(os.path.join(outdir, "jobs"), exist_ok=True)
    os.makedirs(os.path.join(outdir, "logs"), exist_ok=True)
    start = time.time()
    names = [f[0] for f in FIXTURES if not args.only or f[0] in args.only.split(",")]
    pending = list(names)
    running = {}  # name -> (Popen, start, logfile)
    timed_out = set()
    skipped = []
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="2", TOKENIZERS_PARALLELISM="false")
    while pending or running:
        now = time.time()
        while pending and len(running) < args.jobs:
            if now - start > args.deadline - 60:  # not enough time left to start another
                skipped.extend(pending)
                pending.clear()
                break
            n = pending.pop(0)
            log = open(os.path.join(outdir, "logs", f"{n}.log"), "w")
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", n,
                                  "--out", outdir], stdout=log, stderr=subprocess.STDOUT, env=env)
            running[n] = (p, now, log)
        for n, (p, t, log) in list(running.items()):
            if p.poll() is not None:
                log.close()
                del running[n]
                with open(log.name) as f:
                    for line in f:
                        if line.startswith(f"[{n}]"):
                            print(line.rstrip()[:3000], flush=True)
            elif now - start > args.deadline or now - t > args.job_timeout:
                p.kill()
                p.wait()
                log.close()
                timed_out.add(n)
                del running[n]
                print(f"[{n}] killed after {now - t:.0f}s (deadline/timeout)", flush=True)
        time.sleep(0.5)

    records = []
    for n in names:
        jp = os.path.join(outdir, "jobs", f"{n}.json")
        if os.path.exists(jp):
            with open(jp) as f:
                rec = json.load(f)
        else:
            spec = {f[0]: f for f in FIXTURES}[n]
            tail = ""
            lp = os.path.join(outdir, "logs", f"{n}.log")
            if os.path.exists(lp):
                with open(lp) as f:
                    tail = f.read()[-3000:]
            rec = dict(name=n, architecture=spec[1], attn_implementation=spec[2],
                       exporter=spec[3], opset_requested=spec[4], dynamic_seq=spec[5],
                       ones_mask=spec[6],
                       status="timeout" if n in timed_out else
                       ("skipped (deadline)" if n in skipped else "crashed"),
                       error=("killed: exceeded the time limit" if n in timed_out else
                              "not started: deadline" if n in skipped else
                              "child process died without a record; log tail:\n" + tail))
        records.append(rec)
    summary = dict(script="python/scripts/export-generalisation-models.py",
                   argv=sys.argv, versions=versions(), seq=SEQ, vocab=VOCAB,
                   input="numpy.random.default_rng(0).integers(0, 512, size=(1, 32)), int64",
                   wall_seconds=round(time.time() - start, 1), fixtures=records)
    with open(os.path.join(outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)

    print("\n==== summary ====")
    print(json.dumps(summary["versions"]))
    for r in records:
        if r["status"] == "ok":
            ops = r["op_histogram"]
            short = {k: ops[k] for k in list(ops)[:14]}
            print(f"{r['name']:28s} ok   opset={r['opset']} size={r['file_size']:>8d} "
                  f"max|ort-torch|={r['max_abs_ort_torch']:.3g} nodes={r['num_nodes']} "
                  f"ops={short}")
        else:
            print(f"{r['name']:28s} {r['status']}: {str(r.get('error'))[:400]}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/gen")
    ap.add_argument("--jobs", type=int, default=8, help="fixtures exported in parallel")
    ap.add_argument("--deadline", type=float, default=330,
                    help="seconds after which running exports are killed")
    ap.add_argument("--job-timeout", type=float, default=240)
    ap.add_argument("--only", default="", help="comma-separated fixture names")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args.child, os.path.abspath(args.out))
    return driver(args)


if __name__ == "__main__":
    sys.exit(main())
