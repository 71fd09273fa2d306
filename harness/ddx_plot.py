#!/usr/bin/env python3
"""Figures from ddx results: run reports, sweeps and the committed results/*.json.

    harness/ddx_plot.py RESULTS... -o DIR [--formats png,svg]

RESULTS may mix (each file is recognised by its shape and "schema" field):
  ddx.run/1 report      `ddbench run --json` (one object, docs/report-schema.md)
  sweep output          JSON Lines, one ddx.run/1 report per line with a "sweep" field;
                        a torn last line (no newline: an interrupted sweep) is ignored
  Google Benchmark      `make microbench` (results/microbench.json: context + benchmarks)
  ddx.bench-e2e/1       `make bench`: its two median ddbench reports are run reports
  ddx.gpu-bench/1       `make gpu-bench`: end to end per backend
  tool_index_bench      results/index-bench.json: index bytes/entry and ops/s
Anything else is skipped with a warning; a file that is not JSON or JSON Lines is an
error ("FILE:LINE: not valid JSON: ...", exit 1).

Figures (DIR/<name>.<format>), each drawn only when the data supports it:
  dedup_vs_chunk_size        dedup ratio vs configured average chunk size, per chunker
  throughput_vs_chunk_size   end-to-end GB/s vs average chunk size (largest thread count)
  chunk_size_cdf             CDF of chunk sizes from "chunk_hist" (8 KiB runs preferred)
  kernel_throughput_vs_size  hash kernels (Google Benchmark) GB/s vs message size
  backend_throughput         end-to-end GB/s per backend (cpu, cuda, opencl)
  thread_scaling             end-to-end GB/s vs threads, with ideal linear scaling
  stage_breakdown            share of each stage's wall time, per configuration
  dedup_over_generations     cumulative dedup ratio after each stream ("per_stream")
  index_scaling              index bytes/entry and lookups/s vs index entries
Trace replays (input.kind "trace") feed only the last two. Prints the files written;
says on stderr which figures it skipped and why. Exit 0 if it wrote a figure, else 1.
Output is deterministic: the same data gives byte-identical SVG and PNG files.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

PROG = "ddx_plot"
STAGES = ("read", "chunk", "stitch", "hash", "index")
STAGE_COLORS = ("#9e9e9e", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
KIB = 1024
MAX_PANELS = 6  # panels (inputs) in one figure
MAX_BARS = 12  # stage_breakdown: more configurations than this -> one slice of them
MAX_LINES = 8  # dedup_over_generations: more per panel -> the runs nearest 8 KiB
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v")
# A description's trailing path list: "10 files, 680.2 MiB: /tmp/x/gen-01.tar ..."
PATH_TAIL = re.compile(r":\s+(\S*/\S*|\S+\.\w+)(\s+\.\.\.)?$")


def warn(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr)


class InputError(Exception):
    """A results file that cannot be read: one line, exit 1."""


# ---------------------------------------------------------------- reading inputs


def num(v, default=None):
    """v as a float if it is a number (not a bool) no larger than a u64 counter
    gets, else default."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    v = float(v)
    return v if math.isfinite(v) and abs(v) < 2.0 ** 64 else default


def size(v):
    """v as an int if it is a plausible size in bytes (1 B .. 1 TiB), else None."""
    v = num(v)
    return int(v) if v is not None and 1 <= v <= 2 ** 40 else None


def text(v, default=""):
    """v if it is a string (or a number, as text), else default."""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    return default


def dget(d, *keys, default=None):
    """d[k1][k2]... or default when any level is missing or not an object."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def parse_file(path):
    """The JSON values in path: [(line, value)], one for a JSON document, one per
    line for JSON Lines. Raises InputError for anything that is neither."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError("%s: %s" % (path, e.strerror or e))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError("%s:%d: not valid JSON: not UTF-8 (byte 0x%02x)" % (path, line,
                                                                            raw[e.start]))
    if not text.strip():
        return []
    try:
        return [(1, json.loads(text))]
    except json.JSONDecodeError as whole:
        doc_err = whole
    # JSON Lines when named so, or when the first non-blank line is a complete value
    # by itself; else one (broken) document, reported where the parser stopped.
    lines = text.split("\n")
    if not path.endswith((".jsonl", ".ndjson")):
        first = next(i for i, s in enumerate(lines) if s.strip())
        try:
            json.loads(lines[first])
        except json.JSONDecodeError:
            raise InputError("%s:%d: not valid JSON: %s (column %d)" % (
                path, doc_err.lineno, doc_err.msg, doc_err.colno))
    out = []
    last = len(lines) - 1  # lines[last] is "" when the file ends with a newline
    for i, s in enumerate(lines):
        if not s.strip():
            continue
        try:
            out.append((i + 1, json.loads(s)))
        except json.JSONDecodeError as e:
            if i == last:
                warn("%s:%d: ignoring a torn last line (%d bytes, no newline; an interrupted "
                     "sweep?)" % (path, i + 1, len(s.encode())))
                continue
            raise InputError("%s:%d: not valid JSON: %s (column %d)" % (path, i + 1, e.msg,
                                                                       e.colno))
    return out


class Data:
    """Everything read from the inputs, normalised."""

    def __init__(self):
        self.runs = []  # dicts made by run_record()
        self.gbench = []  # (source, context, benchmarks)
        self.gpu_bench = []  # ddx.gpu-bench/1 objects with their source
        self.index_bench = []  # tool_index_bench objects with their source


def short_path(p, keep=2):
    """/tmp/ddx-bench/builtin/gen-01.tar -> .../builtin/gen-01.tar"""
    parts = [x for x in p.split("/") if x]
    if p.startswith("/") and len(parts) > keep:
        return ".../" + "/".join(parts[-keep:])
    return p


def shorten(s, width=70):
    """A description made short enough for a footnote: long absolute paths lose
    their leading directories, then the text is cut with an ellipsis."""
    s = re.sub(r"/[^\s,;:()]+", lambda m: short_path(m.group(0)), s)
    return s if len(s) <= width else s[:width - 3].rstrip() + "..."


def split_desc(desc):
    """'10 files, 680.2 MiB: /tmp/x/backup' -> ('10 files, 680.2 MiB', '/tmp/x/backup');
    a description without a trailing path -> (desc, None)."""
    m = PATH_TAIL.search(desc)
    if not m:
        return desc, None
    return desc[:m.start()], m.group(1)


def input_label(desc, sweep_input, name=None):
    """A short name of the input for legends, panel titles and bar labels."""
    if name:
        return name
    if sweep_input:
        return os.path.basename(sweep_input.rstrip("/")) or sweep_input
    if desc.startswith("built-in dataset"):
        return "builtin"
    _, path = split_desc(desc)
    if path:
        base = os.path.basename(path.rstrip("/")) or path
        return base + (" ..." if desc.endswith("...") else "")
    return shorten(desc, 40)


def run_record(rep, source, name=None):
    """The fields the figures use, from one ddx.run/1 report."""
    cfg = rep.get("config") if isinstance(rep.get("config"), dict) else {}
    impl = rep.get("implementations") if isinstance(rep.get("implementations"), dict) else {}
    kind = text(dget(rep, "input", "kind"))
    desc = text(dget(rep, "input", "description"))
    sweep = rep.get("sweep") if isinstance(rep.get("sweep"), dict) else None
    sweep_input = text(sweep.get("input")) if sweep else ""
    trace = kind == "trace" or text(cfg.get("chunker")) == "trace"
    threads = num(cfg.get("threads"))
    threads = threads if threads and threads >= 1 else None
    avg = size(cfg.get("avg"))
    stages = {}
    for s in STAGES:
        st = dget(rep, "stages", s)
        if isinstance(st, dict):
            stages[s] = st
    index = rep.get("index") if isinstance(rep.get("index"), dict) else {}
    lps = num(index.get("lookups_per_s"))
    if lps is None or lps <= 0:  # older reports: index-stage chunks / index-stage seconds
        w, n = num(dget(stages, "index", "wall_s")), num(dget(stages, "index", "items"))
        lps = n / w if w and n else None
    return {
        "source": source,
        "trace": trace,
        "kind": kind,
        "input": sweep_input or desc or source,
        "input_label": input_label(desc, sweep_input, name),
        "description": desc,
        "chunker": text(cfg.get("chunker"), "?"),
        "avg": avg,
        "min": size(cfg.get("min")),
        "max": size(cfg.get("max")),
        "normalization": num(cfg.get("normalization")),
        "hash": text(cfg.get("hash"), "?"),
        "batch_size": num(cfg.get("batch_size")),
        "threads": int(threads) if threads else None,
        "backend": text(impl.get("backend"), "cpu"),
        "dedup": num(rep.get("dedup_ratio")),
        "bps": num(dget(rep, "end_to_end", "bytes_per_s")),
        "stages": stages,
        "chunk_hist": rep.get("chunk_hist") if isinstance(rep.get("chunk_hist"), list) else None,
        "per_stream": rep.get("per_stream") if isinstance(rep.get("per_stream"), list) else None,
        "index_entries": num(index.get("entries")),
        "index_bpe": num(index.get("bytes_per_entry")),
        "index_lps": lps,
        "trace_format": text(dget(rep, "trace", "format")),
        "machine": machine_of(rep.get("machine")),
    }


def machine_of(m):
    if not isinstance(m, dict):
        return None
    cpu = text(m.get("cpu_model")) or "unknown CPU"
    n = text(m.get("logical_cpus"))
    return "%s, %s logical CPUs" % (cpu, n) if n else str(cpu)


def classify(path, values, data):
    """Adds what path holds to data; warns about what it does not understand."""
    base = os.path.basename(path)
    if not values:
        warn("%s: holds no results, skipped" % path)
        return
    if len(values) == 1 and isinstance(values[0][1], list):  # a JSON array of reports
        values = [(1, v) for v in values[0][1]]
    unknown = 0
    for line, v in values:
        if not isinstance(v, dict):
            unknown += 1
            continue
        schema = v.get("schema")
        if schema == "ddx.run/1":
            data.runs.append(run_record(v, base))
        elif isinstance(v.get("context"), dict) and isinstance(v.get("benchmarks"), list):
            data.gbench.append((base, v["context"], v["benchmarks"]))
        elif schema == "ddx.bench-e2e/1":
            got = 0
            inputs = v.get("inputs") if isinstance(v.get("inputs"), dict) else {}
            for name, inp in sorted(inputs.items()):
                r = dget(inp, "ddbench_report_median_run")
                if isinstance(r, dict) and r.get("schema") == "ddx.run/1":
                    data.runs.append(run_record(r, base, name))
                    got += 1
            if not got:
                warn("%s: ddx.bench-e2e/1 without run reports, skipped" % path)
        elif schema == "ddx.gpu-bench/1":
            data.gpu_bench.append((base, v))
        elif v.get("tool") == "tool_index_bench" and isinstance(v.get("results"), list):
            data.index_bench.append((base, v))
        elif schema in ("ddx.kernels/1", "ddx.store-bench/1"):
            warn("%s: %s holds nothing these figures draw, skipped" % (path, schema))
        else:
            unknown += 1
            if len(values) == 1:
                what = ("schema %s" % schema) if schema else "no \"schema\" field"
                warn("%s: not a results file this tool reads (%s), skipped" % (path, what))
                return
    if unknown and len(values) > 1:
        warn("%s: %d of %d values are not ddx.run/1 reports, skipped" % (path, unknown,
                                                                        len(values)))


# ---------------------------------------------------------------- drawing helpers


def size_label(n):
    n = int(round(n))
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return "%dM" % (n >> 20)
    if n >= 1024 and n % 1024 == 0:
        return "%dK" % (n >> 10)
    return str(n)


def size_words(n):
    """8192 -> '8 KiB' (titles and legends)."""
    n = int(round(n))
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return "%d MiB" % (n >> 20)
    if n >= 1024 and n % 1024 == 0:
        return "%d KiB" % (n >> 10)
    return "%d B" % n


def size_axis(ax, values, lo=None, hi=None):
    """Log2 axis with power-of-two ticks labelled 1K, 2K, ... covering values
    (and at least lo..hi when given)."""
    vals = [v for v in values if v and v > 0]
    a = min(vals + ([lo] if lo else []))
    b = max(vals + ([hi] if hi else []))
    ea, eb = math.floor(math.log2(a)), math.ceil(math.log2(b))
    ax.set_xscale("log", base=2)
    ticks = [2.0 ** e for e in range(ea, eb + 1)]
    if len(ticks) > 12:
        ticks = ticks[::2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: size_label(x)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(2.0 ** ea / 1.15, 2.0 ** eb * 1.15)


class Figures:
    def __init__(self, outdir, formats):
        self.outdir = outdir
        self.formats = formats
        self.written = []
        self.skipped = []

    def skip(self, name, why):
        self.skipped.append(name)
        warn("skipped %s: %s" % (name, why))

    def save(self, fig, name, title, notes, legend=None):
        """notes: footnote lines (machine, data set, ...) under the axes; legend:
        (handles, labels, title) for one legend right of all the axes."""
        fig.suptitle(title, fontsize=12)
        right = 1.0
        if legend and legend[1]:
            # Widen the figure by the legend's width (about 0.075 in per character at
            # 8 pt), so that the axes keep theirs.
            chars = max(len(s) for s in list(legend[1]) + [legend[2] or ""])
            lw = 0.075 * chars + 0.6
            w = fig.get_figwidth()
            fig.set_figwidth(w + lw)
            right = w / (w + lw)
        h = fig.get_figheight()
        chars = int(fig.get_figwidth() * 17)  # what fits at 7.5 pt
        notes = [s if len(s) <= chars else s[:chars - 3].rstrip() + "..." for s in notes]
        line_in = 0.16
        bottom = (len(notes) * line_in + 0.12) / h
        for i, s in enumerate(notes):
            fig.text(0.01, 0.06 / h + (len(notes) - 1 - i) * line_in / h, s, fontsize=7.5,
                     color="#444444", ha="left", va="bottom")
        fig.tight_layout(rect=(0, bottom, right, 1))
        if legend and legend[1]:
            fig.legend(legend[0], legend[1], title=legend[2], loc="center left",
                       bbox_to_anchor=(right, (1 + bottom) / 2), fontsize=8, title_fontsize=9,
                       frameon=False)
        os.makedirs(self.outdir, exist_ok=True)
        for fmt in self.formats:
            path = os.path.join(self.outdir, "%s.%s" % (name, fmt))
            meta = {"Date": None} if fmt == "svg" else {}
            if fmt == "pdf":
                meta = {"CreationDate": None, "ModDate": None}
            fig.savefig(path, format=fmt, dpi=110, metadata=meta)
            self.written.append(path)
        plt.close(fig)


def median(xs):
    return statistics.median(xs) if xs else None


def varying(rows, keys):
    """The keys whose values differ among rows."""
    return [k for k in keys if len(set(r[k] for r in rows)) > 1]


def label_of(r, keys):
    parts = []
    for k in keys:
        v = r[k]
        if k == "avg":
            parts.append("avg %s" % size_label(v) if v else "avg ?")
        elif k == "threads":
            parts.append("%s thr" % v)
        elif k == "input":
            parts.append(r["input_label"])
        else:
            parts.append(str(v))
    return " ".join(parts)


def uniq(items):
    """The non-empty strings of items, first seen first, each once."""
    seen, out = set(), []
    for i in items:
        if isinstance(i, str) and i and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def describe_inputs(rows):
    """'backup (10 files, 680.2 MiB)', ... for the inputs of rows, first seen first."""
    seen, out = set(), []
    for r in rows:
        if r["input"] in seen:
            continue
        seen.add(r["input"])
        head, _ = split_desc(r["description"])
        lab = r["input_label"]
        if not head or head == lab:
            out.append(lab)
        elif head.startswith("built-in") or lab == r["source"]:
            out.append(head)
        else:
            out.append("%s (%s)" % (lab, head))
    return out


def notes_for(rows, machines=(), inputs=(), sources=(), more=None):
    """Footnote lines: the machines, the data sets and the files behind a figure (rows:
    run records; the other lists add what came from elsewhere)."""
    m = uniq([r["machine"] for r in rows] + list(machines))
    d = describe_inputs(rows) + uniq(inputs)
    s = uniq([r["source"] for r in rows] + list(sources))
    lines = ["machine: " + ("; ".join(m) if m else "not recorded")]
    if d:
        lines.append("data: " + "; ".join(d))
    if s:
        lines.append("from: " + "; ".join(s))
    if more:
        lines.append(more)
    return lines


def chunker_colors(names):
    """One colour per chunker (sorted names), the same in every panel."""
    cyc = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {n: cyc[i % len(cyc)] for i, n in enumerate(sorted(set(names)))}


def panels(n, w=4.6, h=3.5, maxcols=3, sharey=False):
    """A grid of n axes, at most maxcols wide: (figure, axes in reading order, columns)."""
    cols = min(n, maxcols)
    nrows = -(-n // cols)
    fig, grid = plt.subplots(nrows, cols, figsize=(w * cols, h * nrows + 1.0), squeeze=False,
                             sharey=sharey)
    flat = [a for row in grid for a in row]
    for a in flat[n:]:
        fig.delaxes(a)
    return fig, flat[:n], cols


def axis_labels(axes, cols, xlabel, ylabel):
    """x labels under the bottom axes of each column, y labels left of each row."""
    n = len(axes)
    for i, ax in enumerate(axes):
        if i + cols >= n:
            ax.set_xlabel(xlabel)
        if i % cols == 0:
            ax.set_ylabel(ylabel)


def inputs_with_sizes(rows, key=lambda r: ()):
    """The inputs (first seen first) where one series (a chunker, plus key) ran at two
    or more average chunk sizes."""
    seen = {}
    for r in rows:
        seen.setdefault(r["input"], {}).setdefault((r["chunker"],) + key(r), set()).add(r["avg"])
    return [i for i, g in seen.items() if any(len(v) > 1 for v in g.values())]


def more_inputs(dropped):
    if not dropped:
        return None
    return "not shown (%d panels at most): %s" % (MAX_PANELS, ", ".join(dropped))


# ---------------------------------------------------------------- the figures


def chunked_runs(data):
    return [r for r in data.runs if not r["trace"] and r["avg"]]


def fig_dedup_vs_chunk_size(data, F):
    name = "dedup_vs_chunk_size"
    rows = [r for r in chunked_runs(data) if r["dedup"]]
    inputs = inputs_with_sizes(rows)
    if not inputs:
        return F.skip(name, "needs run reports at two or more average chunk sizes")
    labels = {r["input"]: r["input_label"] for r in rows}
    dropped = [labels[i] for i in inputs[MAX_PANELS:]]
    inputs = inputs[:MAX_PANELS]
    rows = [r for r in rows if r["input"] in inputs]
    colors = chunker_colors(r["chunker"] for r in rows)
    fig, axes, cols = panels(len(inputs))
    handles = {}
    for ax, inp in zip(axes, inputs):
        series = {}  # hash, backend, threads and reps do not change the dedup ratio
        for r in rows:
            if r["input"] == inp:
                series.setdefault(r["chunker"], {}).setdefault(r["avg"], []).append(r["dedup"])
        for ch, pts in sorted(series.items()):
            xs = sorted(pts)
            (h,) = ax.plot(xs, [median(pts[x]) for x in xs], marker="o", markersize=4,
                           color=colors[ch])
            handles.setdefault(ch, h)
        size_axis(ax, [r["avg"] for r in rows], 1 * KIB, 64 * KIB)
        ax.grid(True, alpha=0.3)
        if len(inputs) > 1:
            ax.set_title(labels[inp], fontsize=10)
    axis_labels(axes, cols, "configured average chunk size (bytes, log2 scale)",
                "dedup ratio (logical / unique bytes)")
    names = sorted(handles)
    F.save(fig, name, "Dedup ratio vs average chunk size",
           notes_for(rows, more=more_inputs(dropped)),
           legend=([handles[n] for n in names], names, "chunker"))


def top_threads_with_sizes(rows):
    """The largest thread count at which some configuration ran at two or more sizes."""
    best = None
    for t in sorted(set(r["threads"] for r in rows if r["threads"]), reverse=True):
        groups = {}
        for r in rows:
            if r["threads"] == t:
                groups.setdefault((r["input"], r["chunker"], r["hash"], r["backend"]),
                                  set()).add(r["avg"])
        if any(len(v) > 1 for v in groups.values()):
            best = t
            break
    return best


def fig_throughput_vs_chunk_size(data, F):
    name = "throughput_vs_chunk_size"
    rows = [r for r in chunked_runs(data) if r["bps"]]
    t = top_threads_with_sizes(rows)
    if t is None:
        return F.skip(name, "needs run reports of one configuration at two or more average "
                      "chunk sizes")
    rows = [r for r in rows if r["threads"] == t]
    inputs = inputs_with_sizes(rows, lambda r: (r["hash"], r["backend"]))
    labels = {r["input"]: r["input_label"] for r in rows}
    dropped = [labels[i] for i in inputs[MAX_PANELS:]]
    inputs = inputs[:MAX_PANELS]
    rows = [r for r in rows if r["input"] in inputs]
    colors = chunker_colors(r["chunker"] for r in rows)
    hashes = sorted(set(r["hash"] for r in rows), key=lambda h: (h != "sha256", h))
    backends = sorted(set(r["backend"] for r in rows), key=lambda b: (b != "cpu", b))
    keys = ["chunker"] + varying(rows, ["hash", "backend"])
    fig, axes, cols = panels(len(inputs))
    handles = {}
    for ax, inp in zip(axes, inputs):
        series = {}
        for r in rows:
            if r["input"] == inp:
                k = (r["chunker"], r["hash"], r["backend"])
                series.setdefault(k, {}).setdefault(r["avg"], []).append(r["bps"])
        for (ch, hs, be), pts in sorted(series.items()):
            xs = sorted(pts)
            r0 = {"chunker": ch, "hash": hs, "backend": be}
            (h,) = ax.plot(xs, [median(pts[x]) / 1e9 for x in xs], color=colors[ch],
                           linestyle=LINESTYLES[hashes.index(hs) % len(LINESTYLES)],
                           marker=MARKERS[backends.index(be) % len(MARKERS)], markersize=4)
            handles.setdefault(label_of(r0, keys), h)
        size_axis(ax, [r["avg"] for r in rows], 1 * KIB, 64 * KIB)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if len(inputs) > 1:
            ax.set_title(labels[inp], fontsize=10)
    axis_labels(axes, cols, "configured average chunk size (bytes, log2 scale)",
                "end-to-end throughput (GB/s, median)")
    names = sorted(handles)
    F.save(fig, name, "End-to-end throughput vs average chunk size (%d threads)" % t,
           notes_for(rows, more=more_inputs(dropped)),
           legend=([handles[n] for n in names], names, " / ".join(keys)))


def hist_upper(lower):
    """Upper end of the chunk_hist bin starting at lower: 16 bins per power of two
    (ddx.h, DDX_CHUNK_HIST_BINS); below 16 bytes one bin per length."""
    if lower < 16:
        return lower + 1
    e = int(lower).bit_length() - 1
    return lower + (1 << (e - 4))


def fig_chunk_size_cdf(data, F):
    name = "chunk_size_cdf"
    rows = [r for r in chunked_runs(data) if r["chunk_hist"]]
    if not rows:
        return F.skip(name, "no run report has a \"chunk_hist\"")
    # One input (the one with the most chunkers), then per chunker the run nearest 8 KiB.
    by_input = {}
    for r in rows:
        by_input.setdefault(r["input"], set()).add(r["chunker"])
    inp = max(by_input, key=lambda i: len(by_input[i]))
    rows = [r for r in rows if r["input"] == inp]
    picked = []
    for ch in sorted(set(r["chunker"] for r in rows)):
        mine = [r for r in rows if r["chunker"] == ch]
        best = min(abs(math.log2(r["avg"] / 8192)) for r in mine)
        mine = [r for r in mine if abs(math.log2(r["avg"] / 8192)) == best]
        picked.append(mine[0])  # reps and hashes cut the same chunks: the first will do
    colors = chunker_colors(r["chunker"] for r in picked)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    xs_all = []
    for r in picked:
        bins = []
        for b in r["chunk_hist"]:
            if (isinstance(b, list) and len(b) == 2 and (b[0] == 0 or size(b[0]))
                    and num(b[1], 0) > 0):
                bins.append((int(b[0]), int(b[1])))
        bins.sort()
        total = sum(c for _, c in bins)
        if not total:
            continue
        xs, ys, acc = [max(bins[0][0], 1)], [0.0], 0
        for lo, c in bins:
            acc += c
            xs.append(hist_upper(lo))
            ys.append(acc / total)
        xs_all += xs
        ax.plot(xs, ys, color=colors[r["chunker"]],
                label="%s (avg %s, %d chunks)" % (r["chunker"], size_label(r["avg"]), total))
    if not xs_all:
        plt.close(fig)
        return F.skip(name, "the \"chunk_hist\" lists are empty")
    size_axis(ax, xs_all)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("chunk size (bytes, log2 scale)")
    ax.set_ylabel("fraction of chunks <= size")
    ax.grid(True, alpha=0.3)
    ax.legend(title="chunker", fontsize=8, loc="lower right")
    avgs = set(r["avg"] for r in picked)
    title = "Chunk size distribution (CDF)"
    if len(avgs) == 1:
        title += " at average %s" % size_words(avgs.pop())
    if len(by_input) > 1:
        title += ", input %s" % picked[0]["input_label"]
    F.save(fig, name, title, notes_for(picked))


GB_SIZE = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "": 1}


def parse_gbench(data):
    """{algorithm: {impl: {size: bytes_per_second}}} for hash/<impl>/<size>/batch<N>,
    the largest batch of each implementation, median aggregate (or the median of
    the repetitions when the file has no aggregates)."""
    rates = {}  # (impl, size, batch) -> [bytes/s], from "median" aggregates
    raw = {}  # the same from plain iterations
    for _, _, benches in data.gbench:
        for b in benches:
            if not isinstance(b, dict):
                continue
            run = str(b.get("run_name") or b.get("name", ""))
            m = re.fullmatch(r"hash/([^/]+)/(\d+)([KMG]?)/batch(\d+)", run)
            bps = num(b.get("bytes_per_second"))
            if not m or not bps or bps < 0 or int(m.group(2)) == 0:
                continue
            key = (m.group(1), int(m.group(2)) * GB_SIZE[m.group(3)], int(m.group(4)))
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    rates.setdefault(key, []).append(bps)
            else:
                raw.setdefault(key, []).append(bps)
    for k, v in raw.items():
        rates.setdefault(k, v)
    top = {}
    for impl, size, batch in rates:
        top[impl] = max(top.get(impl, 0), batch)
    out = {}
    for (impl, size, batch), v in rates.items():
        if batch == top[impl]:
            algo = impl.split("-")[0]
            out.setdefault(algo, {}).setdefault(impl, {})[size] = median(v)
    return out, top


def gbench_notes(data):
    machines, sources = [], []
    for src, ctx, _ in data.gbench:
        sources.append(src)
        host = text(ctx.get("host_name"), "?")
        n, mhz = text(ctx.get("num_cpus")), text(ctx.get("mhz_per_cpu"))
        s = "host %s, %s CPUs" % (host, n) if n else "host %s" % host
        if mhz:
            s += " @ %s MHz" % mhz
        if text(ctx.get("ddx_cpu_features")):
            s += " (%s)" % text(ctx.get("ddx_cpu_features"))
        if ctx.get("library_build_type") == "debug":
            s += ", benchmark library: debug build"
        machines.append(s)
    return notes_for([], machines, ["in-memory buffers (Google Benchmark)"], sources)


def fig_kernel_throughput(data, F):
    name = "kernel_throughput_vs_size"
    algos, top = parse_gbench(data) if data.gbench else ({}, {})
    algos = {a: v for a, v in algos.items() if any(len(p) > 1 for p in v.values())}
    if not algos:
        return F.skip(name, "needs Google Benchmark results (make microbench) with "
                      "hash/<impl>/<size>/batch<N> at two or more sizes")
    names = sorted(algos)
    fig, axes = plt.subplots(1, len(names), figsize=(6.0 * len(names), 5.6), squeeze=False,
                             sharey=True)
    sizes = []
    for ax, algo in zip(axes[0], names):
        for i, (impl, pts) in enumerate(sorted(algos[algo].items())):
            xs = sorted(pts)
            sizes += xs
            ax.plot(xs, [pts[x] / 1e9 for x in xs], marker="o", markersize=4,
                    linestyle="-" if "-mb-" not in impl else "--",
                    label="%s (batch %d)" % (impl, top[impl]))
        ax.set_title(algo.upper().replace("SHA", "SHA-"), fontsize=10)
        ax.set_xlabel("message size (bytes, log2 scale)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    for ax in axes[0]:
        size_axis(ax, sizes, 4 * KIB, 1 << 20)
    axes[0][0].set_ylabel("hash throughput (GB/s, one thread, median)")
    axes[0][0].set_ylim(bottom=0)
    F.save(fig, name, "Hash kernel throughput vs message size (largest batch per kernel)",
           gbench_notes(data))


def fig_backend_throughput(data, F):
    name = "backend_throughput"
    groups = {}  # configuration label -> backend -> [GB/s]
    machines, inputs, sources = [], [], []
    rows = [r for r in chunked_runs(data) if r["bps"]]
    # A GPU backend runs one driver thread, the cpu backend one worker per core:
    # compare each backend at its most threads, not the cpu at one thread.
    most = {}
    for r in rows:
        k = (r["input"], r["chunker"], r["avg"], r["hash"], r["backend"])
        most[k] = max(most.get(k, 0), num(r["threads"], 0))
    rows = [r for r in rows
            if num(r["threads"], 0) == most[(r["input"], r["chunker"], r["avg"], r["hash"],
                                             r["backend"])]]
    keys = varying(rows, ["input", "chunker", "avg", "hash"])
    for r in rows:
        g = groups.setdefault(label_of(r, keys) or "ddbench run", {})
        g.setdefault(r["backend"], []).append(r["bps"] / 1e9)
    used = [r for r in rows if len(groups[label_of(r, keys) or "ddbench run"]) > 1]
    groups = {k: v for k, v in groups.items() if len(v) > 1}
    for src, v in data.gpu_bench:
        runs = v.get("end_to_end_runs") if isinstance(v.get("end_to_end_runs"), dict) else {}
        e2e = v.get("end_to_end_GBps") if isinstance(v.get("end_to_end_GBps"), dict) else {}
        g = {}
        for be in sorted(set(runs) | set(e2e)):
            rs = runs.get(be) if isinstance(runs.get(be), list) else []
            xs = [num(x) / 1e9 for x in rs if num(x, 0) > 0]
            if not xs and num(e2e.get(be)):
                xs = [num(e2e[be])]
            if xs:
                g[be] = xs
        if len(g) > 1:
            data_path = text(v.get("data"), "?")
            lab = "gpu-bench %s" % shorten(os.path.basename(data_path), 30)
            groups[lab] = g
            machines.append(text(v.get("cpu_model")))
            inputs.append("%s (%.0f MiB)" % (data_path, num(v.get("data_bytes"), 0) / 1048576))
            sources.append(src)
            if text(v.get("device")):
                machines.append("device: %s" % text(v.get("device")))
    if not groups:
        return F.skip(name, "needs runs of one configuration on two or more backends "
                      "(run reports or gpu-bench results)")
    backends = sorted(set(b for g in groups.values() for b in g))
    labels = sorted(groups)
    width = 0.8 / len(backends)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(labels) * len(backends) / 2 + 3), 4.8))
    for i, be in enumerate(backends):
        xs, ys, lo, hi = [], [], [], []
        for j, lab in enumerate(labels):
            v = groups[lab].get(be)
            if not v:
                continue
            m = median(v)
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(m)
            lo.append(m - min(v))
            hi.append(max(v) - m)
        bars = ax.bar(xs, ys, width * 0.9, label=be, yerr=[lo, hi] if len(xs) else None,
                      capsize=3)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([textwrap.fill(x, 24) for x in labels], fontsize=8)
    ax.set_ylabel("end-to-end throughput (GB/s)")
    ax.set_xlabel("configuration (bar: median of runs; whiskers: min..max)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(title="backend", fontsize=8)
    F.save(fig, name, "End-to-end throughput per backend",
           notes_for(used, machines, inputs, sources))


def fig_thread_scaling(data, F):
    name = "thread_scaling"
    rows = [r for r in chunked_runs(data) if r["bps"] and r["threads"]]
    groups = {}
    for r in rows:  # configurations that differ in nothing but the thread count
        key = (r["input"], r["chunker"], r["avg"], r["min"], r["max"], r["normalization"],
               r["hash"], r["backend"], r["batch_size"])
        groups.setdefault(key, []).append(r)
    groups = {k: v for k, v in groups.items() if len(set(r["threads"] for r in v)) > 1}
    if not groups:
        return F.skip(name, "needs runs of one configuration at two or more thread counts")
    used = [r for v in groups.values() for r in v]
    keys = ["chunker", "hash"] + varying(used, ["avg", "backend", "input"])
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    threads = set()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (lab, rs) in enumerate(sorted((label_of(v[0], keys), v) for v in groups.values())):
        pts = {}
        for r in rs:
            pts.setdefault(r["threads"], []).append(r["bps"] / 1e9)
        xs = sorted(pts)
        threads.update(xs)
        ys = [median(pts[x]) for x in xs]
        c = colors[i % len(colors)]
        ax.plot(xs, ys, marker="o", color=c, label=lab)
        ax.plot(xs, [ys[0] * x / xs[0] for x in xs], linestyle="--", color=c, alpha=0.6,
                linewidth=1)
    ax.plot([], [], linestyle="--", color="gray", label="ideal linear scaling")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(threads)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "%d" % round(x)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(min(threads) / 1.3, max(threads) * 1.3)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("worker threads (log2 scale)")
    ax.set_ylabel("end-to-end throughput (GB/s, median of runs)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    F.save(fig, name, "Thread scaling of end-to-end throughput", notes_for(used))


def stage_bars(ax, labels, shares, rotate):
    """Stacked bars of stage shares (fractions) with their percentages."""
    bottom = [0.0] * len(labels)
    for i, st in enumerate(STAGES):
        ys = [100 * s[i] for s in shares]
        ax.bar(range(len(labels)), ys, 0.7, bottom=bottom, label=st, color=STAGE_COLORS[i])
        for j, y in enumerate(ys):
            if y >= 6:
                ax.text(j, bottom[j] + y / 2, "%.0f" % y, ha="center", va="center",
                        fontsize=6.5, color="white")
        bottom = [b + y for b, y in zip(bottom, ys)]
    ax.set_xticks(range(len(labels)))
    if rotate:
        ax.set_xticklabels(labels, rotation=30, ha="right", rotation_mode="anchor", fontsize=8)
    else:
        ax.set_xticklabels([textwrap.fill(x, 24) for x in labels], fontsize=8)
    ax.set_ylim(0, 100)


def pick_slice(rows):
    """Of many configurations, one input, hash, backend and thread count: each the value
    that ran the most chunker x avg cells (ties: cpu, sha256, more threads, first seen)."""

    prefer = {"input": lambda v, i: -i, "hash": lambda v, i: (v == "sha256", -i),
              "backend": lambda v, i: (v == "cpu", -i), "threads": lambda v, i: v or 0}
    for key in ("input", "backend", "hash", "threads"):
        cells, first = {}, {}
        for r, _ in rows:
            cells.setdefault(r[key], set()).add((r["chunker"], r["avg"]))
            first.setdefault(r[key], len(first))
        best = max(cells, key=lambda v: (len(cells[v]), prefer[key](v, first[v])))
        rows = [(r, s) for r, s in rows if r[key] == best]
    r = rows[0][0]
    return rows, "%s, %s, %s, %s threads" % (r["input_label"], r["hash"], r["backend"],
                                              r["threads"])


def fig_stage_breakdown(data, F):
    name = "stage_breakdown"
    rows = []
    for r in chunked_runs(data):
        w = [num(dget(r["stages"], s, "wall_s"), 0) for s in STAGES]
        if sum(w) > 0 and min(w) >= 0:
            rows.append((r, [x / sum(w) for x in w]))
    if not rows:
        return F.skip(name, "no run report with stage times")
    cfg = lambda r: (r["input"], r["chunker"], r["avg"], r["hash"], r["backend"], r["threads"])
    title = "Per-stage share of wall time (summed over threads)"
    if len(set(cfg(r) for r, _ in rows)) > MAX_BARS:
        rows, what = pick_slice(rows)
        title += "\n" + what
    keys = varying([r for r, _ in rows], ["chunker", "avg", "hash", "backend", "threads",
                                          "input"])
    order = lambda r: (r["chunker"], r["avg"] or 0, r["hash"], r["backend"], r["threads"] or 0,
                       r["input_label"])
    rows.sort(key=lambda rs: order(rs[0]))
    groups = {}  # panel -> bar label -> [shares]
    by_chunker = len(set(cfg(r) for r, _ in rows)) > MAX_BARS and keys == ["chunker", "avg"]
    for r, s in rows:
        panel = r["chunker"] if by_chunker else ""
        lab = (size_label(r["avg"]) if by_chunker else
               label_of(r, keys) if keys else shorten(r["source"], 30))
        groups.setdefault(panel, {}).setdefault(lab, []).append(s)
    nbars = max(len(g) for g in groups.values())
    if by_chunker:
        fig, axes, cols = panels(len(groups), w=0.42 * nbars + 1.0, h=3.6, maxcols=3,
                                 sharey=True)
    else:
        fig, ax = plt.subplots(figsize=(max(6.5, 0.6 * nbars + 3), 5.0))
        axes, cols = [ax], 1
    for ax, (panel, bars) in zip(axes, groups.items()):
        labels = list(bars)
        shares = [[median([s[i] for s in bars[lab]]) for i in range(len(STAGES))]
                  for lab in labels]
        stage_bars(ax, labels, shares, rotate=len(labels) > 4 and max(map(len, labels)) > 5)
        if panel:
            ax.set_title(panel, fontsize=10)
    axis_labels(axes, cols, "configured average chunk size" if by_chunker else
                "configuration" + (" (%s)" % ", ".join(keys) if keys else ""),
                "share of stage wall time (%)")
    h, lab = axes[0].get_legend_handles_labels()
    F.save(fig, name, title, notes_for([r for r, _ in rows]), legend=(h, lab, "stage"))


def fig_dedup_over_generations(data, F):
    name = "dedup_over_generations"
    lines = {}  # (input, chunker, avg) -> (run, cumulative ratios)
    for r in data.runs:
        ps = r["per_stream"] or []
        ys = [num(p.get("dedup_ratio")) for p in ps if isinstance(p, dict)]
        if len(ys) < 2 or None in ys:
            continue
        # hash, backend, threads and reps do not change the ratios
        key = (r["input"], "trace", None) if r["trace"] else (r["input"], r["chunker"], r["avg"])
        lines.setdefault(key, (r, ys))
    if not lines:
        return F.skip(name, "no run report has \"per_stream\" with two or more streams")
    inputs = uniq([k[0] for k in lines])
    labels = {k[0]: v[0]["input_label"] for k, v in lines.items()}
    dropped = [labels[i] for i in inputs[MAX_PANELS:]]
    inputs = inputs[:MAX_PANELS]
    drawn = []
    for inp in inputs:
        mine = {k: v for k, v in lines.items() if k[0] == inp}
        if len(mine) > MAX_LINES:  # keep, per chunker, the run nearest 8 KiB
            near = {}
            for k in mine:
                d = abs(math.log2(k[2] / 8192)) if k[2] else 0
                if k[1] not in near or d < near[k[1]][0]:
                    near[k[1]] = (d, k)
            mine = {k: mine[k] for _, k in near.values()}
        drawn += sorted(mine.items(), key=lambda kv: (kv[0][1], kv[0][2] or 0))
    colors = chunker_colors(k[1] for k, _ in drawn)
    avgs = sorted(set(k[2] for k, _ in drawn if k[2]))
    fig, axes, cols = panels(len(inputs))
    handles = {}
    for ax, inp in zip(axes, inputs):
        maxn = 0
        for (i, ch, avg), (r, ys) in drawn:
            if i != inp:
                continue
            if r["trace"]:
                lab, color, style = "trace replay", "#555555", ":"
            else:
                lab = "%s avg %s" % (ch, size_label(avg) if avg else "?")
                color = colors[ch]
                style = LINESTYLES[avgs.index(avg) % len(LINESTYLES)] if avg else "-"
            maxn = max(maxn, len(ys))
            (h,) = ax.plot(range(1, len(ys) + 1), ys, marker="o", markersize=3, color=color,
                           linestyle=style)
            handles.setdefault(lab, (r["trace"], ch, avg or 0, h))
        ax.xaxis.set_major_locator(FixedLocator(list(range(1, maxn + 1, max(1, maxn // 10)))))
        ax.grid(True, alpha=0.3)
        if len(inputs) > 1:
            ax.set_title(labels[inp], fontsize=10)
    axis_labels(axes, cols, "backup generation (stream number)",
                "cumulative dedup ratio (logical / unique)")
    names = sorted(handles, key=lambda n: handles[n][:3])  # chunker, then size, traces last
    F.save(fig, name, "Cumulative dedup ratio over backup generations",
           notes_for([v[0] for _, v in drawn], more=more_inputs(dropped)),
           legend=([handles[n][3] for n in names], names, "chunking"))


def fig_index_scaling(data, F):
    name = "index_scaling"
    series = {}  # label -> [(entries, bytes/entry, lookups/s)]
    rows = [r for r in data.runs if r["index_entries"] and r["index_entries"] > 0]
    for r in rows:
        lab = "trace replays" if r["trace"] else "chunked runs (ddbench run)"
        series.setdefault(lab, []).append((r["index_entries"], r["index_bpe"], r["index_lps"]))
    inputs, sources = [], []
    for src, v in data.index_bench:
        # One thread only: one point per implementation and workload.
        for x in v["results"]:
            if not isinstance(x, dict) or not num(x.get("entries")) or x.get("threads") != 1:
                continue
            lab = "tool_index_bench %s, %s, 1 thread" % (text(x.get("impl"), "?"),
                                                         text(x.get("workload"), "?"))
            mops = num(x.get("mops_median"))
            series.setdefault(lab, []).append((num(x["entries"]), num(x.get("bytes_per_entry")),
                                               mops * 1e6 if mops else None))
        sources.append(src)
        inputs.append("tool_index_bench: random %s-byte fingerprints (seed %s)" % (
            text(v.get("fp_size"), "?"), text(v.get("seed"), "?")))
    pts = [p for s in series.values() for p in s]
    if len(set(p[0] for p in pts)) < 2:
        return F.skip(name, "needs index data at two or more index sizes (trace replays, "
                      "run reports or tool_index_bench)")
    # The chunked runs (a cloud of points) lie under the traces and the benchmarks.
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7.5, 6.6), sharex=True)
    cyc = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = {}
    for i, (lab, ps) in enumerate(sorted(series.items())):
        ps = sorted(set(ps), key=lambda p: p[0])
        if lab.startswith("chunked"):
            style = dict(marker="o", markersize=3, linestyle="none", color="#9e9e9e",
                         alpha=0.6, zorder=1)
        else:
            style = dict(marker="o", markersize=4, color=cyc[i % len(cyc)], zorder=2,
                         linestyle="-" if lab.startswith("trace") else "none")
        for ax, col, scale in ((a1, 1, 1), (a2, 2, 1e-6)):
            xy = [(p[0], p[col] * scale) for p in ps if p[col]]
            if xy:
                (h,) = ax.plot([p[0] for p in xy], [p[1] for p in xy], **style)
                handles.setdefault(lab, h)
    for ax in (a1, a2):
        ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_ylim(bottom=0)
    a1.set_ylabel("index memory (bytes / entry)")
    a2.set_ylabel("index rate (M lookups/s,\ninsert when new)")
    a2.set_xlabel("index entries (unique fingerprints, log scale)")
    names = sorted(handles)
    F.save(fig, name, "Index memory and lookup rate vs index size",
           notes_for(rows, inputs=inputs, sources=sources),
           legend=([handles[n] for n in names], names, None))


FIGURES = (fig_dedup_vs_chunk_size, fig_throughput_vs_chunk_size, fig_chunk_size_cdf,
           fig_kernel_throughput, fig_backend_throughput, fig_thread_scaling,
           fig_stage_breakdown, fig_dedup_over_generations, fig_index_scaling)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ddx_plot.py", description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", metavar="RESULTS",
                    help="run reports (.json), sweeps (.jsonl), microbench.json, results/*.json")
    ap.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory")
    ap.add_argument("--formats", default="png,svg",
                    help="comma-separated: png, svg, pdf (default png,svg)")
    a = ap.parse_args(argv)
    formats = [f.strip().lower() for f in a.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad or not formats:
        ap.error("--formats: expected png, svg or pdf, got '%s'" % a.formats)

    data = Data()
    try:
        for path in a.results:
            classify(path, parse_file(path), data)
    except InputError as e:
        print(e, file=sys.stderr)
        return 1

    # Deterministic files: fixed SVG ids, no dates, one font drawn as paths.
    plt.rcParams.update({"svg.hashsalt": "ddx_plot", "svg.fonttype": "path",
                         "font.family": "DejaVu Sans", "figure.dpi": 110})
    F = Figures(a.out, formats)
    try:
        for fn in FIGURES:
            fn(data, F)
    except OSError as e:
        print("%s: %s" % (e.filename or a.out, e.strerror or e), file=sys.stderr)
        return 1
    if not F.written:
        print("no figure: the results hold no data for any plot", file=sys.stderr)
        return 1
    for p in F.written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
