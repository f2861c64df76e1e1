#!/usr/bin/env python3
"""Fits a device-model profile (uvm/device_model.hpp) to a GPU, and says how far off it is.

  bench/fit-profile.py fit CALIBRATE.json [--name NAME] [-o PROFILE.json]
      CALIBRATE.json is `uvm-bench calibrate --format json` from the GPU (bench/gpu-check runs
      it). Copies: each measured size becomes a point of the link's bandwidth curve (latency 0:
      the curve holds it), so the profile gives back every measured copy time. Faults: the
      kernel times of n faults fit t(n) = ceil(n / 256) * fault_batch_us + n * (fault_us +
      the 4 KiB copy) by least squares. Remote, memory and launch come from their records. What
      calibrate cannot measure keeps a stated default: publish_us 2, cpu_fault_us = one lone
      fault's cost, d2d = h2d, line_bytes 128, copy_engines 2.

  bench/fit-profile.py compare GPU.json MODELLED.json [--profile NAME]
      GPU.json is `uvm-bench workloads --format json` on the GPU (real time); MODELLED.json the
      same suite on the emulated device with UVM_DEVICE_MODEL=PROFILE.json (modelled time,
      records `<run> @<profile>`). Prints each run's measured and modelled milliseconds and the
      model's error, and the median absolute error.

  bench/fit-profile.py --self-test [PROFILE.json]
      Fits synthetic calibrate records made from known costs and checks it gets them back
      (and writes the fitted profile, for a check that the library reads it).
"""

import argparse
import json
import math
import statistics
import sys

BATCH = 256
PAGE = 4096


def records(path):
    with open(path) as f:
        doc = json.load(f)
    recs = doc["records"] if isinstance(doc, dict) else doc
    return [r for r in recs if not r.get("skipped")]


def fit(recs, name):
    by = {r["name"]: r for r in recs if r.get("suite", "calibrate") == "calibrate"}
    if not by:
        raise SystemExit("fit-profile: no calibrate records (run `uvm-bench calibrate` on a GPU)")

    def curve(direction):
        pts = sorted((r["params"]["bytes"], r["value"]) for n, r in by.items()
                     if n.startswith(f"copy/{direction}/"))
        if not pts:
            raise SystemExit(f"fit-profile: no copy/{direction} records")
        return {"latency_us": 0, "bandwidth_gbps": [[b, round(b / (us * 1e3), 4)] for b, us in pts]}

    h2d = curve("h2d")
    d2h = curve("d2h")
    copy4k = PAGE / (h2d["bandwidth_gbps"][0][1] * 1e3)  # us: the smallest measured copy
    rows = []
    for n, r in by.items():
        if n.startswith("fault/"):
            k = int(n.split("/")[1])
            rows.append((math.ceil(k / BATCH), k, r["value"] - k * copy4k))
    if len(rows) < 2:
        raise SystemExit("fit-profile: at least two fault/<n> records are needed")
    # Least squares for t = batches * B + n * F (B, F not negative).
    sbb = sum(b * b for b, _, _ in rows)
    snn = sum(n * n for _, n, _ in rows)
    sbn = sum(b * n for b, n, _ in rows)
    sbt = sum(b * t for b, _, t in rows)
    snt = sum(n * t for _, n, t in rows)
    det = sbb * snn - sbn * sbn
    if abs(det) < 1e-12:
        raise SystemExit("fit-profile: the fault records do not tell batches from faults")
    batch_us = max(0.0, (sbt * snn - snt * sbn) / det)
    fault_us = max(0.0, (snt * sbb - sbt * sbn) / det)

    def value(key, default=None):
        if key in by:
            return by[key]["value"]
        if default is None:
            raise SystemExit(f"fit-profile: no {key} record")
        return default

    return {
        "name": name,
        "description": "fitted by bench/fit-profile.py from uvm-bench calibrate",
        "h2d": h2d,
        "d2h": d2h,
        "d2d": h2d,
        "copy_engines": 2,
        "fault_batch_size": BATCH,
        "fault_batch_us": round(batch_us, 3),
        "fault_us": round(fault_us, 3),
        "publish_us": 2,
        "line_bytes": 128,
        "remote_gbps": round(value("remote/read"), 3),
        "remote_latency_us": round(value("remote/latency"), 3),
        "memory_gbps": round(value("memory/read"), 3),
        "launch_us": round(value("launch"), 3),
        "cpu_fault_us": round(batch_us + fault_us, 3),
    }


def compare(gpu_path, modelled_path, profile):
    measured = {r["name"]: r["value"] for r in records(gpu_path) if r.get("suite") == "workloads"}
    modelled = {}
    for r in records(modelled_path):
        name = r.get("name", "")
        if r.get("suite") == "workloads" and " @" in name:
            run, prof = name.rsplit(" @", 1)
            if profile is None or prof == profile:
                modelled[(run, prof)] = r["value"]
    if not modelled:
        raise SystemExit("fit-profile: no modelled workload records (`<run> @<profile>`)")
    errors = []
    print(f"{'run':32} {'profile':16} {'GPU ms':>10} {'model ms':>10} {'error':>8}")
    for (run, prof), ms in sorted(modelled.items()):
        if run not in measured:
            continue
        err = ms / measured[run] - 1 if measured[run] > 0 else float("nan")
        errors.append(abs(err))
        print(f"{run:32} {prof:16} {measured[run]:10.3f} {ms:10.3f} {err:+8.1%}")
    if not errors:
        raise SystemExit("fit-profile: no run in both files")
    print(f"median absolute error: {statistics.median(errors):.1%} over {len(errors)} runs")


def self_test(output=None):
    truth = {"h2d": [(4096, 1.5), (65536, 9.0), (2097152, 24.0)],
             "d2h": [(4096, 2.0), (65536, 11.0), (2097152, 26.0)],
             "batch_us": 40.0, "fault_us": 12.5}
    recs = []
    for d in ("h2d", "d2h"):
        for b, gbps in truth[d]:
            recs.append({"suite": "calibrate", "name": f"copy/{d}/{b}", "value": b / (gbps * 1e3),
                         "params": {"bytes": b}})
    copy4k = 4096 / (1.5 * 1e3)
    for n in (16, 64, 256, 1024):
        t = math.ceil(n / BATCH) * truth["batch_us"] + n * (truth["fault_us"] + copy4k)
        recs.append({"suite": "calibrate", "name": f"fault/{n}", "value": t})
    for key, v in (("remote/read", 20.0), ("remote/latency", 1.2), ("memory/read", 1900.0),
                   ("launch", 4.0)):
        recs.append({"suite": "calibrate", "name": key, "value": v})
    p = fit(recs, "synthetic")
    assert abs(p["fault_batch_us"] - 40.0) < 0.01, p["fault_batch_us"]
    assert abs(p["fault_us"] - 12.5) < 0.01, p["fault_us"]
    assert [pt[1] for pt in p["h2d"]["bandwidth_gbps"]] == [1.5, 9.0, 24.0], p["h2d"]
    assert p["d2h"]["bandwidth_gbps"][2] == [2097152, 26.0], p["d2h"]
    assert p["memory_gbps"] == 1900.0 and p["launch_us"] == 4.0 and p["remote_gbps"] == 20.0
    if output:
        with open(output, "w") as out:
            out.write(json.dumps(p, indent=2) + "\n")
    print("fit-profile: self-test passed")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        self_test(sys.argv[2] if len(sys.argv) > 2 else None)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("calibrate")
    f.add_argument("--name", default="fitted")
    f.add_argument("-o", "--output")
    c = sub.add_parser("compare")
    c.add_argument("gpu")
    c.add_argument("modelled")
    c.add_argument("--profile")
    a = ap.parse_args()
    if a.cmd == "fit":
        text = json.dumps(fit(records(a.calibrate), a.name), indent=2) + "\n"
        if a.output:
            with open(a.output, "w") as out:
                out.write(text)
        else:
            sys.stdout.write(text)
    else:
        compare(a.gpu, a.modelled, a.profile)


if __name__ == "__main__":
    main()
