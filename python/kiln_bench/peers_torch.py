"""PyTorch peers: a static-cache decode step replayed as a CUDA graph, HF `generate`, eager
forwards, and CUDA-event timing of kernels (torch imported lazily, inside the functions).

The static-cache loop ("plain PyTorch + CUDA graph", DESIGN.md's anchor): K and V tensors
[layers, B, kv_heads, max_seq, head_dim] preallocated; one step = embedding (+ the position
row for GPT-2 / the RoPE row for Llama, both selected by a device-side position tensor), per
layer: norm, fused QKV projection, cache write at the position (index_copy_), SDPA of the new
query over the WHOLE max_seq cache with a boolean mask (positions <= current), so that every
shape is static (GQA: the query heads of a KV head are the query rows of one SDPA call, no K/V
copy), output projection, MLP (fused gate/up for Llama); final norm, LM head, argmax; the step
writes the next tokens and increments the position on the device. Captured once with
torch.cuda.graph and replayed. The B sequences of a batch share one position (equal prompt
lengths). Each replay is timed with CUDA events; the figure is the median step.
"""

import statistics
import time

from .tools import StepError, summarize


class StaticDecoder:
    """Shared machinery: static token/position buffers, the cache, capture, replay, timing.

    Subclasses set self.L, self.KVH, self.D, self.dtype and implement body(), which reads
    self.tok [B] / self.pos [1] and returns logits [B, vocab] (writing the cache in place)."""

    def setup(self, max_seq, vocab, device, batch):
        import torch
        self.M, self.B = max_seq, batch
        self.tok = torch.zeros(batch, dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.ar = torch.arange(max_seq, device=device)
        shape = (self.L, batch, self.KVH, max_seq, self.D)
        self.kc = torch.zeros(shape, dtype=self.dtype, device=device)
        self.vc = torch.zeros(shape, dtype=self.dtype, device=device)
        self.logits = torch.zeros(batch, vocab, dtype=torch.float32, device=device)
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
        """Feed prompts [B, n] one position per replay (0..n-1); returns the last logits."""
        import torch
        self.pos.zero_()
        for i in range(ids.shape[1]):
            self.tok.copy_(ids[:, i])
            self.graph.replay()
        torch.cuda.synchronize()
        return self.logits.clone()

    def fill_random(self, context, vocab, seed=0):
        """A cache holding `context` positions of random K/V (speed does not depend on the
        values); the next replay decodes at position `context`."""
        import torch
        g = torch.Generator(device=self.kc.device).manual_seed(seed)
        self.kc.normal_(generator=g)
        self.vc.normal_(generator=g)
        self.pos.fill_(context)
        self.tok.copy_(torch.randint(0, vocab, (self.B,), generator=g, device=self.kc.device))
        torch.cuda.synchronize()

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
    def __init__(self, hf, dtype, max_seq, batch=1):
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
        self.setup(max_seq, self.wlm.shape[0], dev, batch)

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
        B, H, KVH, D = self.B, self.H, self.KVH, self.D
        x = self.emb.index_select(0, self.tok)                       # [B, d]
        cos = self.cos_t.index_select(0, self.pos).view(1, 1, D)
        sin = self.sin_t.index_select(0, self.pos).view(1, 1, D)
        mask = self.mask()
        for i in range(self.L):
            h = self.rms(x, self.ln1[i])
            q, k, v = F.linear(h, self.wqkv[i]).split([H * D, KVH * D, KVH * D], -1)
            q = q.view(B, H, D)
            k = k.view(B, KVH, D)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            self.kc[i].index_copy_(2, self.pos, k.view(B, KVH, 1, D))
            self.vc[i].index_copy_(2, self.pos, v.view(B, KVH, 1, D))
            # The H/KVH query heads j*G..j*G+G-1 of KV head j (HF's repeat_kv order) are the
            # query rows of one SDPA call: q as [B, KVH, G, D], no K/V copy.
            o = F.scaled_dot_product_attention(q.view(B, KVH, H // KVH, D), self.kc[i],
                                               self.vc[i], attn_mask=mask)
            x = x + F.linear(o.reshape(B, H * D), self.wo[i])
            g, u = F.linear(self.rms(x, self.ln2[i]), self.wgu[i]).chunk(2, -1)
            x = x + F.linear(F.silu(g) * u, self.wd[i])
        return F.linear(self.rms(x, self.lnf), self.wlm)


class GPT2Decoder(StaticDecoder):
    def __init__(self, hf, dtype, max_seq, batch=1):
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
        self.setup(max_seq, self.wlm.shape[0], dev, batch)

    def body(self):
        import torch.nn.functional as F
        B, H, D, d = self.B, self.H, self.D, self.d
        x = self.wte.index_select(0, self.tok) + self.wpe.index_select(0, self.pos)
        mask = self.mask()
        for i, b in enumerate(self.blocks):
            h = F.layer_norm(x, (d,), *b["ln1"], self.eps)
            q, k, v = F.linear(h, *b["attn"]).split(d, -1)
            self.kc[i].index_copy_(2, self.pos, k.view(B, H, 1, D))
            self.vc[i].index_copy_(2, self.pos, v.view(B, H, 1, D))
            o = F.scaled_dot_product_attention(q.view(B, H, 1, D), self.kc[i], self.vc[i],
                                               attn_mask=mask)
            x = x + F.linear(o.reshape(B, d), *b["proj"])
            h = F.layer_norm(x, (d,), *b["ln2"], self.eps)
            x = x + F.linear(F.gelu(F.linear(h, *b["fc"]), approximate="tanh"), *b["fc2"])
        return F.linear(F.layer_norm(x, (d,), *self.lnf, self.eps), self.wlm)


def decoder_class(hf):
    return GPT2Decoder if hasattr(hf, "transformer") else LlamaDecoder


def last_logits(hf, ids):
    """HF's logits of the last position of each row of ids [B, n] (float32)."""
    try:
        out = hf(input_ids=ids, use_cache=False, logits_to_keep=1)
    except TypeError:
        out = hf(input_ids=ids, use_cache=False)
    return out.logits[:, -1].float()


def torch_decode(hf, cls, dtype, prompts, steps, repeats, context=None, batch=1,
                 check_tol=0.05):
    """The static-cache CUDA-graph loop over `hf`'s weights: per-step timing of `steps`
    replays, `repeats` times. With `prompts` (int64 [B, n]) the prompts go through the graph
    (untimed) and the loop's logits are checked against the HF model's forward of the same
    prompts (max |diff| <= check_tol * max |ref| passes); without, `context` positions of
    random K/V fill the cache of `batch` sequences. Returns a dict, {"error": ..} on failure."""
    import torch
    try:
        with torch.no_grad():
            hf = hf.to(device="cuda", dtype=dtype).eval()
            if prompts is not None:
                ids_dev = torch.as_tensor(prompts, dtype=torch.long, device="cuda")
                batch, context = ids_dev.shape
            elif context is None:
                raise StepError("torch_decode: neither prompts nor a context")
            dec = cls(hf, dtype, context + steps, batch)
            t0 = time.time()
            dec.capture()
            capture_s = time.time() - t0
            r = {}
            if prompts is not None:
                last = dec.prefill(ids_dev)
                ref = last_logits(hf, ids_dev)
                diff = (last - ref).abs().max().item()
                big = ref.abs().max().item()
                agree = (last.argmax(-1) == ref.argmax(-1)).float().mean().item()
                r["check"] = {"max_abs_diff": diff, "max_abs_ref": big,
                              "argmax_same": agree == 1.0, "argmax_agreement": agree,
                              "passed": bool(diff <= check_tol * big),
                              "how": f"loop's logits after the prompt vs the HF forward: "
                                     f"max |diff| <= {check_tol} x max |ref|"}
                first = dec.tok.clone()
            else:
                dec.fill_random(context, dec.wlm.shape[0])
                first = dec.tok.clone()
                r["cache"] = f"{context} positions of random K/V (not checked at this size)"
            r.update(dec.time_decode(context, first, steps, repeats))
            r.update(capture_s=round(capture_s, 2), max_seq=dec.M, batch=batch,
                     attention="SDPA over the whole static cache (max_seq) with a mask")
            if isinstance(dec, LlamaDecoder):
                r["rope_theta"] = dec.theta
            del dec
            return r
    except Exception as e:  # noqa: BLE001  (report and go on)
        import traceback
        traceback.print_exc()
        return {"error": f"PyTorch static-cache loop: {type(e).__name__}: {e}"}
    finally:
        torch.cuda.empty_cache()


def hf_generate(hf, dtype, ids, tokens):
    """HF generate, greedy, B=1: (wall time of 1+K new tokens - of 1) / K, twice."""
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
            k = tokens
            per = [(gen(1 + k) - gen(1)) / k for _ in range(2)]
            return {"median_ms": statistics.median(per), "min_ms": min(per),
                    "max_ms": max(per), "n": len(per), "runs_ms": per, "tokens": k,
                    "how": "(wall time of 1+K new tokens - of 1) / K"}
    except Exception as e:  # noqa: BLE001
        return {"error": f"HF generate: {type(e).__name__}: {e}"}
    finally:
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

def time_events(fn, reps, warmup):
    """ms per call of fn() (already on the GPU), CUDA events around each call."""
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return times


def time_graph(fn, reps, warmup, calls=1):
    """ms per call of fn(): `calls` calls captured in one CUDA graph, CUDA events around each
    replay (what kiln-run does around its graph); falls back to eager calls when capture
    fails. Returns (times, how)."""
    import torch
    try:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):
                fn()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(calls):
                fn()
        times = [t / calls for t in time_events(g.replay, reps, warmup)]
        return times, (f"CUDA graph of {calls} call{'s' if calls > 1 else ''}, CUDA events "
                       "around each replay")
    except Exception as e:  # noqa: BLE001
        print(f"  (CUDA graph capture failed: {type(e).__name__}: {str(e)[:200]}; "
              "timing eager calls)", flush=True)
        return time_events(fn, reps, warmup), "eager calls, CUDA events around each"


def copy_bandwidth(gib=1, reps=10):
    """Device-to-device copy of a `gib` GiB tensor: (bytes read + written) / time."""
    import torch
    n = int(gib * (1 << 30))

    def measure():
        src = torch.empty(n, dtype=torch.uint8, device="cuda")
        dst = torch.empty_like(src)
        return summarize(time_events(lambda: dst.copy_(src), reps, 3))
    s = measure()
    torch.cuda.empty_cache()
    return {"bytes_per_s": 2 * n / (s["median_ms"] * 1e-3), "bytes": n,
            "how": f"torch copy_ of a {gib} GiB tensor on the device, (read + write) / "
                   "median time, CUDA events", **s}


def eager_forward(hf, ids, reps, warmup, last_only):
    """CUDA-event time of hf(ids) (fp16 eager, no cache); last_only: logits_to_keep=1."""
    import torch
    x = torch.as_tensor(ids, dtype=torch.long, device="cuda")
    kw = {"use_cache": False}
    if last_only:
        kw["logits_to_keep"] = 1
    with torch.no_grad():
        try:
            times = time_events(lambda: hf(input_ids=x, **kw), reps, warmup)
        finally:
            torch.cuda.empty_cache()
    return times
