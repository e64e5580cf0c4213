#!/usr/bin/env python3
"""Turns one hack/bench results directory into table.md, summary.json and chart.svg.

usage: report.py RESULTS_DIR   (prints the markdown table)
"""
import glob
import json
import os
import statistics
import sys
from html import escape

WORKLOADS = [
    ("run", "run /bin/true", "ms"),
    ("lifecycle", "create+start+wait+delete", "ms"),
    ("exec", "exec /bin/true", "ms"),
    ("batch", "batch create+delete", "s"),
    ("rss", "peak RSS of run", "MiB"),
    ("mem", "min memory.limit for run", "KiB"),
]
COLORS = {"floor": "#9e9e9e", "nook": "#d9480f", "nook-rw": "#f08c00", "runc": "#1c7ed6",
          "crun": "#2b8a3e", "youki": "#7048e8"}


def load(out):
    times = {}
    for path in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
        w = os.path.basename(path).rsplit("-r", 1)[0]
        with open(path) as f:
            for res in json.load(f)["results"]:
                times.setdefault(w, {}).setdefault(res["command"], []).extend(res["times"])
    data = {}
    for w, per in times.items():
        for name, ts in per.items():
            data.setdefault(w, {})[name] = {
                "median": statistics.median(ts), "mean": statistics.fmean(ts),
                "stdev": statistics.stdev(ts) if len(ts) > 1 else 0.0,
                "min": min(ts), "max": max(ts), "n": len(ts), "unit": "s"}
    rss = {}
    with open(os.path.join(out, "rss.tsv")) as f:
        for line in f:
            name, kib = line.split()
            rss.setdefault(name, []).append(int(kib))
    for name, vals in rss.items():
        data.setdefault("rss", {})[name] = {
            "median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals), "unit": "KiB"}
    with open(os.path.join(out, "mem.tsv")) as f:
        for line in f:
            name, kind, nbytes = line.split()
            data.setdefault("mem", {})[name] = {
                "median": int(nbytes), "bound": kind, "unit": "B"}
    status = {}
    with open(os.path.join(out, "status.tsv")) as f:
        for line in f:
            w, name, why = line.rstrip("\n").split("\t", 2)
            status.setdefault(w, {})[name] = why
    return data, status


def shown(w, v):
    """The median in the workload's display unit."""
    m = v["median"]
    return {"ms": m * 1e3, "s": m, "MiB": m / 1024, "KiB": m / 1024}[dict(
        (k, u) for k, _, u in WORKLOADS)[w]]


def cell(w, name, data, status):
    v = data.get(w, {}).get(name)
    if v is None:
        why = status.get(w, {}).get(name, "")
        return "n/a" if (why.startswith("n/a") or name == "floor" or not why) else "failed"
    unit = dict((k, u) for k, _, u in WORKLOADS)[w]
    x = shown(w, v)
    text = f"{x:.1f} {unit}" if unit != "s" else f"{x:.2f} s"
    if unit == "KiB":
        text = {"above": "> ", "at_most": "≤ "}.get(v["bound"], "") + f"{x:.0f} KiB"
    crun = data.get(w, {}).get("crun")
    if crun and crun["median"]:
        text += f" ({v['median'] / crun['median']:.2f}×)"
    return text


def table(names, data, status):
    cols = ["floor"] + names
    lines = ["| workload (median) | " + " | ".join(cols) + " |",
             "|---|" + "---|" * len(cols)]
    for w, title, _ in WORKLOADS:
        lines.append(f"| {title} | " + " | ".join(cell(w, n, data, status) for n in cols) + " |")
    return "\n".join(lines)


def chart(names, data, path):
    cols = ["floor"] + names
    width, label_w, bar_h, gap = 760, 70, 18, 4
    y = 30
    parts = []
    for w, title, unit in WORKLOADS:
        rows = [(n, data[w][n]) for n in cols if n in data.get(w, {})]
        if not rows:
            continue
        parts.append(f'<text x="10" y="{y}" font-weight="bold">{escape(title)} ({unit}, median; '
                     f'ratio to crun)</text>')
        y += 8
        top = max(shown(w, v) for _, v in rows if v) or 1
        span = width - label_w - 180
        crun = data[w].get("crun")
        for n in names:
            if n not in data[w]:
                rows.append((n, None))
        for n, v in rows:
            if v is None:
                parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{n}</text>')
                parts.append(f'<text x="{label_w + 6}" y="{y + 13}" fill="#868e96">n/a</text>')
                y += bar_h + gap
                continue
            x = shown(w, v)
            bw = max(1, span * x / top)
            ratio = f" ({v['median'] / crun['median']:.2f}×)" if crun and crun["median"] else ""
            parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{n}</text>')
            parts.append(f'<rect x="{label_w}" y="{y}" width="{bw:.1f}" height="{bar_h}" '
                         f'fill="{COLORS.get(n, "#495057")}"/>')
            parts.append(f'<text x="{label_w + bw + 6:.1f}" y="{y + 13}">'
                         f'{x:.2f}{ratio}</text>')
            y += bar_h + gap
        y += 26
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
           f'font-family="sans-serif" font-size="12">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")
    with open(path, "w") as f:
        f.write(svg)


def main():
    out = sys.argv[1]
    data, status = load(out)
    names = [n for n in ("nook", "nook-rw", "runc", "crun", "youki")
             if any(n in data.get(w, {}) or n in status.get(w, {}) for w, _, _ in WORKLOADS)]
    with open(os.path.join(out, "env.txt")) as f:
        env = f.read().strip()
    md = [f"# nook benchmark {os.path.basename(out)}", "", "```", env, "```", "",
          table(names, data, status), "",
          "Cells: median (ratio to crun's median; below 1 is faster/smaller than crun). "
          "Times are wall clock, from hyperfine with its shell-spawn time subtracted.", ""]
    notes = [f"- {w} / {n}: {why}" for w, per in status.items() for n, why in per.items()]
    if notes:
        md += ["Not measured:", *notes, ""]
    md += ["Spread (time workloads): median / mean ± sd / min–max / n", ""]
    for w, title, unit in WORKLOADS[:4]:
        for n in ["floor"] + names:
            v = data.get(w, {}).get(n)
            if v:
                k = 1e3 if unit == "ms" else 1
                md.append(f"- {title}, {n}: {v['median'] * k:.2f} / {v['mean'] * k:.2f} ± "
                          f"{v['stdev'] * k:.2f} / {v['min'] * k:.2f}–{v['max'] * k:.2f} {unit} "
                          f"/ n={v['n']}")
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"data": data, "status": status}, f, indent=2)
    chart(names, data, os.path.join(out, "chart.svg"))
    print(text)


if __name__ == "__main__":
    main()
