"""The benchmark models: their shapes, the bytes a decode step must read, the Hugging Face
model of a shape (random weights) and its ONNX export.

Shapes (random weights, torch.manual_seed(0): speed does not depend on the values):

  gpt2_small   GPT2Config: 12 layers, d 768, 12 heads, vocab 50257, MLP 3072, 4224 positions
               (so that a 4096-token context plus new tokens fits the learned position table)
  llama_1b     LlamaConfig: 16 layers, hidden 2048, 32 heads, 8 KV heads (GQA), SwiGLU 8192,
               vocab 128256, tied embeddings, RoPE theta 500000 (the Llama-3.2-1B shape)
  llama_8b     32 layers, hidden 4096, 32 heads, 8 KV heads, SwiGLU 14336, vocab 128256, untied
               (the Llama-3-8B shape; only with --with-8b)
  attn_probe   one Llama layer, hidden 4096, 32 heads, 32 KV heads, head dim 128, SwiGLU 1024,
               vocab 256: the decode attention kernel at B1 H32 D128 (kernels part, under ncu)

Export (models.py --export, run as a child process so that the suite's deadline can stop it):
torch.onnx.export(dynamo=True, opset_version=18) of a module that returns the logits only
(use_cache=False), input_ids [1, seq] with a dynamic `seq`, the model in fp32 on the CPU;
models over 1.9 GB of weights get external data (MODEL.onnx.data next to MODEL.onnx), which
Kiln's importer and ONNX Runtime read from the model's folder.
"""

import argparse
import json
import os
import shutil
import sys
import time

# Context the decode/prefill artifacts are compiled for: the 4096-token rows plus new tokens.
MAX_SEQ = 4224
MAX_BATCH = 16

SHAPES = {
    "gpt2_small": dict(family="gpt2", layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072,
                       vocab=50257, positions=MAX_SEQ, tied=True),
    "llama_1b": dict(family="llama", layers=16, hidden=2048, heads=32, kv_heads=8, ffn=8192,
                     vocab=128256, positions=8192, tied=True, rope_theta=500000.0),
    "llama_8b": dict(family="llama", layers=32, hidden=4096, heads=32, kv_heads=8, ffn=14336,
                     vocab=128256, positions=8192, tied=False, rope_theta=500000.0),
    "attn_probe": dict(family="llama", layers=1, hidden=4096, heads=32, kv_heads=32, ffn=1024,
                       vocab=256, positions=8192, tied=False, rope_theta=500000.0),
}


def shape(name, layers=None):
    """SHAPES[name], with another layer count when `layers` is given."""
    if name not in SHAPES:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(SHAPES)}")
    s = dict(SHAPES[name], name=name)
    if layers:
        s["layers"] = int(layers)
    return s


def describe(s):
    if s["family"] == "gpt2":
        return (f"GPT-2 shape: {s['layers']} layers, d {s['hidden']}, {s['heads']} heads, "
                f"vocab {s['vocab']}")
    return (f"Llama shape: {s['layers']} layers, hidden {s['hidden']}, {s['heads']} heads / "
            f"{s['kv_heads']} KV heads, SwiGLU {s['ffn']}, vocab {s['vocab']}"
            + (", tied embeddings" if s["tied"] else ""))


# ----------------------------------------------------------------------------------------------
# Byte and parameter counts (pure; checked by --self-test)
# ----------------------------------------------------------------------------------------------

def head_dim(s):
    return s["hidden"] // s["heads"]


def param_counts(s):
    """(all parameters, parameters a decode step reads in full). A step reads every weight
    matrix and vector once; of the token embedding only B rows, unless it is tied to the LM
    head (then it is read in full, once); of GPT-2's position table only B rows."""
    d, f, L, V = s["hidden"], s["ffn"], s["layers"], s["vocab"]
    if s["family"] == "gpt2":
        layer = (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (2 * d) + (d * f + f) + (f * d + d)
        body = L * layer + 2 * d
        total = body + V * d + s["positions"] * d
        read = body + V * d                      # wte as the (tied) LM head; wpe: B rows only
        return total, read
    kv = s["kv_heads"] * head_dim(s)
    layer = d * d + 2 * d * kv + d * d + 3 * d * f + 2 * d
    body = L * layer + d
    if s["tied"]:
        return body + V * d, body + V * d
    return body + 2 * V * d, body + V * d       # embedding: B rows; LM head: in full


def weight_bytes(s, elem=2):
    """Bytes of weights one decode step reads (fp16: 2 bytes per parameter)."""
    return param_counts(s)[1] * elem


def kv_bytes_per_position(s, elem=2):
    """K and V bytes of one cached position of one sequence, all layers."""
    return s["layers"] * 2 * s["kv_heads"] * head_dim(s) * elem


def decode_floor_ms(s, batch, context, copy_bytes_per_s, elem=2):
    """The hardware floor of one decode step: (weights + the batch's K/V at `context`
    positions) / the measured device copy bandwidth, in ms."""
    if not copy_bytes_per_s:
        return None
    b = weight_bytes(s, elem) + batch * context * kv_bytes_per_position(s, elem)
    return b / copy_bytes_per_s * 1e3


# ----------------------------------------------------------------------------------------------
# Hugging Face models (lazy imports)
# ----------------------------------------------------------------------------------------------

def hf_config(s):
    import transformers
    if s["family"] == "gpt2":
        return transformers.GPT2Config(n_layer=s["layers"], n_embd=s["hidden"], n_head=s["heads"],
                                       n_inner=s["ffn"], vocab_size=s["vocab"],
                                       n_positions=s["positions"])
    kw = dict(vocab_size=s["vocab"], hidden_size=s["hidden"], intermediate_size=s["ffn"],
              num_hidden_layers=s["layers"], num_attention_heads=s["heads"],
              num_key_value_heads=s["kv_heads"], max_position_embeddings=s["positions"],
              tie_word_embeddings=s["tied"])
    major = int(transformers.__version__.split(".")[0])
    rope = {"rope_type": "default", "rope_theta": s["rope_theta"]}
    cfg = (transformers.LlamaConfig(**kw, rope_parameters=rope) if major >= 5
           else transformers.LlamaConfig(**kw, rope_theta=s["rope_theta"]))
    if rope_theta(cfg) != s["rope_theta"]:
        if isinstance(getattr(cfg, "rope_parameters", None), dict):
            cfg.rope_parameters = dict(cfg.rope_parameters, rope_theta=s["rope_theta"])
        else:
            cfg.rope_theta = s["rope_theta"]
    return cfg


def rope_theta(cfg):
    rope = getattr(cfg, "rope_parameters", None) or {}
    return float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))


def build_hf_model(s, device="cpu", dtype=None, seed=0):
    """The Hugging Face model of shape `s` with random weights (seed), in eval mode. On CUDA
    the weights are initialised there (fast for large shapes), then cast to `dtype`."""
    import torch
    import transformers
    cfg = hf_config(s)
    cls = transformers.GPT2LMHeadModel if s["family"] == "gpt2" else \
        transformers.LlamaForCausalLM
    torch.manual_seed(seed)
    if device != "cpu":
        try:
            with torch.device(device):
                model = cls(cfg)
        except Exception as e:  # noqa: BLE001  (initialise on the CPU, then move)
            print(f"  (init on {device} failed: {type(e).__name__}: {str(e)[:200]}; "
                  "initialising on the CPU)", flush=True)
            torch.manual_seed(seed)
            model = cls(cfg).to(device)
    else:
        model = cls(cfg)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


# ----------------------------------------------------------------------------------------------
# ONNX export
# ----------------------------------------------------------------------------------------------

def export_logits_onnx(model, path, max_seq, external_data=False):
    """Dynamic-seq ONNX of `model` (input_ids [1, seq] -> logits), cached at `path`. Written to
    PATH.tmp.d/ first and moved next to `path` when complete (the .onnx last), so that a killed
    export leaves no model behind. Returns what it did (cached, export_s, dynamic_via,
    seq_dim, external_data)."""
    import torch
    if os.path.exists(path):
        return {"cached": True}

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False, return_dict=False)[0]

    tmpdir = path + ".tmp.d"
    shutil.rmtree(tmpdir, ignore_errors=True)
    os.makedirs(tmpdir)
    tmp = os.path.join(tmpdir, os.path.basename(path))
    ids = torch.zeros(1, 16, dtype=torch.long)
    kw = dict(dynamo=True, opset_version=18, input_names=["input_ids"],
              output_names=["logits"], external_data=external_data)
    t0 = time.time()
    how = "dynamic_shapes={'input_ids': {1: Dim('seq', min=2, max=%d)}}" % max_seq
    with torch.no_grad():
        try:
            torch.onnx.export(LogitsOnly(model).eval(), (ids,), tmp, dynamic_shapes={
                "input_ids": {1: torch.export.Dim("seq", min=2, max=max_seq)}}, **kw)
        except Exception as e:  # noqa: BLE001
            print(f"dynamic_shapes export failed ({type(e).__name__}: {str(e)[:300]}); "
                  "trying dynamic_axes", flush=True)
            how = "dynamic_axes={'input_ids': {1: 'seq'}, 'logits': {1: 'seq'}}"
            shutil.rmtree(tmpdir, ignore_errors=True)
            os.makedirs(tmpdir)
            torch.onnx.export(LogitsOnly(model).eval(), (ids,), tmp,
                              dynamic_axes={"input_ids": {1: "seq"}, "logits": {1: "seq"}},
                              **kw)
    info = {"cached": False, "export_s": round(time.time() - t0, 1), "dynamic_via": how,
            "external_data": bool(external_data)}
    try:
        import onnx
        g = onnx.load(tmp, load_external_data=False).graph
        dim = g.input[0].type.tensor_type.shape.dim[1]
        info["seq_dim"] = dim.dim_param or dim.dim_value
        if not dim.dim_param:
            print(f"warning: the exported input's dim 1 is {dim.dim_value}, not symbolic",
                  flush=True)
    except Exception as e:  # noqa: BLE001
        info["seq_dim"] = f"unchecked ({type(e).__name__})"
    final_dir = os.path.dirname(os.path.abspath(path))
    names = sorted(os.listdir(tmpdir), key=lambda n: n == os.path.basename(path))
    for n in names:                                      # the .onnx itself last
        os.replace(os.path.join(tmpdir, n), os.path.join(final_dir, n))
    shutil.rmtree(tmpdir, ignore_errors=True)
    info["files"] = names
    return info


def needs_external_data(s):
    return param_counts(s)[0] * 4 > 1.9e9


def export_path(work, s):
    """WORK/onnx/<name>-L<layers>/model.onnx: one folder per shape (external data beside it)."""
    return os.path.join(work, "onnx", f"{s['name']}-L{s['layers']}", "model.onnx")


def ensure_onnx(work, s, deadline, timeout=900):
    """The exported ONNX of shape `s` (cached in WORK), exported in a child process (python3 -m
    kiln_bench.models --export) bounded by the deadline. Returns (path, info)."""
    from . import tools
    path = export_path(work, s)
    spec_path = path + ".spec.json"
    spec = json.dumps(s, sort_keys=True)
    if os.path.exists(path) and os.path.exists(spec_path):
        with open(spec_path) as f:
            if f.read() == spec:
                return path, {"cached": True}
    if os.path.exists(path):
        os.remove(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t0 = time.time()
    what = f"ONNX export of {s['name']} ({describe(s)})"
    info, _ = tools.run_child("models", ["--export", s["name"], "--layers", s["layers"],
                                         "--out", path], deadline.timeout(timeout), what)
    if not os.path.exists(path):
        raise tools.StepError(f"{what}: {path} was not written")
    with open(spec_path, "w") as f:
        f.write(spec)
    info["wall_s"] = round(time.time() - t0, 1)
    return path, info


_RECOMPILED = set()


def compile_flags(max_seq=MAX_SEQ, max_batch=MAX_BATCH):
    """kiln-compile flags of the generation artifacts (decode and prefill share one)."""
    return ["--precision=fp16", "--kv-cache=on", "--max-seq-len", str(max_seq), "--max-batch",
            str(max_batch)]


def ensure_artifact(args, s, deadline, max_seq=MAX_SEQ, max_batch=MAX_BATCH, timeout=900):
    """The fp16 generation artifact of shape `s`: exported and compiled once per WORK (reused
    while the command, the ONNX file and kiln-compile are unchanged). Returns (artifact,
    info) with info {"export": .., "compile_s": .. (None: reused), "compile_cmd": ..}."""
    from . import tools
    path, export_info = ensure_onnx(args.work, s, deadline)
    flags = compile_flags(max_seq, max_batch)
    artifact = os.path.join(os.path.dirname(path),
                            f"fp16-seq{max_seq}-b{max_batch}.kiln")
    # --recompile: once per process (decode and prefill share the artifact).
    recompile = bool(getattr(args, "recompile", False)) and artifact not in _RECOMPILED
    artifact, seconds, cmd = tools.compile_cached(
        args.kiln_compile, path, artifact, [flags], deadline.timeout(timeout),
        f"kiln-compile {s['name']} ({describe(s)})", recompile=recompile)
    _RECOMPILED.add(artifact)
    return artifact, {"onnx": path, "export": export_info, "compile_s": seconds,
                      "compile_cmd": " ".join(["kiln-compile", os.path.basename(path)] + flags)}


def prep_note(name, info):
    """One line on how a model's artifact was made (for the part's notes)."""
    if not isinstance(info, dict) or "compile_cmd" not in info:
        return None
    e = info.get("export") or {}
    export = "cached" if e.get("cached") else f"{e.get('wall_s', '?')} s"
    comp = "reused" if info.get("compile_s") is None else f"{info['compile_s']} s"
    return f"{name}: ONNX export {export}, `{info['compile_cmd']}` {comp}"


def _export_main(argv):
    p = argparse.ArgumentParser(description="export one benchmark shape to ONNX (child process)")
    p.add_argument("--export", required=True, choices=sorted(SHAPES))
    p.add_argument("--layers", type=int)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    s = shape(a.export, a.layers)
    t0 = time.time()
    model = build_hf_model(s, device="cpu")
    init_s = time.time() - t0
    info = export_logits_onnx(model, a.out, s["positions"], external_data=needs_external_data(s))
    info.update(init_s=round(init_s, 1), params=param_counts(s)[0], shape=describe(s))
    from .tools import emit_result
    emit_result(info)
    return 0


if __name__ == "__main__":
    sys.exit(_export_main(sys.argv[1:]))
