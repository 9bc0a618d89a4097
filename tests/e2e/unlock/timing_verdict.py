#!/usr/bin/python3
"""Judges the unlock timing scenario (tests/e2e/unlock/timing.json) on the
host: reads unlock-timing's table, prints per passphrase class the figures
(n, mean, standard deviation, min, max) of the time from the answer to
reliant-unlock's verdict and to its exit, and fails when the mean verdict
times of two classes differ by more than the noise: the larger of the two
classes' standard deviations over repeated runs (docs/security.md)."""

import csv
import itertools
import statistics
import sys

CLASSES = ("wrong", "decoy", "hidden")


def figures(values):
    return (len(values), statistics.mean(values), statistics.stdev(values), min(values), max(values))


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    by_class = {name: [row for row in rows if row["class"] == name] for name in CLASSES}
    print("unlock timing, ms from the answer (n, mean, stdev, min, max):")
    stats = {}
    for name in CLASSES:
        verdict = figures([float(row["verdict_ms"]) for row in by_class[name]])
        exit_ = figures([float(row["exit_ms"]) for row in by_class[name]])
        stats[name] = verdict
        print(f"  {name:6s} verdict n={verdict[0]} mean={verdict[1]:.1f} stdev={verdict[2]:.1f} "
              f"min={verdict[3]:.1f} max={verdict[4]:.1f} | exit mean={exit_[1]:.1f} stdev={exit_[2]:.1f} "
              f"min={exit_[3]:.1f} max={exit_[4]:.1f}")
    failed = False
    for a, b in itertools.combinations(CLASSES, 2):
        difference = abs(stats[a][1] - stats[b][1])
        noise = max(stats[a][2], stats[b][2])
        verdict = "within" if difference < noise else "OUTSIDE"
        print(f"  {a} vs {b}: |difference of means| {difference:.1f} ms, noise {noise:.1f} ms: {verdict}")
        failed |= difference >= noise
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
