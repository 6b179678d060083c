"""Rows of the results, and what is written from them: the JSON, the Markdown table and the SVG
plot of the decode ratios (hand-written SVG, no plotting library).

A row: {"id", "labels": {...}, "kiln": M, "peers": {name: M}, optional "floor_ms", "flop",
"bytes", "tokens" (work per timed unit) and "notes"}; finalize_row adds "ratios" (peer time /
Kiln time: > 1 means Kiln is faster), "best_peer"/"best_ratio" (the fastest peer), "pct_of_floor"
(floor / time x 100) and the throughputs of each timed measurement (tflops, gbps,
tokens_per_s). A measurement M is {"median_ms", "min_ms", "max_ms", "n", ...} or one of
{"error": why}, {"na": why}, {"skipped": why}.
"""

import json
import math
import os
import shutil
import xml.sax.saxutils as su

PART_ORDER = ("decode", "prefill", "kernels", "compile")

PEER_NAMES = {
    "torch_cuda_graph": "PyTorch + CUDA graph",
    "hf_generate": "HF generate",
    "onnxruntime": "ONNX Runtime",
    "torch_eager": "PyTorch eager",
    "torch_eager_last": "PyTorch eager, last logits only",
    "ort_cuda": "ONNX Runtime CUDA EP (fp32 graph)",
    "sdpa_flash": "PyTorch SDPA (flash)",
    "sdpa": "PyTorch SDPA",
    "cublas": "cuBLAS (torch.matmul)",
    "ort_session_cpu": "ONNX Runtime session, CPU EP",
    "ort_session_cuda": "ONNX Runtime session, CUDA EP",
}


def timed(m):
    return isinstance(m, dict) and isinstance(m.get("median_ms"), (int, float)) \
        and not isinstance(m.get("median_ms"), bool) and m["median_ms"] > 0


def status(m):
    """'ok', 'error', 'na', 'skipped' or 'missing'."""
    if timed(m):
        return "ok"
    if not isinstance(m, dict):
        return "missing"
    for k in ("error", "na", "skipped"):
        if k in m:
            return k
    return "missing"


def finalize_row(row):
    """Ratios, best peer, % of floor and throughputs from the row's measurements."""
    kiln = row.get("kiln")
    peers = row.get("peers", {})
    for m in [kiln] + list(peers.values()):
        if not timed(m):
            continue
        sec = m["median_ms"] * 1e-3
        if row.get("flop"):
            m["tflops"] = row["flop"] / sec / 1e12
        if row.get("bytes"):
            m["gbps"] = row["bytes"] / sec / 1e9
        if row.get("tokens"):
            m["tokens_per_s"] = row["tokens"] / sec
    ratios = {}
    if timed(kiln):
        for name, m in peers.items():
            if timed(m):
                ratios[name] = m["median_ms"] / kiln["median_ms"]
    row["ratios"] = ratios
    timed_peers = {n: m for n, m in peers.items() if timed(m)}
    if timed_peers:
        best = min(timed_peers, key=lambda n: timed_peers[n]["median_ms"])
        row["best_peer"] = best
        row["best_ratio"] = ratios.get(best)
    else:
        row["best_peer"] = None
        row["best_ratio"] = None
    row["elapsed_s"] = round(sum(m.get("seconds", 0) for m in [kiln] + list(peers.values())
                                 if isinstance(m, dict)), 1)
    floor = row.get("floor_ms")
    if floor:
        row["pct_of_floor"] = {n: floor / m["median_ms"] * 100
                               for n, m in [("kiln", kiln)] + list(peers.items()) if timed(m)}
    return row


def measured_count(results):
    return sum(1 for part in results.get("parts", {}).values() for row in part.get("rows", [])
               for m in [row.get("kiln")] + list(row.get("peers", {}).values()) if timed(m))


def failed_checks(results):
    """[(row id, who, detail)] of correctness checks that failed; who is 'kiln' or a peer."""
    out = []
    for part in results.get("parts", {}).values():
        for row in part.get("rows", []):
            for who, m in [("kiln", row.get("kiln"))] + list(row.get("peers", {}).items()):
                c = m.get("check") if isinstance(m, dict) else None
                if isinstance(c, dict) and c.get("passed") is False:
                    out.append((row["id"], who, c))
    return out


def exit_status(results):
    """1 when nothing was measured or a peer's correctness check failed, else 0 (speed is
    never asserted; Kiln's own check failures are reported in the table)."""
    if measured_count(results) == 0:
        return 1
    if any(who != "kiln" for _, who, _ in failed_checks(results)):
        return 1
    return 0


def merge(base, new):
    """`new`'s parts replace `base`'s; the header is `new`'s, each part keeps its own `run`."""
    out = dict(base)
    out.update({k: v for k, v in new.items() if k != "parts"})
    out["parts"] = dict(base.get("parts", {}))
    out["parts"].update(new.get("parts", {}))
    out.setdefault("header", {})
    return out


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------

def num(v, digits=4):
    if v is None:
        return "-"
    if abs(v) >= 10 ** digits:
        return f"{v:.0f}"
    s = f"{v:.{digits}g}"
    return s if "e" not in s else f"{v:.{digits}f}"


def cell(m, scale=1.0, unit=""):
    """'median (min–max, n N)' of a measurement, or its status."""
    st = status(m)
    if st == "ok":
        med, lo, hi = (m["median_ms"] * scale, m.get("min_ms", m["median_ms"]) * scale,
                       m.get("max_ms", m["median_ms"]) * scale)
        n = m.get("n")
        spread = f" ({num(lo, 3)}–{num(hi, 3)}{', n ' + str(n) if n else ''})" if n != 1 else ""
        return f"{num(med)}{unit}{spread}"
    return {"error": "error*", "na": "n/a*", "skipped": "skipped*", "missing": "-"}[st]


def ratio_cell(r):
    return f"{r:.2f}x" if isinstance(r, (int, float)) and r else "-"


def best_cell(row):
    if not row.get("best_ratio"):
        return "-"
    return f"{row['best_ratio']:.2f}x ({PEER_NAMES.get(row['best_peer'], row['best_peer'])})"


def pct(row, who):
    p = (row.get("pct_of_floor") or {}).get(who)
    return f"{p:.0f}%" if p is not None else "-"


def tput(m, key, digits=4):
    return num(m[key], digits) if timed(m) and m.get(key) is not None else "-"


def _decode_rows(rows):
    peers = ["torch_cuda_graph", "hf_generate", "onnxruntime"]
    head = ["model", "B", "context", "Kiln ms/step", "Kiln tokens/s"] + \
        [PEER_NAMES[p] + " ms/step" for p in peers] + \
        ["best peer / Kiln", "floor ms", "% of floor: Kiln / best peer"]
    out = []
    for r in rows:
        lb, k, pe = r["labels"], r.get("kiln"), r.get("peers", {})
        best = r.get("best_peer")
        out.append([lb["model"], str(lb["batch"]), str(lb["context"]), cell(k),
                    tput(k, "tokens_per_s", 5)] + [cell(pe.get(p)) for p in peers] +
                   [best_cell(r), num(r.get("floor_ms")),
                    f"{pct(r, 'kiln')} / {pct(r, best) if best else '-'}"])
    return head, out


def _prefill_rows(rows):
    peers = ["torch_eager", "torch_eager_last", "ort_cuda"]
    head = ["model", "prompt tokens", "Kiln time to first token ms", "Kiln tokens/s"] + \
        [PEER_NAMES[p] + " ms" for p in peers] + ["best peer / Kiln"]
    out = []
    for r in rows:
        lb, k, pe = r["labels"], r.get("kiln"), r.get("peers", {})
        out.append([lb["model"], str(lb["tokens"]), cell(k), tput(k, "tokens_per_s", 5)] +
                   [cell(pe.get(p)) for p in peers] + [best_cell(r)])
    return head, out


def _kernel_rows(rows):
    head = ["kernel", "shape", "Kiln ms", "Kiln", "peer", "peer ms", "peer", "peer / Kiln",
            "% of floor: Kiln / peer", "notes"]
    out = []
    for r in rows:
        lb, k, pe = r["labels"], r.get("kiln"), r.get("peers", {})
        name = next(iter(pe), None)
        p = pe.get(name) if name else None
        key, unit = ("gbps", " GB/s") if r.get("metric", "tflops" if r.get("flop") else
                                             "gbps") == "gbps" else ("tflops", " TFLOP/s")

        def rate(m):
            return tput(m, key) + unit if timed(m) else "-"
        notes = list(r.get("notes", []))
        c = k.get("check") if isinstance(k, dict) else None
        if isinstance(c, dict):
            notes.append("Kiln output " + ("matches" if c.get("passed") else "DIFFERS from")
                         + " PyTorch's")
        if timed(k) and k.get("launches") is not None:
            notes.append(f"{k['launches']} launch{'es' if k['launches'] != 1 else ''} per run")
        out.append([lb["kernel"], lb["shape"], cell(k), rate(k),
                    PEER_NAMES.get(name, name or "-"), cell(p), rate(p),
                    ratio_cell(r.get("ratios", {}).get(name)),
                    f"{pct(r, 'kiln')} / {pct(r, name) if name else '-'}" if r.get("floor_ms")
                    else "-", "; ".join(notes)])
    return head, out


def _compile_rows(rows):
    head = ["model", "Kiln compile s", "Kiln peak RSS MB", "ORT session CPU EP s (peak RSS MB)",
            "ORT session CUDA EP s (peak RSS MB)", "ORT CPU EP / Kiln"]
    out = []
    for r in rows:
        lb, k, pe = r["labels"], r.get("kiln"), r.get("peers", {})

        def with_rss(m):
            c = cell(m, 1e-3)
            if timed(m) and m.get("max_rss_mb"):
                c += f" ({m['max_rss_mb']:.0f})"
            return c
        out.append([lb["model"], cell(k, 1e-3),
                    num(k.get("max_rss_mb")) if timed(k) else "-",
                    with_rss(pe.get("ort_session_cpu")), with_rss(pe.get("ort_session_cuda")),
                    ratio_cell(r.get("ratios", {}).get("ort_session_cpu"))])
    return head, out


PART_TABLES = {
    "decode": ("Decode (GPU time per decode step; a step makes B tokens)", _decode_rows),
    "prefill": ("Prefill (B = 1): time to first token", _prefill_rows),
    "kernels": ("Kernels", _kernel_rows),
    "compile": ("Compile time and peak compiler memory", _compile_rows),
}


def md_table(head, rows):
    esc = [[str(c).replace("|", "\\|") for c in r] for r in rows]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in esc]
    return "\n".join(lines)


def brief(text, limit=400):
    """A tool failure in one line: its first line (what ran) cut short, then its last line
    (usually why), which is kept whole."""
    lines = [l.strip() for l in str(text).strip().splitlines() if l.strip()]
    if not lines:
        return ""
    first, last = lines[0], lines[-1][:250]
    if len(lines) == 1:
        return first if len(first) <= limit else first[:limit - 1] + "…"
    room = max(60, limit - len(last) - 3)
    return (first if len(first) <= room else first[:room - 1] + "…") + " … " + last


def problems(part_name, part):
    """'- row: who: status: why' for every measurement that is not a time and every failed
    check; a cause shared by several rows is listed once, with the rows."""
    out = []
    if part.get("error"):
        out.append(f"- {part_name}: {brief(part['error'])}")
    groups = {}
    for row in part.get("rows", []):
        for who, m in [("Kiln", row.get("kiln"))] + \
                [(PEER_NAMES.get(n, n), m) for n, m in row.get("peers", {}).items()]:
            st = status(m)
            if st in ("error", "na", "skipped"):
                why = str(m[st])
                if why.startswith(row["id"] + ": "):      # the measurement's label
                    why = why[len(row["id"]) + 2:]
                groups.setdefault((who, st, brief(why)), []).append(row["id"])
            c = m.get("check") if isinstance(m, dict) else None
            if isinstance(c, dict) and c.get("passed") is False:
                out.append(f"- {row['id']}: {who}: correctness check FAILED: "
                           f"{json.dumps(c)[:300]}")
    for (who, st, why), ids in groups.items():
        if len(ids) == 1:
            out.append(f"- {ids[0]}: {who}: {st}: {why}")
        else:
            out.append(f"- {who}: {st} in {len(ids)} rows ({', '.join(ids)}): {why}")
    return out


def markdown(results):
    h = results.get("header", {})
    bw = h.get("copy_bandwidth") or {}
    lines = [f"# Kiln benchmark suite: {h.get('gpu', '?')}, {h.get('date', '?')}", ""]
    info = [("GPU", h.get("gpu")), ("driver", h.get("driver")),
            ("CUDA (driver / torch)", f"{h.get('cuda_driver', '?')} / {h.get('cuda_torch', '?')}"),
            ("torch / transformers", f"{h.get('torch', '?')} / {h.get('transformers', '?')}"),
            ("onnxruntime / onnx", f"{h.get('onnxruntime', '?')} / {h.get('onnx', '?')}"),
            ("Kiln commit", h.get("kiln_commit")),
            ("device copy bandwidth", f"{bw['bytes_per_s'] / 1e12:.3f} TB/s (read + write)"
             if bw.get("bytes_per_s") else (bw.get("error") or "not measured")),
            ("weights", h.get("weights")), ("precision", h.get("precision")),
            ("mode", h.get("mode"))]
    lines += [md_table(["", ""], [[k, str(v if v is not None else "?")] for k, v in info]), ""]
    lines += ["Ratios are peer time / Kiln time: above 1, Kiln is faster. \"best peer\" is the "
              "fastest peer of the row. % of floor = floor / time (100% would be the hardware's "
              "limit). Cells: median (min–max, n samples). `*`: see \"Not measured\" below. "
              "docs/Benchmarks.md explains every figure.", ""]
    notes = []
    parts = results.get("parts", {})
    for name in PART_ORDER:
        if name not in parts:
            continue
        part = parts[name]
        title, fn = PART_TABLES[name]
        lines.append(f"## {title}")
        lines.append("")
        run = part.get("run", {})
        if run and (run.get("date") != h.get("date") or
                    run.get("kiln_commit") != h.get("kiln_commit")):
            lines += [f"(measured {run.get('date')}, Kiln {run.get('kiln_commit')})", ""]
        for n in part.get("notes", []):
            lines.append(f"- {n}")
        if part.get("notes"):
            lines.append("")
        if part.get("rows"):
            head, rows = fn(part["rows"])
            lines += [md_table(head, rows), ""]
        else:
            lines += ["(no rows)", ""]
        notes += problems(name, part)
    if notes:
        lines += ["## Not measured, failed or not applicable", ""] + notes + [""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# SVG: decode ratios
# ----------------------------------------------------------------------------------------------

def svg_decode(results):
    rows = results.get("parts", {}).get("decode", {}).get("rows", [])
    h = results.get("header", {})
    esc = su.escape
    left, bar_w, row_h, top = 230, 520, 26, 64
    ratios = [r.get("best_ratio") for r in rows if r.get("best_ratio")]
    xmax = max([2.0] + [x * 1.15 for x in ratios])
    xmax = math.ceil(xmax * 2) / 2
    height = top + row_h * max(1, len(rows)) + 50
    width = left + bar_w + 260

    def x(v):
        return left + bar_w * v / xmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           '<text x="10" y="20" font-size="15" font-weight="bold">Decode: best peer time / '
           'Kiln time (above 1: Kiln faster)</text>',
           f'<text x="10" y="40" fill="#555">{esc(str(h.get("gpu", "?")))}, '
           f'{esc(str(h.get("date", "?")))}, Kiln {esc(str(h.get("kiln_commit", "?")))}, fp16, '
           f'random weights</text>']
    # grid
    step = 0.5 if xmax <= 4 else 1.0
    v = 0.0
    while v <= xmax + 1e-9:
        out.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" '
                   f'y2="{top + row_h * max(1, len(rows))}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{x(v):.1f}" y="{top + row_h * max(1, len(rows)) + 16}" '
                   f'text-anchor="middle" fill="#555">{v:g}</text>')
        v += step
    for i, r in enumerate(rows):
        y = top + i * row_h
        lb = r.get("labels", {})
        label = f"{lb.get('model', '?')}  B{lb.get('batch', '?')}  ctx {lb.get('context', '?')}"
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{esc(label)}</text>')
        q = r.get("best_ratio")
        if q:
            color = "#2e7d32" if q >= 1 else "#e65100"
            out.append(f'<rect x="{left}" y="{y + 4}" width="{max(1.0, x(q) - left):.1f}" '
                       f'height="{row_h - 8}" fill="{color}"/>')
            peer = PEER_NAMES.get(r.get("best_peer"), r.get("best_peer"))
            out.append(f'<text x="{x(q) + 6:.1f}" y="{y + 16}">{q:.2f}x vs '
                       f'{esc(str(peer))}</text>')
        else:
            k = r.get("kiln")
            why = f"Kiln: {status(k)}" if status(k) != "ok" else "no peer time"
            out.append(f'<text x="{left + 6}" y="{y + 16}" fill="#b00020">no ratio '
                       f'({esc(why)})</text>')
    if not rows:
        out.append(f'<text x="{left}" y="{top + 16}">no decode rows</text>')
    one = x(1.0)
    out.append(f'<line x1="{one:.1f}" y1="{top - 10}" x2="{one:.1f}" '
               f'y2="{top + row_h * max(1, len(rows)) + 4}" stroke="black" '
               f'stroke-dasharray="5,3" stroke-width="1.5"/>')
    out.append(f'<text x="{one:.1f}" y="{top - 14}" text-anchor="middle">1.0</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------

def gpu_slug(name):
    s = "".join(c if c.isalnum() else "-" for c in str(name or "gpu").lower())
    s = s.replace("nvidia", "")
    while "--" in s:
        s = s.replace("--", "-")
    return s.strip("-") or "gpu"


def write_all(results, out_dir):
    """bench/results/<date>-<gpu>.{json,md} and -decode.svg under out_dir, and the same as
    latest.{json,md,svg}. Returns the paths written."""
    h = results.get("header", {})
    d = os.path.join(out_dir, "bench", "results")
    os.makedirs(d, exist_ok=True)
    stem = os.path.join(d, f"{h.get('date', 'undated')}-{gpu_slug(h.get('gpu'))}")
    paths = {"json": stem + ".json", "md": stem + ".md", "svg": stem + "-decode.svg"}
    with open(paths["json"], "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(paths["md"], "w") as f:
        f.write(markdown(results))
    with open(paths["svg"], "w") as f:
        f.write(svg_decode(results))
    for kind, p in list(paths.items()):
        latest = os.path.join(d, f"latest.{kind}")
        shutil.copyfile(p, latest)
        paths["latest_" + kind] = latest
    return paths
