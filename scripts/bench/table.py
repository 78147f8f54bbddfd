#!/usr/bin/python3
"""Print medians and ratios to a peer from benchmark result lines.

Input: lines CONFIG<TAB>TEST<TAB>ROUND<TAB>METRIC<TAB>VALUE (see
scripts/bench/fioparse.py).  Each --col TEST:METRIC:HEADING adds, for
every config (in order of first appearance), the median of that metric
over the rounds and its ratio to the --peer config.  The ratio is the
median of the per-round ratios: the config and the peer ran next to
each other in each round, so pairing them cancels slow drift of a
shared machine.  "(lo-hi)" is the range of the per-round ratios, a
measure of the noise.  --info TEST:METRIC:HEADING adds a median column
without a ratio.  --model "CONFIG|TEXT" adds a column saying how CONFIG
handles the requests of one connection ("serialized": one at a time;
"parallel": several at once), so that no row is compared with another
without that being visible.
"""

import argparse
import statistics
import sys
from collections import OrderedDict, defaultdict


def load(path):
    data = defaultdict(dict)        # (config, test, metric) -> {round: v}
    configs = OrderedDict()
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            config, test, rnd, metric, value = line.split("\t")
            configs[config] = True
            data[(config, test, metric)][rnd] = float(value)
    return list(configs), data


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    return "%.2f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--peer", required=True, help="config the ratios are to")
    ap.add_argument("--col", action="append", default=[],
                    help="TEST:METRIC:HEADING, median and ratio")
    ap.add_argument("--info", action="append", default=[],
                    help="TEST:METRIC:HEADING, median only")
    ap.add_argument("--model", action="append", default=[],
                    help="CONFIG|TEXT: how CONFIG runs a connection's "
                    "requests")
    ap.add_argument("--goal", action="append", default=[],
                    help="CONFIG|PEER|TEST|METRIC|>= or <=|LIMIT|TEXT: "
                    "check the median per-round ratio CONFIG/PEER")
    args = ap.parse_args()

    configs, data = load(args.results)
    if args.peer not in configs:
        sys.exit("table.py: no results for the peer %r" % args.peer)

    models = dict(m.split("|", 1) for m in args.model)
    cols = [(c, True) for c in args.col] + [(c, False) for c in args.info]
    header = ["config"]
    rows = []
    for config in configs:
        rows.append([config])
    if models:
        header.append("requests/conn")
        for row, config in zip(rows, configs):
            row.append(models.get(config, "?"))
    for spec, with_ratio in cols:
        test, metric, heading = spec.split(":", 2)
        header.append(heading)
        if with_ratio:
            header += ["ratio", "(lo-hi)"]
        peer = data.get((args.peer, test, metric), {})
        for row, config in zip(rows, configs):
            mine = data.get((config, test, metric), {})
            row.append(fmt(statistics.median(mine.values()))
                       if mine else "-")
            if not with_ratio:
                continue
            ratios = [mine[r] / peer[r] for r in mine
                      if r in peer and peer[r] != 0]
            if ratios:
                row.append("%.2f" % statistics.median(ratios))
                row.append("(%.2f-%.2f)" % (min(ratios), max(ratios)))
            else:
                row += ["-", ""]

    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    left = 2 if models else 1       # left-aligned text columns

    def line(cells):
        out = [c.ljust(w) for c, w in zip(cells[:left], widths[:left])]
        out += [c.rjust(w) for c, w in zip(cells[left:], widths[left:])]
        return "  ".join(out).rstrip()
    print(line(header))
    for row in rows:
        print(line(row))
    rounds = {r for d in data.values() for r in d}
    print("(medians of %d rounds; ratio: to %s, the median of per-round"
          " ratios; (lo-hi): their range)" % (len(rounds), args.peer))

    for goal in args.goal:
        config, peer, test, metric, op, limit, text = goal.split("|", 6)
        mine = data.get((config, test, metric), {})
        theirs = data.get((peer, test, metric), {})
        ratios = [mine[r] / theirs[r] for r in mine
                  if r in theirs and theirs[r] != 0]
        if not ratios:
            print("goal: %s: NOT MEASURED" % text)
            continue
        ratio = statistics.median(ratios)
        ok = ratio >= float(limit) if op == ">=" else ratio <= float(limit)
        print("goal: %s: %.2f (%s %s) %s"
              % (text, ratio, op, limit, "MET" if ok else "MISSED"))


if __name__ == "__main__":
    main()
