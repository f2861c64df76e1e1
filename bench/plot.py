#!/usr/bin/env python3
"""Turns `uvm-bench --format json` and `uvm-replay --format json` output into PNG figures.

One PNG per figure the records allow:

  migrate-bandwidth.png      prefetch GB/s vs page size against memcpy (and cudaMemcpyAsync)
  cpu-fault-latency.png      CPU fault latency (p10, median, p90) against the raw floors
  device-fault-service.png   device fault service and the way back (kernel-fault suite)
  policy-bytes-vs-min.png    bytes moved per eviction policy / Belady's MIN, per trace and budget
  timeline-NAME.png          a UVM_TIMELINE file (--timeline NAME.json): its tracks over time

Usage: bench/plot.py --out DIR [FILE.json ...] [--timeline RUN.json ...]
"""

import argparse
import importlib.util
import json
import os
import re
import sys

FIGURE_DPI = 100
UVM_COLOR = "tab:blue"
UFFD_COLOR = "tab:orange"
FLOOR_COLOR = "dimgray"

# Exit codes: 0 at least one figure written, 1 valid records but no figure they make, 2 bad input.
EXIT_OK, EXIT_NOTHING_TO_PLOT, EXIT_BAD_INPUT = 0, 1, 2


class InputError(Exception):
    """A file that cannot be read, is not JSON, or holds no uvm-bench/uvm-replay records."""


# ---------------------------------------------------------------------------------------------
# Input

def parse_json_values(text):
    """Returns every JSON value in text: one document, or several concatenated (a shell loop
    appending `uvm-replay --format json` runs to one file)."""
    decoder = json.JSONDecoder()
    values, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return values
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)


def is_bench_record(value):
    """A uvm-bench record: {"suite", "name", "unit", "value", ...}."""
    return isinstance(value, dict) and {"suite", "name", "value"} <= value.keys()


def is_replay_run(value):
    """One uvm-replay run: {"trace", "budget_pages", "rows": [...]}."""
    return isinstance(value, dict) and "trace" in value and isinstance(value.get("rows"), list)


def load_file(path):
    """Returns (bench records, replay runs) of one file; raises InputError if it has neither."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not JSON (not UTF-8 text at byte {e.start})") from e
    try:
        values = parse_json_values(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not JSON (line {e.lineno}, column {e.colno}: {e.msg}); "
                         "expected `uvm-bench --format json` or `uvm-replay --format json` "
                         "output") from e
    bench, replay = [], []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if is_bench_record(item):
                bench.append(item)
            elif is_replay_run(item):
                replay.append(item)
    if not bench and not replay:
        raise InputError(f"{path}: JSON, but no uvm-bench records or uvm-replay runs in it")
    return bench, replay


def merge_bench_records(per_file):
    """Returns {(suite, name): record} over all files; a later file's record replaces an
    earlier one with the same suite and name (said on stderr)."""
    merged = {}
    for path, records in per_file:
        for r in records:
            key = (r["suite"], r["name"])
            if key in merged:
                print(f"plot: {path}: {r['suite']} {r['name']} given twice, using this one",
                      file=sys.stderr)
            merged[key] = r
    return merged


def suite_records(records, suite):
    """Returns {name: record} of one suite."""
    return {name: r for (s, name), r in records.items() if s == suite}


def split_name(name):
    """'uffd_h2d/64KiB' -> ('uffd_h2d', '64KiB'); a name without a size gets ''."""
    path, _, size = name.rpartition("/")
    return (path, size) if path else (name, "")


def size_bytes(label):
    """'64KiB' -> 65536; 0 if label is not a size."""
    m = re.fullmatch(r"(\d+)(B|KiB|MiB|GiB)", label)
    if not m:
        return 0
    return int(m.group(1)) * {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]


# ---------------------------------------------------------------------------------------------
# Drawing helpers

def new_figure(width, height, rows=1, cols=1, **subplot_args):
    """A matplotlib Figure on the Agg canvas (no pyplot: no global figure state)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **subplot_args)


def save_figure(fig, out_dir, file_name):
    """Writes fig as a PNG without the timestamped metadata, returns its path."""
    path = os.path.join(out_dir, file_name)
    fig.savefig(path, format="png", dpi=FIGURE_DPI, metadata={"Software": None},
                pil_kwargs={"optimize": True})
    return path


def short_number(v):
    """3 significant digits without an exponent: 7.16, 66.5, 1240."""
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def draw_ranges(ax, rows, scale):
    """Horizontal p10-p90 bars with the median marked, one row per (label, record, color),
    top to bottom, on a log axis; values divided by scale."""
    ends = []
    for y, (label, r, color) in enumerate(reversed(rows)):
        median = r["value"] / scale
        lo, hi = r.get("p10", r["value"]) / scale, r.get("p90", r["value"]) / scale
        ax.plot([lo, hi], [y, y], color=color, linewidth=5, alpha=0.45, solid_capstyle="butt")
        ax.plot([median], [y], marker="|", markersize=14, markeredgewidth=2.5, color=color)
        ax.annotate(short_number(median), (hi, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=7)
        ends += [lo, hi]
    ax.set_xscale("log")
    ax.set_xlim(min(ends) / 1.4, max(ends) * 2.5)  # room for the labels right of the bars
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="x", which="both", alpha=0.3)


# ---------------------------------------------------------------------------------------------
# Figures. Each takes the merged records and the output directory and returns the PNG's path,
# or None (with the reason on stderr) when the records it needs are absent.

MIGRATE_SERIES = [  # name prefix, label, color, line style
    ("h2d", "prefetch H2D (signal)", UVM_COLOR, "-"),
    ("d2h", "prefetch D2H (signal)", UVM_COLOR, "--"),
    ("uffd_h2d", "prefetch H2D (userfaultfd)", UFFD_COLOR, "-"),
    ("uffd_d2h", "prefetch D2H (userfaultfd)", UFFD_COLOR, "--"),
]
MIGRATE_BASELINES = [  # name prefix, label, color, line style
    ("memcpy", "host memcpy", FLOOR_COLOR, ":"),
    ("cudaMemcpyAsync_h2d", "cudaMemcpyAsync H2D", "tab:green", "-."),
    ("cudaMemcpyAsync_d2h", "cudaMemcpyAsync D2H", "tab:green", ":"),
]


def plot_migrate_bandwidth(records, out_dir):
    """Prefetch throughput per page size and direction, with the copies it is compared with."""
    migrate = suite_records(records, "migrate")
    series = {}
    for name, r in migrate.items():
        path, size = split_name(name)
        if any(path == prefix for prefix, *_ in MIGRATE_SERIES) and size_bytes(size):
            series.setdefault(path, []).append((size_bytes(size), size, r))
    if not series:
        return skip("migrate-bandwidth", "no migrate suite records (h2d/*, d2h/*)")
    fig, axes = new_figure(7, 4.2)
    ax = axes[0][0]
    sizes = {}
    for k, (prefix, label, color, style) in enumerate(MIGRATE_SERIES):
        points = sorted(series.get(prefix, []), key=lambda p: p[0])
        if not points:
            continue
        # Each series a little to the side of the page size, so that error bars do not overlap.
        xs = [p[0] * 2 ** (0.08 * (k - 1.5)) for p in points]
        ys = [p[2]["value"] for p in points]
        lo = [y - p[2].get("p10", y) for y, p in zip(ys, points)]
        hi = [p[2].get("p90", y) - y for y, p in zip(ys, points)]
        ax.errorbar(xs, ys, yerr=[lo, hi], label=label, color=color, linestyle=style,
                    marker="o", capsize=3)
        sizes.update({p[0]: p[1] for p in points})
    for name, r in sorted(migrate.items()):
        path, size = split_name(name)
        for prefix, label, color, style in MIGRATE_BASELINES:
            if path == prefix:
                ax.axhline(r["value"], color=color, linestyle=style,
                           label=f"{label}, {size}: {r['value']:.1f} (p10-p90 band)")
                if "p10" in r and "p90" in r:
                    ax.axhspan(r["p10"], r["p90"], color=color, alpha=0.12)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(sizes), [sizes[s] for s in sorted(sizes)])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("page size")
    unit = next(iter(series.values()))[0][2].get("unit", "GB/s")
    ax.set_ylabel(f"throughput ({unit}), median, p10-p90")
    ax.set_title("migrate: prefetch throughput vs page size", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, out_dir, "migrate-bandwidth.png")


CPU_FAULT_ROWS = [  # name, label, color; raw_* are the floors
    ("first_touch", "first touch (signal)", UVM_COLOR),
    ("raw_first_touch", "raw mprotect+SIGSEGV, first touch", FLOOR_COLOR),
    ("upgrade", "read→write upgrade (signal)", UVM_COLOR),
    ("raw_upgrade", "raw mprotect+SIGSEGV, upgrade", FLOOR_COLOR),
    ("uffd_first_touch", "first touch (userfaultfd)", UFFD_COLOR),
    ("uffd_upgrade", "read→write upgrade (userfaultfd)", UFFD_COLOR),
    ("raw_uffd_minor", "raw uffd MINOR+CONTINUE", FLOOR_COLOR),
    ("raw_uffd_zeropage", "raw uffd MISSING+ZEROPAGE", FLOOR_COLOR),
    ("raw_uffd_minor_1_handler", "raw uffd MINOR, 1 handler", FLOOR_COLOR),
]


def plot_cpu_fault_latency(records, out_dir):
    """Per-fault latency of uvm's inline CPU paths and of the raw floors, one panel per page
    size. (uffd_first_touch_vs_zeropage holds the same samples as uffd_first_touch.)"""
    by_size = {}
    for name, r in suite_records(records, "cpu-fault").items():
        path, size = split_name(name)
        if r.get("unit") == "ns" and size_bytes(size):
            by_size.setdefault(size, {})[path] = r
    known = [name for name, _, _ in CPU_FAULT_ROWS]
    panels = []
    for size in sorted(by_size, key=size_bytes):
        rows = [(label, by_size[size][name], color)
                for name, label, color in CPU_FAULT_ROWS if name in by_size[size]]
        rows += [(name, r, FLOOR_COLOR if name.startswith("raw_") else UVM_COLOR)
                 for name, r in sorted(by_size[size].items())
                 if name not in known and not name.endswith("_vs_zeropage")]
        panels.append((size, rows))
    if not panels:
        return skip("cpu-fault-latency", "no cpu-fault suite latency records (ns)")
    height = 1.0 + 0.22 * max(len(rows) for _, rows in panels)
    fig, axes = new_figure(4.0 * len(panels), height, 1, len(panels), sharey=False)
    for i, (ax, (size, rows)) in enumerate(zip(axes[0], panels)):
        draw_ranges(ax, rows, 1e3)
        ax.set_xlabel("µs per fault (median |, p10-p90 bar)", fontsize=8)
        ax.set_title(f"{size} pages", fontsize=9)
        if i > 0:
            ax.set_yticklabels([])
    fig.suptitle("cpu-fault: uvm's fault paths against the raw floors (grey)", fontsize=10)
    return save_figure(fig, out_dir, "cpu-fault-latency.png")


KERNEL_FAULT_ROWS = [  # name, label, color
    ("device_fault_service", "device fault service (batch taken → published)", UVM_COLOR),
    ("device_fault_wall_per_page", "kernel wall time per faulting page", UVM_COLOR),
    ("cpu_read_after_kernel", "CPU read of a device-written page", UFFD_COLOR),
    ("raw_first_touch", "raw mprotect+SIGSEGV fault", FLOOR_COLOR),
    ("page_memcpy", "memcpy of one page", FLOOR_COLOR),
]


def plot_device_fault_service(records, out_dir):
    """Device fault service time and the CPU's way back, with the raw fault and page copy that
    make the baseline; the device fault rate in the title."""
    kernel = suite_records(records, "kernel-fault")
    rows, rates = [], []
    for name, r in sorted(kernel.items(), key=lambda kv: size_bytes(split_name(kv[0])[1])):
        path, size = split_name(name)
        for known, label, color in KERNEL_FAULT_ROWS:
            if path == known and r.get("unit") == "ns":
                rows.append((known, size, f"{label}, {size}" if size else label, r, color))
        if path == "device_faults_per_s":
            rates.append(f"{r['value']:.0f} device faults/s at {size}")
    order = [name for name, _, _ in KERNEL_FAULT_ROWS]
    rows.sort(key=lambda row: (size_bytes(row[1]), order.index(row[0])))
    if not rows:
        return skip("device-fault-service", "no kernel-fault suite records")
    fig, axes = new_figure(7, 1.2 + 0.32 * len(rows))
    ax = axes[0][0]
    draw_ranges(ax, [(label, r, color) for _, _, label, r, color in rows], 1e3)
    for y, (_, _, _, r, _) in enumerate(reversed(rows)):
        if "mean_ns" in r.get("params", {}):
            ax.plot([r["params"]["mean_ns"] / 1e3], [y], marker="x", color="black",
                    label="mean" if "mean" not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xlabel("µs (median |, p10-p90 bar)")
    title = "kernel-fault: device faults and the way back"
    ax.set_title(title + (f"\n({', '.join(rates)})" if rates else ""), fontsize=10)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, out_dir, "device-fault-service.png")


POLICY_ORDER = ["fifo", "lru", "clock", "adaptive", "lfu", "dueling"]
POLICY_COLORS = ["tab:gray", "tab:purple", "tab:brown", "tab:blue", "tab:orange", "tab:green"]
RUNS_PER_PANEL = 8


def trace_label(run):
    """'traces/bfs-100.trc' at 1089 pages -> 'bfs' above '1089 pages'."""
    base = re.sub(r"(-\d+)?\.trc$", "", os.path.basename(run["trace"]))
    return f"{base}\n{run['budget_pages']} pages"


def plot_policy_bytes_vs_min(replay_runs, out_dir):
    """Bytes each eviction policy moves over Belady's MIN's, per trace and budget, with no
    prefetch (or the first prefetch the runs hold when they have no `none` rows). Traces keep
    the order of the input, budgets ascending; 8 runs per panel."""
    if not replay_runs:
        return skip("policy-bytes-vs-min", "no uvm-replay runs (workloads suite records carry "
                                           "no MIN: replay their --trace-dir traces)")
    prefetches = [row["prefetch"] for run in replay_runs for row in run["rows"]]
    if not prefetches:
        return skip("policy-bytes-vs-min", "uvm-replay runs without rows")
    prefetch = "none" if "none" in prefetches else prefetches[0]
    first_seen = {}
    for run in replay_runs:
        first_seen.setdefault(run["trace"], len(first_seen))
    runs = sorted(replay_runs, key=lambda run: (first_seen[run["trace"]], run["budget_pages"]))
    ratios = {}  # policy -> [bytes / MIN's, or None, per run]
    for i, run in enumerate(runs):
        for row in run["rows"]:
            if row["prefetch"] == prefetch and row["eviction"] != "min":
                ratios.setdefault(row["eviction"], [None] * len(runs))[i] = row["bytes_vs_min"]
    policies = [p for p in POLICY_ORDER if p in ratios] + sorted(set(ratios) - set(POLICY_ORDER))
    values = [v for vs in ratios.values() for v in vs if v is not None]
    if not values:
        return skip("policy-bytes-vs-min", f"no bytes/MIN ratios with prefetch {prefetch}")
    panels = [range(start, min(start + RUNS_PER_PANEL, len(runs)))
              for start in range(0, len(runs), RUNS_PER_PANEL)]
    fig, axes = new_figure(9, 0.6 + 2.6 * len(panels), len(panels), 1)
    width = 0.8 / len(policies)
    for ax, panel in zip(axes[:, 0], panels):
        for k, policy in enumerate(policies):
            xs = [j + (k - (len(policies) - 1) / 2) * width for j in range(len(panel))]
            ys = [ratios[policy][i] or 0 for i in panel]
            ax.bar(xs, ys, width, label=policy, color=POLICY_COLORS[k % len(POLICY_COLORS)])
        ax.axhline(1.0, color="black", linewidth=1, label="Belady's MIN")
        ax.set_xticks(range(len(panel)), [trace_label(runs[i]) for i in panel], fontsize=7)
        ax.set_xlim(-0.6, RUNS_PER_PANEL - 0.4)
        ax.set_ylim(0, max(values) * 1.08)
        ax.set_ylabel("bytes / MIN's bytes", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7, ncols=len(policies) + 1, loc="lower center",
                      bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.suptitle(f"uvm-replay: bytes each eviction policy moves vs Belady's MIN "
                 f"(prefetch {prefetch})", fontsize=10)
    return save_figure(fig, out_dir, "policy-bytes-vs-min.png")


def skip(figure, reason):
    """Says on stderr why a figure is not made; returns None."""
    print(f"plot: {figure}: skipped, {reason}", file=sys.stderr)
    return None


# ---------------------------------------------------------------------------------------------
# A run's timeline (UVM_TIMELINE): the tracks of the Chrome trace event file, one row each, as
# the Perfetto UI lays them out, for a look without a browser.

TIMELINE_COLORS = [  # event name prefix, legend label, color
    ("cpu fault batch", "CPU fault batch", "tab:pink"),
    ("cpu fault", "CPU fault", "tab:red"),
    ("device fault batch", "device fault batch", "tab:purple"),
    ("migrate", "migration", "tab:blue"),
    ("prefetch", "prefetch", "tab:cyan"),
    ("evict", "eviction", "tab:orange"),
    ("kernels", "kernel epoch", "tab:green"),
]
TIMELINE_MAX_ROWS = 24


def timeline_color(name):
    """The legend label and color of an event, by its name."""
    for prefix, label, color in TIMELINE_COLORS:
        if name.startswith(prefix):
            return label, color
    return "other", "tab:gray"


def load_timeline(path):
    """The traceEvents of a UVM_TIMELINE file. Raises InputError if it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a readable timeline ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        raise InputError(f"{path}: no traceEvents (not a UVM_TIMELINE file)")
    return doc


def plot_timeline(path, out_dir):
    """One row per track (thread, copy direction, stream, instants), events as bars."""
    doc = load_timeline(path)
    names, order = {}, {}
    for e in doc["traceEvents"]:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        elif e.get("ph") == "M" and e.get("name") == "thread_sort_index":
            order[e["tid"]] = e["args"]["sort_index"]
    events = [e for e in doc["traceEvents"] if e.get("ph") in ("X", "i")]
    if not events:
        return skip(f"timeline of {path}", "no events")
    tids = sorted({e["tid"] for e in events}, key=lambda t: (order.get(t, 0), t))
    tids = tids[:TIMELINE_MAX_ROWS]
    row = {t: i for i, t in enumerate(reversed(tids))}
    fig, axes = new_figure(10, 0.45 * len(tids) + 1.6)
    ax = axes[0][0]
    bars, ticks, seen = {}, {}, {}
    for e in events:
        if e["tid"] not in row:
            continue
        label, color = timeline_color(e["name"])
        ts = e["ts"] / 1000.0  # ms
        if e["ph"] == "X":
            seen[label] = color
            bars.setdefault((row[e["tid"]], color), []).append((ts, max(e["dur"] / 1000.0, 1e-4)))
        else:
            ticks.setdefault(row[e["tid"]], []).append(ts)
    for (y, color), spans in bars.items():
        ax.broken_barh(spans, (y - 0.35, 0.7), facecolors=color, edgecolor=color, linewidth=0.3)
    for y, xs in ticks.items():
        ax.plot(xs, [y] * len(xs), linestyle="none", marker="|", markersize=9, color="black")
    ax.set_yticks(range(len(tids)), [names.get(t, str(t)) for t in reversed(tids)], fontsize=8)
    ax.set_ylim(-0.7, len(tids) - 0.3)
    ax.set_xlabel("ms since the timeline's start")
    ax.grid(axis="x", alpha=0.3)
    handles = [ax.plot([], [], color=c, linewidth=6)[0] for c in seen.values()]
    if ticks:
        handles.append(ax.plot([], [], linestyle="none", marker="|", color="black")[0])
    ax.legend(handles, list(seen) + (["instant"] if ticks else []), fontsize=7, ncols=4,
              loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(tids) > 4 else -0.35))
    meta = doc.get("metadata", {})
    ax.set_title(f"{os.path.basename(path)}: {len(events)} events, "
                 f"{meta.get('dropped_events', 0)} dropped", fontsize=9)
    stem = os.path.splitext(os.path.basename(path))[0]
    return save_figure(fig, out_dir, f"timeline-{stem}.png")


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    """--out DIR and one or more input files; --help explains the figures."""
    parser = argparse.ArgumentParser(
        prog="plot.py",
        description="Turns `uvm-bench --format json` and `uvm-replay --format json` output into "
                    "PNG figures, one per figure the records allow: migrate-bandwidth.png "
                    "(migrate suite), cpu-fault-latency.png (cpu-fault suite), "
                    "device-fault-service.png (kernel-fault suite) and policy-bytes-vs-min.png "
                    "(uvm-replay runs; a file may hold several concatenated, or a JSON array "
                    "of them). A figure whose records are absent is skipped, said on stderr.",
        epilog="Exit status: 0 if a figure was written, 1 if the records make no figure, 2 for "
               "bad input (a file that is not JSON or holds no records) or without matplotlib. "
               "Example: "
               "python3 bench/plot.py --out docs/figures docs/figures/bench-emulated.json "
               "docs/figures/replay.json")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory for the PNGs (created if missing)")
    parser.add_argument("files", nargs="*", metavar="FILE.json",
                        help="uvm-bench or uvm-replay JSON output")
    parser.add_argument("--timeline", action="append", default=[], metavar="RUN.json",
                        help="a UVM_TIMELINE file: draws timeline-RUN.png (repeatable)")
    args = parser.parse_args(argv)
    if not args.files and not args.timeline:
        parser.error("give FILE.json or --timeline RUN.json")
    return args


def main(argv):
    """Loads every file, then writes each figure its records allow; returns the exit status."""
    args = parse_args(argv)
    bench_per_file, replay_runs = [], []
    try:
        for path in args.files:
            bench, replay = load_file(path)
            bench_per_file.append((path, bench))
            replay_runs += replay
    except InputError as e:
        print(f"plot: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if importlib.util.find_spec("matplotlib") is None:
        # The python3 first on PATH may lack Debian's packages (a pyenv, a venv): the system's
        # interpreter may have them.
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and \
                os.access(system, os.X_OK) and os.environ.get("UVM_PLOT_REEXEC") != "1":
            os.environ["UVM_PLOT_REEXEC"] = "1"
            os.execv(system, [system, os.path.abspath(__file__), *argv])
        print("plot: error: needs matplotlib (Debian: apt-get install python3-matplotlib)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    os.makedirs(args.out, exist_ok=True)
    records = merge_bench_records(bench_per_file)
    written = []
    if args.files:
        written = [plot_migrate_bandwidth(records, args.out),
                   plot_cpu_fault_latency(records, args.out),
                   plot_device_fault_service(records, args.out),
                   plot_policy_bytes_vs_min(replay_runs, args.out)]
    try:
        written += [plot_timeline(path, args.out) for path in args.timeline]
    except InputError as e:
        print(f"plot: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    written = [path for path in written if path]
    for path in written:
        print(path)
    if not written:
        print("plot: no figure could be made from these records", file=sys.stderr)
        return EXIT_NOTHING_TO_PLOT
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
