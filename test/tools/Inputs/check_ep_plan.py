#!/usr/bin/python3
"""Checks a row of moe-ep-plan's table against bounds on its balance.

    check_ep_plan.py TABLE EP REDUNDANT [--max-worst X] [--min-worst X]
                     [--max-mean X]

Prints the row and "ok", or what is out of bounds (exit 1).
"""
import argparse
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("table")
    p.add_argument("ep", type=int)
    p.add_argument("redundant", type=int)
    p.add_argument("--max-worst", type=float)
    p.add_argument("--min-worst", type=float)
    p.add_argument("--max-mean", type=float)
    a = p.parse_args()
    with open(a.table) as fh:
        lines = fh.read().splitlines()
    header = lines[1].split()
    assert header[:5] == ["EP", "redundant", "slots", "strategy", "balance"], header
    for line in lines[2:]:
        f = line.split()
        if int(f[0]) != a.ep or int(f[1]) != a.redundant:
            continue
        mean, worst = float(f[4]), float(f[5])
        problems = []
        if a.max_worst is not None and worst > a.max_worst:
            problems.append("worst %.3f > %.3f" % (worst, a.max_worst))
        if a.min_worst is not None and worst < a.min_worst:
            problems.append("worst %.3f < %.3f" % (worst, a.min_worst))
        if a.max_mean is not None and mean > a.max_mean:
            problems.append("mean %.3f > %.3f" % (mean, a.max_mean))
        print("EP=%d redundant=%d %s: mean %.3f worst %.3f: %s"
              % (a.ep, a.redundant, f[3], mean, worst,
                 "; ".join(problems) or "ok"))
        return 1 if problems else 0
    print("no row for EP=%d redundant=%d" % (a.ep, a.redundant))
    return 1


if __name__ == "__main__":
    sys.exit(main())
