#!/usr/bin/python3
"""Judges the unlock timing scenario (tests/e2e/unlock/timing.json) on the
host, and is the judge its unit test (timing_verdict_test.py) imports.

The rule (docs/security.md, section 5): for each pair of passphrase classes
(wrong, decoy, hidden), the verdict times are compared by their 25 %
trimmed means (the mean of the middle half: robust to the scheduler hiccups
of a TCG guest on a busy host, which make the noise heavy-tailed). A pair
FAILS only when both
  * a permutation test of the classes' labels finds the difference
    significant at ALPHA / 3 (Bonferroni over the 3 pairs: the chance that
    a run with no difference between the classes fails is at most ALPHA),
  * and the difference is larger than BOUND_MS, the smallest difference an
    observer of the unlock can use (a video frame is 33 ms).
The permutation test draws RESAMPLES relabellings from a fixed seed: the
verdict on a given table is always the same.

Usage: timing_verdict.py TIMING.TSV [RAW.TSV]. RAW.TSV holds bare
`shufflecake open` times (no floor): printed for comparison, not judged
(they are expected to differ)."""

import csv
import itertools
import random
import statistics
import sys

CLASSES = ("wrong", "decoy", "hidden")
ALPHA = 0.001  # the family-wise false-alarm rate per run
PAIR_ALPHA = ALPHA / 3  # Bonferroni: 3 pairs
BOUND_MS = 20.0
TRIM = 0.25  # cut from each end
RESAMPLES = 20000
SEED = 20261203


def trimmed_mean(values, trim=TRIM):
    """The mean of what is left after cutting floor(trim * n) values from
    each end (n = 12: the middle 6)."""
    ordered = sorted(values)
    cut = int(trim * len(ordered))
    middle = ordered[cut:len(ordered) - cut]
    return sum(middle) / len(middle)


def permutation_p(a, b, resamples=RESAMPLES, seed=SEED, stop_above=None):
    """Two-sided p-value of |trimmed_mean(a) - trimmed_mean(b)| under the
    hypothesis that the labels do not matter: (1 + c) / (1 + resamples),
    where c counts relabellings at least as extreme as the observed one (a
    valid p-value for a Monte Carlo permutation test: Phipson and Smyth,
    2010). With stop_above, returns as soon as p is sure to exceed it."""
    observed = abs(trimmed_mean(a) - trimmed_mean(b))
    pooled = list(a) + list(b)
    n = len(a)
    rng = random.Random(seed)
    extreme = 0
    limit = None if stop_above is None else stop_above * (resamples + 1) - 1
    for _ in range(resamples):
        rng.shuffle(pooled)
        # A tiny tolerance: relabellings equal to the observed one up to
        # rounding count as extreme (the conservative side).
        if abs(trimmed_mean(pooled[:n]) - trimmed_mean(pooled[n:])) >= observed - 1e-9:
            extreme += 1
            if limit is not None and extreme > limit:
                return (1 + extreme) / (1 + resamples)
    return (1 + extreme) / (1 + resamples)


def judge_pair(a, b, resamples=RESAMPLES, seed=SEED):
    """(difference of trimmed means, p-value, failed) for two series."""
    difference = trimmed_mean(a) - trimmed_mean(b)
    p = permutation_p(a, b, resamples, seed)
    return difference, p, p < PAIR_ALPHA and abs(difference) > BOUND_MS


def judge(series, resamples=RESAMPLES, seed=SEED):
    """series: {class: [verdict ms]}. Returns [(a, b, difference, p, failed)]
    for the 3 pairs; the run fails when any pair failed."""
    return [(a, b, *judge_pair(series[a], series[b], resamples, seed)) for a, b in itertools.combinations(CLASSES, 2)]


def figures(values):
    return (len(values), statistics.median(values), trimmed_mean(values), min(values), max(values))


def main():
    with open(sys.argv[1]) as table:
        rows = list(csv.DictReader(table, delimiter="\t"))
    verdicts = {name: [float(row["verdict_ms"]) for row in rows if row["class"] == name] for name in CLASSES}
    exits = {name: [float(row["exit_ms"]) for row in rows if row["class"] == name] for name in CLASSES}
    print("unlock timing, ms from the answer (n, median, 25 % trimmed mean, min, max):")
    for name in CLASSES:
        verdict, exit_ = figures(verdicts[name]), figures(exits[name])
        print(f"  {name:6s} verdict n={verdict[0]} median={verdict[1]:.1f} trimmed={verdict[2]:.1f} "
              f"min={verdict[3]:.1f} max={verdict[4]:.1f} | exit median={exit_[1]:.1f} trimmed={exit_[2]:.1f}")
    failed = False
    for a, b, difference, p, pair_failed in judge(verdicts):
        significant = "significant" if p < PAIR_ALPHA else "not significant"
        large = "larger" if abs(difference) > BOUND_MS else "not larger"
        print(f"  {a} vs {b}: difference of trimmed means {difference:+.1f} ms, permutation p={p:.2g} "
              f"({significant} at {PAIR_ALPHA:.2g}), {large} than {BOUND_MS:g} ms: "
              f"{'DIFFERENT' if pair_failed else 'same'}")
        failed |= pair_failed
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as table:
            raw = list(csv.DictReader(table, delimiter="\t"))
        print("bare `shufflecake open` (fake-shufflecake), ms, no floor (n, median, trimmed, min, max):")
        for name in CLASSES:
            opened = figures([float(row["open_ms"]) for row in raw if row["class"] == name])
            print(f"  {name:6s} n={opened[0]} median={opened[1]:.1f} trimmed={opened[2]:.1f} "
                  f"min={opened[3]:.1f} max={opened[4]:.1f}")
    print(f"timing verdict: {'FAIL' if failed else 'PASS'} (rule: permutation p < {PAIR_ALPHA:.2g} "
          f"and |difference| > {BOUND_MS:g} ms)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
