#!/usr/bin/python3
"""Print a table of the hostile suite's figures: the HOSTILE lines
(harness.py) found in the given test logs, one row per case and wrap.

  summary.py LOG...

scripts/test.sh prints it after the plain stage, for the record; the
figures are reported, never judged here.
"""

import sys

COLUMNS = ["case", "wrap", "attacks", "held_off", "attack_s",
           "peak_threads", "peak_rss_kib", "good_reads", "good_during",
           "good_gap_ms", "good_p50_ms", "good_p99_ms", "good_max_ms",
           "shutdown_ms"]


def main(paths):
    rows = {}
    for p in paths:
        try:
            f = open(p, errors="replace")
        except OSError:
            continue                # that stage wrote no log
        with f:
            for line in f:
                i = line.find("HOSTILE ")
                if i < 0:
                    continue
                kv = dict(w.split("=", 1) for w in line[i + 8:].split()
                          if "=" in w)
                if "case" in kv:
                    rows[(kv.get("wrap", "none"), kv["case"])] = kv
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for key in sorted(rows):
        print("| " + " | ".join(rows[key].get(c, "") for c in COLUMNS) +
              " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: summary.py LOG...")
    main(sys.argv[1:])
