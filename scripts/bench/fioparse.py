#!/usr/bin/python3
"""Turn one fio JSON report into result lines for scripts/bench/table.py.

Prints CONFIG<TAB>TEST<TAB>ROUND<TAB>METRIC<TAB>VALUE lines, summed over
every job and read direction in the report (so --numjobs with or without
group_reporting gives one figure):

  iops       read requests per second
  mibs       MiB/s read
  mib        MiB read in the measured phase
  secs       seconds the I/O phase took (fio's read runtime; for a job
             with a fixed size this is the time to complete)
  p50_us, p99_us   completion-latency percentiles in microseconds
             (of the job with the most requests when there are several)
  cpu_us_op  server CPU microseconds per request, when --cpu-ticks gives
             the server's CPU clock ticks over the whole fio run
"""

import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json")
    ap.add_argument("--config", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--round", required=True)
    ap.add_argument("--cpu-ticks", type=int)
    ap.add_argument("--ramp", type=float, default=0.0,
                    help="fio ramp seconds (their CPU is not counted)")
    args = ap.parse_args()

    with open(args.json) as f:
        text = f.read()
    # fio's nbd engine may print a line before the JSON document.
    doc = json.loads(text[text.index("{"):])

    ios = 0
    nbytes = 0
    runtime_ms = 0
    best = None
    for job in doc["jobs"]:
        rd = job["read"]
        ios += rd["total_ios"]
        nbytes += rd["io_bytes"]
        # read.runtime, not job_runtime: with group_reporting the latter
        # is the sum over the jobs, the former the group's wall time.
        runtime_ms = max(runtime_ms, rd["runtime"])
        if best is None or rd["total_ios"] > best["total_ios"]:
            best = rd
    if ios == 0 or runtime_ms == 0:
        sys.exit("%s: fio did no reads" % args.json)

    secs = runtime_ms / 1000.0
    out = {
        "iops": ios / secs,
        "mibs": nbytes / secs / 2**20,
        "mib": nbytes / 2**20,
        "secs": secs,
    }
    pct = best["clat_ns"].get("percentile", {})
    if "50.000000" in pct:
        out["p50_us"] = pct["50.000000"] / 1000.0
    if "99.000000" in pct:
        out["p99_us"] = pct["99.000000"] / 1000.0
    if args.cpu_ticks is not None:
        cpu = args.cpu_ticks / os.sysconf("SC_CLK_TCK")
        # The ticks cover ramp and run; scale to the measured part.
        cpu *= secs / (secs + args.ramp)
        out["cpu_us_op"] = cpu * 1e6 / ios

    for metric, value in out.items():
        print("%s\t%s\t%s\t%s\t%.6g" % (args.config, args.test, args.round,
                                        metric, value))


if __name__ == "__main__":
    main()
