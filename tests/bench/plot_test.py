#!/usr/bin/env python3
"""Checks bench/plot.py (registered as ctest `plot_script` and `plot_script_bad_input`).

  plot_test.py figures   --script bench/plot.py --sample tests/bench/plot_sample.json
                         [--timeline tests/bench/timeline_sample.json] --work DIR
  plot_test.py bad-input --script bench/plot.py --work DIR

`figures`: the sample (real records, a uvm-bench array followed by uvm-replay runs) gives every
figure as a PNG and exit status 0; the sample's bench records alone give the three bench
figures and say on stderr that the policy figure is skipped; with --timeline, a real
UVM_TIMELINE file gives its PNG and a bench file given as a timeline is refused. `bad-input`: a file that is not
JSON, JSON without records, and a missing file each give exit status 2 and a one-line error
(no traceback). Exits 1 with the failures listed if any check fails.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

BENCH_FIGURES = ["migrate-bandwidth.png", "cpu-fault-latency.png", "device-fault-service.png"]
REPLAY_FIGURES = ["policy-bytes-vs-min.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_plot(script, out_dir, files):
    """Runs plot.py with this interpreter; returns (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, script, "--out", out_dir, *files],
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def png_problem(path):
    """Why path is not a PNG figure, or None if it is one."""
    if not os.path.isfile(path):
        return "missing"
    with open(path, "rb") as f:
        head = f.read(len(PNG_SIGNATURE))
    if head != PNG_SIGNATURE:
        return f"no PNG signature (starts {head!r})"
    if os.path.getsize(path) < 2000:
        return f"only {os.path.getsize(path)} bytes"
    return None


def fresh_dir(path):
    """Empties (or creates) path; returns it."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def bench_records_only(sample, path):
    """Writes the sample's uvm-bench records, without its uvm-replay runs, to path."""
    decoder = json.JSONDecoder()
    with open(sample, encoding="utf-8") as f:
        bench, _ = decoder.raw_decode(f.read().lstrip())  # the sample starts with the array
    with open(path, "w", encoding="utf-8") as f:
        json.dump(bench, f)


def check_figures(args, failures):
    out = fresh_dir(os.path.join(args.work, "all"))
    rc, stdout, stderr = run_plot(args.script, out, [args.sample])
    if rc != 0:
        failures.append(f"sample: exit status {rc}, expected 0; stderr: {stderr.strip()}")
    for name in BENCH_FIGURES + REPLAY_FIGURES:
        problem = png_problem(os.path.join(out, name))
        if problem:
            failures.append(f"sample: {name}: {problem}")
        elif name not in stdout:
            failures.append(f"sample: {name} written but not listed on stdout")
    if "skipped" in stderr:
        failures.append(f"sample: a figure was skipped: {stderr.strip()}")

    bench_only = os.path.join(args.work, "bench-only.json")
    bench_records_only(args.sample, bench_only)
    out = fresh_dir(os.path.join(args.work, "bench-only"))
    rc, _, stderr = run_plot(args.script, out, [bench_only])
    if rc != 0:
        failures.append(f"bench records only: exit status {rc}, expected 0")
    for name in BENCH_FIGURES:
        if png_problem(os.path.join(out, name)):
            failures.append(f"bench records only: {name}: {png_problem(os.path.join(out, name))}")
    if os.path.exists(os.path.join(out, REPLAY_FIGURES[0])):
        failures.append("bench records only: a policy figure was made without replay runs")
    if "policy-bytes-vs-min: skipped" not in stderr:
        failures.append(f"bench records only: the skip is not said on stderr: {stderr.strip()}")


def check_timeline(args, failures):
    """A real UVM_TIMELINE file (tests/bench/timeline_sample.json) gives its PNG; a bench JSON
    array given as a timeline is refused with exit status 2."""
    out = fresh_dir(os.path.join(args.work, "timeline"))
    p = subprocess.run([sys.executable, args.script, "--out", out, "--timeline", args.timeline],
                       capture_output=True, text=True, timeout=300)
    stem = os.path.splitext(os.path.basename(args.timeline))[0]
    problem = png_problem(os.path.join(out, f"timeline-{stem}.png"))
    if p.returncode != 0 or problem:
        failures.append(f"timeline: exit status {p.returncode}, figure: {problem or 'ok'}; "
                        f"stderr: {p.stderr.strip()}")
    p = subprocess.run([sys.executable, args.script, "--out", out, "--timeline", args.sample],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 2 or "traceEvents" not in p.stderr and "not a readable" not in p.stderr:
        failures.append(f"timeline: a bench file was not refused: {p.returncode} {p.stderr.strip()}")


def check_bad_input(args, failures):
    work = fresh_dir(os.path.join(args.work, "bad-input"))
    cases = {
        "not-json.txt": "suite      name              unit  value\n"
                        "cpu-fault  first_touch/4KiB  ns    10900\n",  # --format table
        "no-records.json": '{"hello": [1, 2, 3]}\n',
        "empty-array.json": "[]\n",
    }
    for name, text in cases.items():
        with open(os.path.join(work, name), "w", encoding="utf-8") as f:
            f.write(text)
    for name in [*cases, "does-not-exist.json"]:
        out = os.path.join(work, "out")
        rc, _, stderr = run_plot(args.script, out, [os.path.join(work, name)])
        if rc != 2:
            failures.append(f"{name}: exit status {rc}, expected 2")
        if "Traceback" in stderr or "error" not in stderr or name not in stderr:
            failures.append(f"{name}: stderr is not a clear error naming the file: "
                            f"{stderr.strip()}")
    if os.path.exists(out) and os.listdir(out):
        failures.append("bad input: figures were written anyway")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["figures", "bad-input"])
    parser.add_argument("--script", required=True, help="bench/plot.py")
    parser.add_argument("--sample", help="tests/bench/plot_sample.json (figures)")
    parser.add_argument("--timeline", help="tests/bench/timeline_sample.json (figures)")
    parser.add_argument("--work", required=True, help="scratch directory (emptied)")
    args = parser.parse_args()
    if args.mode == "figures" and not args.sample:
        parser.error("figures needs --sample")
    failures = []
    if args.mode == "figures":
        check_figures(args, failures)
        if args.timeline:
            check_timeline(args, failures)
    else:
        check_bad_input(args, failures)
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    print(f"plot_test {args.mode}: {'FAILED' if failures else 'passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
