#!/usr/bin/python3
"""Summarise scripts/bench-fairness.sh results against the issue's goals.

Input lines CONFIG<TAB>TEST<TAB>ROUND<TAB>METRIC<TAB>VALUE with TEST one of
  heavy           the bulk client while light clients were measured
  fetch_loaded    light client's 32 MiB fetch while heavy streamed
  fetch_unloaded  the same fetch with no other client
  rand_loaded     light client's 4 KiB QD1 50 IOPS reads while heavy streamed
  rand_unloaded   the same with no other client
Per config (medians over rounds; ratios are medians of per-round values):
  fetch s         loaded fetch time; "x ideal" = time / (size / cap)
  fetch0 s        unloaded fetch time (the rate filter's burst allowance
                  makes this shorter than size / cap)
  p99 ms, p99_0 ms  loaded and unloaded 4 KiB p99 completion latency;
                  "x unl" = loaded / unloaded, same config and round
  link %          heavy + light MiB delivered in heavy's measured window
                  as a percentage of cap * window
"""

import argparse
import statistics
from collections import OrderedDict, defaultdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--cap-mibs", type=float, required=True,
                    help="the emulated uplink in MiB/s")
    ap.add_argument("--fetch-mib", type=float, required=True)
    ap.add_argument("--goal-configs", default="",
                    help="configs the goals apply to, separated by '|'")
    args = ap.parse_args()

    data = defaultdict(dict)        # (config, test, metric) -> {round: v}
    configs = OrderedDict()
    with open(args.results) as f:
        for line in f:
            if not line.strip():
                continue
            config, test, rnd, metric, value = line.rstrip("\n").split("\t")
            configs[config] = True
            data[(config, test, metric)][rnd] = float(value)

    ideal = args.fetch_mib / args.cap_mibs

    def per_round(config, fn, *keys):
        series = [data.get((config,) + k, {}) for k in keys]
        rounds = set(series[0])
        for s in series[1:]:
            rounds &= set(s)
        return [fn(*[s[r] for s in series]) for r in sorted(rounds)]

    def med(values):
        return statistics.median(values) if values else None

    header = ["config", "fetch s", "x ideal", "fetch0 s", "p99 ms",
              "p99_0 ms", "x unl", "heavy MiB/s", "link %"]
    rows = []
    summary = {}
    for c in configs:
        fetch = per_round(c, lambda t: t, ("fetch_loaded", "secs"))
        fetch0 = per_round(c, lambda t: t, ("fetch_unloaded", "secs"))
        p99 = per_round(c, lambda p: p / 1000, ("rand_loaded", "p99_us"))
        p99_0 = per_round(c, lambda p: p / 1000, ("rand_unloaded", "p99_us"))
        p99x = per_round(c, lambda a, b: a / b, ("rand_loaded", "p99_us"),
                         ("rand_unloaded", "p99_us"))
        heavy = per_round(c, lambda m: m, ("heavy", "mibs"))
        link = per_round(
            c, lambda h, s, f, r: 100 * (h + f + r) / s / args.cap_mibs,
            ("heavy", "mib"), ("heavy", "secs"),
            ("fetch_loaded", "mib"), ("rand_loaded", "mib"))
        fx = [t / ideal for t in fetch]
        summary[c] = (med(fx), med(p99x), med(link))

        def f(v, spec):
            return "-" if v is None else spec % v
        rows.append([c, f(med(fetch), "%.2f"), f(med(fx), "%.2f"),
                     f(med(fetch0), "%.2f"), f(med(p99), "%.2f"),
                     f(med(p99_0), "%.2f"), f(med(p99x), "%.2f"),
                     f(med(heavy), "%.1f"), f(med(link), "%.1f")])

    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]

    def line(cells):
        out = [cells[0].ljust(widths[0])]
        out += [x.rjust(w) for x, w in zip(cells[1:], widths[1:])]
        return "  ".join(out)
    print(line(header))
    for r in rows:
        print(line(r))
    rounds = {r for d in data.values() for r in d}
    print("(medians of %d rounds; cap %.1f MiB/s; ideal fetch %.0f MiB / cap"
          " = %.2f s; serialized: the server works on one request of a"
          " connection at a time, parallel: on several)"
          % (len(rounds), args.cap_mibs, args.fetch_mib, ideal))

    # Per-round figures, to judge the medians' spread.
    print("per round (fetch x ideal, 4 KiB p99 ms loaded/unloaded):")
    for c in configs:
        fetch = data.get((c, "fetch_loaded", "secs"), {})
        p99 = data.get((c, "rand_loaded", "p99_us"), {})
        p99_0 = data.get((c, "rand_unloaded", "p99_us"), {})
        cells = []
        for r in sorted(set(fetch) | set(p99), key=int):
            f = fetch.get(r)
            cells.append("%s %s/%s" % (
                "%.2f" % (f / ideal) if f is not None else "-",
                "%.2f" % (p99[r] / 1000) if r in p99 else "-",
                "%.2f" % (p99_0[r] / 1000) if r in p99_0 else "-"))
        print("  %-*s %s" % (widths[0], c, " | ".join(cells)))

    goal_configs = [g for g in args.goal_configs.split("|") if g]
    for c in goal_configs:
        if c not in summary:
            print("goal: %s: NOT MEASURED" % c)
            continue
        fx, p99x, link = summary[c]
        for name, v, op, limit in (("light fetch x ideal", fx, "<=", 1.25),
                                   ("light 4k p99 x unloaded", p99x, "<=", 2.0),
                                   ("link use %", link, ">=", 90.0)):
            if v is None:
                print("goal: %s, %s: NOT MEASURED" % (c, name))
                continue
            ok = v <= limit if op == "<=" else v >= limit
            print("goal: %s, %s: %.2f (%s %g) %s"
                  % (c, name, v, op, limit, "MET" if ok else "MISSED"))


if __name__ == "__main__":
    main()
