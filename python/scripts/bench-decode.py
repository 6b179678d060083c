#!/usr/bin/env python3
"""Decode latency (ms/token, batch 1, context 512) of Kiln next to PyTorch, same GPU, same run.

Runs on the GPU machine (PyTorch + transformers there; Kiln's static kiln-compile and the
runtime's kiln-run built by scripts/device/run-integration.sh). Models:

  * bytelm_llama: Kiln compiles the bundled models/bytelm_llama.onnx; PyTorch runs the same
    architecture (LlamaForCausalLM config: 4 layers, hidden 256, 8 heads, 2 KV heads, SwiGLU
    688, vocab 256, RoPE theta 10000 as in the ONNX graph) with random weights: latency does not
    depend on the weight values.
  * gpt2_small: GPT2LMHeadModel(GPT2Config()) (12 layers, d=768, 12 heads, vocab 50257, 1024
    positions), torch.manual_seed(0) weights, exported here once (cached in WORK) with
    torch.onnx.export(dynamo=True, opset 18) with a dynamic `seq` dim (input_ids [1, seq] ->
    logits [1, seq, 50257]; the module returns the logits only, use_cache=False), compiled by
    Kiln with --max-seq-len 1024 (its position table); PyTorch runs the same weights.

Per model and precision (fp16, fp32):

  * Kiln: kiln-compile M.onnx --precision=P --max-seq-len N (retried with --dim-max seq=N), then
    kiln-run M.P.kiln --generate --prompt-file eval_text.bin --prompt-length 512
    --max-new-tokens 128 --output-json F --quiet, --kiln-repeats times; the figure is the median
    over runs of decode_ms_per_step.median (GPU time of one decode step as kiln-run measures it).
  * PyTorch "plain PyTorch + CUDA graph" (DESIGN.md's anchor): a hand-written decode step over a
    static KV cache: K and V tensors [layers, 1, kv_heads, max_seq, head_dim] preallocated with
    max_seq = 512 + 128 = 640 (the context this benchmark reaches); one step = embedding (+ the
    position row for GPT-2 / the RoPE row for Llama, both selected by a device-side position
    tensor), per layer: norm, fused QKV projection, cache write at the position (index_copy_),
    scaled_dot_product_attention of the new query over the WHOLE max_seq cache with a boolean
    mask (positions <= current) so every shape is static (GQA: the 4 query heads of a KV head
    are the 4 query rows of one SDPA call, no K/V copy), output projection, MLP (fused
    gate/up for Llama); final norm, LM head, argmax; the step writes the next token and
    increments the position on the device. Captured once with torch.cuda.graph, replayed.
    The prompt is fed through the same graph one token per replay (untimed); then 128 replays
    are timed with CUDA events around each, --repeats times; the figure is the median per-step
    time. The loop's logits after the prompt are checked against the Hugging Face model's
    full forward of the same prompt (reported: max |diff|, argmax agreement).
  * HF generate (reference only): model.generate greedy with its default cache,
    (time of 1 + K new tokens - time of 1 new token) / K with K = --hf-tokens (wall clock,
    synchronized).

Writes OUT/bench-decode.json and prints a Markdown table. Never asserts a speed (exit status 1
only when a step failed to run).

Usage: bench-decode.py --kiln-compile BIN --kiln-run BIN --models DIR --work DIR [--out DIR]
                       [--only bytelm_llama,gpt2_small] [--precisions fp16,fp32]
                       [--skip kiln,torch,hf]
       bench-decode.py --self-test
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

MODELS = ("bytelm_llama", "gpt2_small")
LLAMA = dict(vocab_size=256, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
             num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
             tie_word_embeddings=False)
MAX_SEQ_LEN = {"bytelm_llama": 2048, "gpt2_small": 1024}


class StepError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Pure parts (checked by --self-test)
# ----------------------------------------------------------------------------------------------

def decode_median(obj):
    """decode_ms_per_step median of kiln-run's --output-json ({"median": ..} or a number)."""
    if not isinstance(obj, dict) or "decode_ms_per_step" not in obj:
        raise StepError("kiln-run's JSON has no decode_ms_per_step; keys: "
                        + (", ".join(sorted(obj)) if isinstance(obj, dict) else "not an object"))
    d = obj["decode_ms_per_step"]
    v = d.get("median") if isinstance(d, dict) else d
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
        raise StepError(f"kiln-run's decode_ms_per_step is {d!r}, not a positive median")
    return float(v)


def summarize(times):
    s = sorted(times)
    return {"median_ms": statistics.median(s), "min_ms": s[0], "max_ms": s[-1], "n": len(s)}


def ratio(torch_ms, kiln_ms):
    if not torch_ms or not kiln_ms:
        return None
    return torch_ms / kiln_ms


def table(results):
    lines = ["| model | precision | Kiln ms/token | PyTorch + CUDA graph ms/token | "
             "PyTorch / Kiln | HF generate ms/token | PyTorch loop vs HF forward |",
             "| --- | --- | --- | --- | --- | --- | --- |"]

    def ms(d):
        if not d:
            return "-"
        if "error" in d:
            return "error"
        return f"{d['median_ms']:.4f}" if d["median_ms"] < 1 else f"{d['median_ms']:.3f}"
    for name, entry in results["models"].items():
        for p, r in entry.get("precisions", {}).items():
            k, t, h = r.get("kiln"), r.get("torch_cuda_graph"), r.get("hf_generate")
            rt = ratio(t and t.get("median_ms"), k and k.get("median_ms"))
            chk = "-"
            if t and "check" in t:
                c = t["check"]
                chk = (f"max abs diff {c['max_abs_diff']:.3g} (of {c['max_abs_ref']:.3g}), "
                       f"argmax {'same' if c['argmax_same'] else 'DIFFERENT'}")
            lines.append(f"| {name} | {p} | {ms(k)} | {ms(t)} | "
                         + (f"{rt:.2f}x" if rt else "-") + f" | {ms(h)} | {chk} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Kiln
# ----------------------------------------------------------------------------------------------

def run_tool(cmd, timeout, what):
    shown = " ".join(cmd)
    print("+", shown if len(shown) < 400 else shown[:380] + " ...", flush=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise StepError(f"{what}: timed out after {timeout:.0f} s") from None
    except OSError as e:
        raise StepError(f"{what}: cannot run {cmd[0]}: {e}") from None
    if out.returncode != 0:
        raise StepError(f"{what}: exit status {out.returncode}\n"
                        f"{(out.stdout + chr(10) + out.stderr).strip()[-3000:]}")
    return out


def kiln_compile(args, onnx_path, precision, tag, max_seq):
    artifact = os.path.join(args.work, f"{tag}.{precision}.kiln")
    stamp = artifact + ".cmd"
    base = [args.kiln_compile, onnx_path, f"--precision={precision}"]
    tail = list(args.compile_flag) + ["-o", artifact]
    tries = [base + ["--max-seq-len", str(max_seq)] + tail,
             base + ["--dim-max", f"seq={max_seq}"] + tail]
    if not args.recompile and os.path.exists(artifact) and os.path.exists(stamp):
        with open(stamp) as f:
            previous = f.read()
        newest = max(os.path.getmtime(onnx_path), os.path.getmtime(args.kiln_compile))
        if os.path.getmtime(artifact) > newest and previous in (json.dumps(t) for t in tries):
            return artifact, None
    errors = []
    for i, cmd in enumerate(tries):
        t0 = time.time()
        try:
            run_tool(cmd, args.compile_timeout, f"kiln-compile {tag} {precision}")
        except StepError as e:
            errors.append(str(e))
            if i == 0 and "max-seq-len" in str(e).split("\n", 1)[-1]:
                print("  (kiln-compile refused --max-seq-len; retrying with --dim-max)")
                continue
            raise StepError("\n".join(errors)) from None
        with open(stamp, "w") as f:
            f.write(json.dumps(cmd))
        return artifact, round(time.time() - t0, 1)
    raise StepError("\n".join(errors))


def kiln_decode(args, onnx_path, precision, tag, max_seq, ids):
    use_ids = False
    try:
        artifact, compile_s = kiln_compile(args, onnx_path, precision, tag, max_seq)
        medians, prefill = [], []
        for r in range(args.kiln_repeats):
            out_json = os.path.join(args.work, f"{tag}.{precision}.decode.{r}.json")
            if os.path.exists(out_json):
                os.remove(out_json)
            as_ids = ["--prompt-ids", ",".join(str(int(b)) for b in ids)]
            as_file = ["--prompt-file", args.text_path, "--prompt-length", str(args.context)]
            rest = ["--max-new-tokens", str(args.new_tokens), "--output-json", out_json,
                    "--quiet"] + list(args.run_flag)
            head = [args.kiln_run, artifact, "--generate"]
            try:
                run_tool(head + (as_ids if use_ids else as_file) + rest, args.timeout,
                         f"kiln-run --generate {tag}")
            except StepError as e:
                if use_ids or r or tag == "bytelm_llama":
                    raise
                # A non-byte vocabulary may refuse --prompt-file: the same bytes as ids.
                print(f"  ({str(e).splitlines()[-1][:200]}; retrying with --prompt-ids)")
                use_ids = True
                run_tool(head + as_ids + rest, args.timeout,
                         f"kiln-run --generate {tag} (--prompt-ids)")
            try:
                with open(out_json) as f:
                    obj = json.load(f)
            except (OSError, ValueError) as e:
                raise StepError(f"kiln-run wrote no readable {out_json}: {e}") from None
            medians.append(decode_median(obj))
            if isinstance(obj.get("prefill_ms"), (int, float)):
                prefill.append(obj["prefill_ms"])
        return {"median_ms": statistics.median(medians), "run_medians_ms": medians,
                "prefill_ms": prefill, "compile_s": compile_s, "artifact": artifact,
                "prompt": "--prompt-ids" if use_ids else "--prompt-file"}
    except StepError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return {"error": str(e)}


# ----------------------------------------------------------------------------------------------
# PyTorch: a static-cache decode step under a CUDA graph
# ----------------------------------------------------------------------------------------------

class StaticDecoder:
    """Shared machinery: static token/position buffers, the cache, capture, replay, timing.

    Subclasses set self.L, self.KVH, self.D, self.M, self.dtype and implement body(), which
    reads self.tok / self.pos and returns logits [1, vocab] (writing the cache in place)."""

    def setup(self, max_seq, vocab, device):
        import torch
        self.M = max_seq
        self.tok = torch.zeros(1, dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.ar = torch.arange(max_seq, device=device)
        shape = (self.L, 1, self.KVH, max_seq, self.D)
        self.kc = torch.zeros(shape, dtype=self.dtype, device=device)
        self.vc = torch.zeros(shape, dtype=self.dtype, device=device)
        self.logits = torch.zeros(1, vocab, dtype=torch.float32, device=device)
        self.graph = None

    def step(self):
        logits = self.body()
        self.logits.copy_(logits)
        self.tok.copy_(logits.argmax(-1))
        self.pos.add_(1)

    def mask(self):
        return (self.ar <= self.pos).view(1, 1, 1, self.M)

    def capture(self):
        import torch
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(s):
            for _ in range(3):
                self.step()
        torch.cuda.current_stream().wait_stream(s)
        self.graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self.graph):
            self.step()
        self.pos.zero_()
        self.kc.zero_()
        self.vc.zero_()
        torch.cuda.synchronize()

    def prefill(self, ids):
        """Feed the prompt one token per replay (positions 0..n-1); returns the last logits."""
        import torch
        self.pos.zero_()
        for i in range(ids.numel()):
            self.tok.copy_(ids[i:i + 1])
            self.graph.replay()
        torch.cuda.synchronize()
        return self.logits.clone()

    def time_decode(self, start_pos, first_tok, steps, repeats):
        import torch
        per_step, totals = [], []
        for _ in range(repeats):
            self.pos.fill_(start_pos)
            self.tok.copy_(first_tok)
            ev = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)]
            torch.cuda.synchronize()
            ev[0].record()
            for i in range(steps):
                self.graph.replay()
                ev[i + 1].record()
            torch.cuda.synchronize()
            per_step += [ev[i].elapsed_time(ev[i + 1]) for i in range(steps)]
            totals.append(ev[0].elapsed_time(ev[-1]) / steps)
        return dict(summarize(per_step), mean_of_runs_ms=statistics.median(totals))


class LlamaDecoder(StaticDecoder):
    def __init__(self, hf, dtype, max_seq):
        import torch
        cfg = hf.config
        m = hf.model
        dev = next(hf.parameters()).device
        self.dtype = dtype
        self.L, self.H = cfg.num_hidden_layers, cfg.num_attention_heads
        self.KVH = cfg.num_key_value_heads
        self.D = cfg.hidden_size // self.H
        self.eps = cfg.rms_norm_eps
        self.emb = m.embed_tokens.weight
        lay = m.layers
        self.ln1 = [x.input_layernorm.weight for x in lay]
        self.ln2 = [x.post_attention_layernorm.weight for x in lay]
        self.wqkv = [torch.cat([x.self_attn.q_proj.weight, x.self_attn.k_proj.weight,
                                x.self_attn.v_proj.weight]).contiguous() for x in lay]
        self.wo = [x.self_attn.o_proj.weight for x in lay]
        self.wgu = [torch.cat([x.mlp.gate_proj.weight, x.mlp.up_proj.weight]).contiguous()
                    for x in lay]
        self.wd = [x.mlp.down_proj.weight for x in lay]
        self.lnf = m.norm.weight
        self.wlm = hf.lm_head.weight
        rope = getattr(cfg, "rope_parameters", None) or {}
        theta = float(rope.get("rope_theta", getattr(cfg, "rope_theta", 10000.0)))
        self.theta = theta
        inv = 1.0 / theta ** (torch.arange(0, self.D, 2, device=dev, dtype=torch.float32)
                              / self.D)
        fr = torch.outer(torch.arange(max_seq, device=dev, dtype=torch.float32), inv)
        emb = torch.cat([fr, fr], -1)
        self.cos_t, self.sin_t = emb.cos().to(dtype), emb.sin().to(dtype)
        self.setup(max_seq, self.wlm.shape[0], dev)

    def rms(self, x, w):
        import torch
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * x32.to(self.dtype)

    @staticmethod
    def rot(x):
        import torch
        h = x.shape[-1] // 2
        return torch.cat([-x[..., h:], x[..., :h]], -1)

    def body(self):
        import torch.nn.functional as F
        H, KVH, D = self.H, self.KVH, self.D
        x = self.emb.index_select(0, self.tok)                       # [1, d]
        cos = self.cos_t.index_select(0, self.pos).view(1, 1, D)
        sin = self.sin_t.index_select(0, self.pos).view(1, 1, D)
        mask = self.mask()
        for i in range(self.L):
            h = self.rms(x, self.ln1[i])
            q, k, v = F.linear(h, self.wqkv[i]).split([H * D, KVH * D, KVH * D], -1)
            q = q.view(1, H, D)
            k = k.view(1, KVH, D)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            self.kc[i].index_copy_(2, self.pos, k.view(1, KVH, 1, D))
            self.vc[i].index_copy_(2, self.pos, v.view(1, KVH, 1, D))
            # The H/KVH query heads j*G..j*G+G-1 of KV head j (HF's repeat_kv order) are the
            # query rows of one SDPA call: q as [1, KVH, G, D], no K/V copy.
            o = F.scaled_dot_product_attention(q.view(1, KVH, H // KVH, D), self.kc[i],
                                               self.vc[i], attn_mask=mask)
            x = x + F.linear(o.reshape(1, H * D), self.wo[i])
            g, u = F.linear(self.rms(x, self.ln2[i]), self.wgu[i]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, self.wd[i])
        return F.linear(self.rms(x, self.lnf), self.wlm)


class GPT2Decoder(StaticDecoder):
    def __init__(self, hf, dtype, max_seq):
        cfg = hf.config
        t = hf.transformer
        dev = next(hf.parameters()).device
        self.dtype = dtype
        self.L, self.H = cfg.n_layer, cfg.n_head
        self.KVH = self.H
        self.d = cfg.n_embd
        self.D = self.d // self.H
        self.eps = cfg.layer_norm_epsilon
        self.wte, self.wpe = t.wte.weight, t.wpe.weight
        # HF Conv1D stores [in, out] and computes x @ W + b; keep [out, in] for F.linear.
        self.blocks = [dict(ln1=(b.ln_1.weight, b.ln_1.bias), ln2=(b.ln_2.weight, b.ln_2.bias),
                            attn=(b.attn.c_attn.weight.t().contiguous(), b.attn.c_attn.bias),
                            proj=(b.attn.c_proj.weight.t().contiguous(), b.attn.c_proj.bias),
                            fc=(b.mlp.c_fc.weight.t().contiguous(), b.mlp.c_fc.bias),
                            fc2=(b.mlp.c_proj.weight.t().contiguous(), b.mlp.c_proj.bias))
                       for b in t.h]
        self.lnf = (t.ln_f.weight, t.ln_f.bias)
        self.wlm = hf.lm_head.weight
        self.setup(max_seq, self.wlm.shape[0], dev)

    def body(self):
        import torch.nn.functional as F
        H, D, d = self.H, self.D, self.d
        x = self.wte.index_select(0, self.tok) + self.wpe.index_select(0, self.pos)
        mask = self.mask()
        for i, b in enumerate(self.blocks):
            h = F.layer_norm(x, (d,), *b["ln1"], self.eps)
            q, k, v = F.linear(h, *b["attn"]).split(d, -1)
            self.kc[i].index_copy_(2, self.pos, k.view(1, H, 1, D))
            self.vc[i].index_copy_(2, self.pos, v.view(1, H, 1, D))
            o = F.scaled_dot_product_attention(q.view(1, H, 1, D), self.kc[i], self.vc[i],
                                               attn_mask=mask)
            x = x + F.linear(o.reshape(1, d), *b["proj"])
            h = F.layer_norm(x, (d,), *b["ln2"], self.eps)
            x = x + F.linear(F.gelu(F.linear(h, *b["fc"]), approximate="tanh"), *b["fc2"])
        return F.linear(F.layer_norm(x, (d,), *self.lnf, self.eps), self.wlm)


def torch_decode(hf, cls, dtype, ids, args):
    """Static-cache CUDA-graph loop over `hf`'s weights: timing and a check against HF."""
    import torch
    try:
        with torch.no_grad():
            hf = hf.to(device="cuda", dtype=dtype).eval()
            ids_dev = torch.as_tensor(ids, dtype=torch.long, device="cuda")
            dec = cls(hf, dtype, args.context + args.new_tokens)
            t0 = time.time()
            dec.capture()
            capture_s = time.time() - t0
            last = dec.prefill(ids_dev)
            ref = hf(input_ids=ids_dev[None], use_cache=False).logits[0, -1].float()
            diff = (last[0] - ref).abs().max().item()
            check = {"max_abs_diff": diff, "max_abs_ref": ref.abs().max().item(),
                     "argmax_same": bool(last[0].argmax().item() == ref.argmax().item())}
            first = dec.tok.clone()
            r = dec.time_decode(args.context, first, args.new_tokens, args.repeats)
            r.update(check=check, capture_s=round(capture_s, 2), max_seq=dec.M,
                     attention="SDPA over the whole static cache (max_seq) with a mask")
            if isinstance(dec, LlamaDecoder):
                r["rope_theta"] = dec.theta
            del dec
            return r
    except Exception as e:  # noqa: BLE001  (report and go on)
        import traceback
        traceback.print_exc()
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        torch.cuda.empty_cache()


def hf_generate(hf, dtype, ids, args):
    import torch
    try:
        with torch.no_grad():
            hf = hf.to(device="cuda", dtype=dtype).eval()
            x = torch.as_tensor(ids, dtype=torch.long, device="cuda")[None]
            mask = torch.ones_like(x)

            def gen(n):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                out = hf.generate(x, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                                  do_sample=False, pad_token_id=0)
                torch.cuda.synchronize()
                if out.shape[1] != x.shape[1] + n:
                    raise StepError(f"generate made {out.shape[1] - x.shape[1]} tokens, not {n}")
                return (time.perf_counter() - t0) * 1000
            gen(2)
            k = args.hf_tokens
            per = [(gen(1 + k) - gen(1)) / k for _ in range(2)]
            return {"median_ms": statistics.median(per), "runs_ms": per, "tokens": k,
                    "how": "(wall time of 1+K new tokens - of 1) / K"}
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        torch.cuda.empty_cache()


def export_gpt2(model, path, max_seq):
    """Dynamic-seq ONNX of `model` (logits only), cached at `path`."""
    import torch
    if os.path.exists(path):
        return {"cached": True}

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False, return_dict=False)[0]

    ids = torch.zeros(1, 16, dtype=torch.long)
    kw = dict(dynamo=True, opset_version=18, input_names=["input_ids"],
              output_names=["logits"], external_data=False)
    tmp = path + ".tmp.onnx"
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
            torch.onnx.export(LogitsOnly(model).eval(), (ids,), tmp,
                              dynamic_axes={"input_ids": {1: "seq"}, "logits": {1: "seq"}},
                              **kw)
    info = {"cached": False, "export_s": round(time.time() - t0, 1), "dynamic_via": how}
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
    os.replace(tmp, path)
    return info


# ----------------------------------------------------------------------------------------------

def self_test():
    ok = 0

    def check(c, what):
        nonlocal ok
        if not c:
            raise AssertionError(what)
        ok += 1
    check(decode_median({"decode_ms_per_step": {"median": 0.2, "min": 0.1}}) == 0.2, "dict")
    check(decode_median({"decode_ms_per_step": 0.3}) == 0.3, "number")
    for bad in ({}, {"decode_ms_per_step": {"min": 1}}, {"decode_ms_per_step": 0},
                {"decode_ms_per_step": float("nan")}, [1]):
        try:
            decode_median(bad)
            check(False, f"accepted {bad}")
        except StepError:
            ok += 1
    s = summarize([3.0, 1.0, 2.0, 10.0])
    check(s["median_ms"] == 2.5 and s["min_ms"] == 1.0 and s["n"] == 4, "summarize")
    check(ratio(1.0, 0.5) == 2.0 and ratio(None, 1) is None and ratio(1, 0) is None, "ratio")
    res = {"models": {"gpt2_small": {"precisions": {
        "fp16": {"kiln": {"median_ms": 0.25},
                 "torch_cuda_graph": {"median_ms": 0.5, "check": {
                     "max_abs_diff": 0.01, "max_abs_ref": 5.0, "argmax_same": True}},
                 "hf_generate": {"median_ms": 60.0}},
        "fp32": {"kiln": {"error": "x"}, "torch_cuda_graph": {"median_ms": 0.9}}}}}}
    t = table(res)
    check("| gpt2_small | fp16 | 0.2500 | 0.5000 | 2.00x | 60.000 |" in t, t)
    check("| gpt2_small | fp32 | error | 0.9000 | - | - | - |" in t, t)
    print(f"self-test: {ok} checks passed")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--self-test", action="store_true")
    p.add_argument("--kiln-compile")
    p.add_argument("--kiln-run")
    p.add_argument("--models", help="folder with bytelm_llama.onnx and eval_text.bin")
    p.add_argument("--work", help="artifacts, the GPT-2 export, kiln-run JSON files")
    p.add_argument("--out", default=".")
    p.add_argument("--only", default=",".join(MODELS))
    p.add_argument("--precisions", default="fp16,fp32")
    p.add_argument("--skip", default="", help="comma-separated: kiln, torch, hf")
    p.add_argument("--context", type=int, default=512, help="prompt length")
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5, help="timed PyTorch decode runs")
    p.add_argument("--kiln-repeats", type=int, default=3, help="kiln-run --generate runs")
    p.add_argument("--hf-tokens", type=int, default=32, help="K of the HF generate timing")
    p.add_argument("--compile-flag", action="append", default=[])
    p.add_argument("--run-flag", action="append", default=[])
    p.add_argument("--recompile", action="store_true")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--compile-timeout", type=float, default=600)
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    missing = [f"--{k.replace('_', '-')}" for k in ("kiln_compile", "kiln_run", "models", "work")
               if not getattr(args, k)]
    if missing:
        p.error("missing " + ", ".join(missing))
    only = [x for x in args.only.split(",") if x]
    precisions = [x for x in args.precisions.split(",") if x]
    skip = {x for x in args.skip.split(",") if x}
    for bad, known, what in ((set(only) - set(MODELS), MODELS, "--only"),
                             (set(precisions) - {"fp16", "fp32", "bf16"},
                              ("fp16", "fp32", "bf16"), "--precisions"),
                             (skip - {"kiln", "torch", "hf"}, ("kiln", "torch", "hf"),
                              "--skip")):
        if bad:
            p.error(f"{what}: unknown {sorted(bad)}; known: {', '.join(known)}")
    args.text_path = os.path.join(args.models, "eval_text.bin")
    args.work = os.path.abspath(args.work)
    if args.dry_run:
        for name in only:
            for prec in precisions:
                print(f"{name} {prec}: kiln-compile --precision={prec} --max-seq-len "
                      f"{MAX_SEQ_LEN[name]}; kiln-run --generate --prompt-file {args.text_path} "
                      f"--prompt-length {args.context} --max-new-tokens {args.new_tokens} "
                      f"x{args.kiln_repeats}; PyTorch static cache of "
                      f"{args.context + args.new_tokens} positions, {args.repeats} x "
                      f"{args.new_tokens} timed replays")
        return 0
    if "kiln" not in skip:
        for tool in (args.kiln_compile, args.kiln_run):
            if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
                print(f"error: {tool} is not an executable file", file=sys.stderr)
                return 2
    if not os.path.exists(args.text_path):
        print(f"error: {args.text_path} not found", file=sys.stderr)
        return 2
    if args.context + args.new_tokens > min(MAX_SEQ_LEN[n] for n in only):
        p.error("--context + --new-tokens exceeds a model's maximum context")
    os.makedirs(args.work, exist_ok=True)

    import numpy as np
    import torch
    import transformers
    if not torch.cuda.is_available():
        print("error: no CUDA device for PyTorch", file=sys.stderr)
        return 2
    dtypes = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}
    results = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
               "transformers": transformers.__version__, "context": args.context,
               "new_tokens": args.new_tokens, "batch": 1,
               "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "models": {}}
    ids = np.fromfile(args.text_path, dtype=np.uint8)[:args.context].astype(np.int64)
    failed = False
    t_start = time.time()

    for name in only:
        print(f"\n== {name} ==", flush=True)
        entry = results["models"].setdefault(name, {"precisions": {}})
        torch.manual_seed(0)
        if name == "bytelm_llama":
            onnx_path = os.path.join(args.models, "bytelm_llama.onnx")
            model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA)).eval()
            cls = LlamaDecoder
        else:
            model = transformers.GPT2LMHeadModel(transformers.GPT2Config()).float().eval()
            cls = GPT2Decoder
            onnx_path = os.path.join(args.work, "gpt2_small_dynseq.onnx")
            if "kiln" not in skip:
                try:
                    entry["export"] = export_gpt2(model, onnx_path, MAX_SEQ_LEN[name])
                except Exception as e:  # noqa: BLE001
                    entry["export"] = {"error": f"{type(e).__name__}: {e}"}
                    print(f"error: GPT-2 export: {e}", file=sys.stderr, flush=True)
        entry["params"] = int(sum(t.numel() for t in model.parameters()))
        for prec in precisions:
            r = entry["precisions"].setdefault(prec, {})
            if "kiln" not in skip and "error" not in entry.get("export", {}):
                r["kiln"] = kiln_decode(args, onnx_path, prec, name, MAX_SEQ_LEN[name], ids)
            if "torch" not in skip:
                r["torch_cuda_graph"] = torch_decode(model, cls, dtypes[prec], ids, args)
            if "hf" not in skip:
                r["hf_generate"] = hf_generate(model, dtypes[prec], ids, args)
            failed |= any("error" in v for v in r.values() if isinstance(v, dict))
            model = model.float().cpu()
        failed |= "error" in entry.get("export", {})
        del model
        torch.cuda.empty_cache()

    results["seconds"] = round(time.time() - t_start, 1)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "bench-decode.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n{results['gpu']}, torch {results['torch']}, batch 1, prompt {args.context}, "
          f"{args.new_tokens} new tokens (ms/token = GPU time per decode step, median)\n")
    print(table(results))
    print(f"\nwrote {path} ({results['seconds']} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
