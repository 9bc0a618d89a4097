#!/usr/bin/python3
"""Judges the unlock timing scenario (tests/e2e/unlock/timing.json) on the
host, and is the judge its unit test (timing_verdict_test.py) imports.

The rule (docs/security.md, section 5): for each pair of passphrase classes
(wrong, decoy, hidden), the statistic is the difference of the means of each
class's fastest half of rounds (the host only ever adds delay to a verdict:
stalls of a TCG guest on a busy host make the noise heavy-tailed, on the
slow side). A pair FAILS only when both
  * a permutation test of the class labels finds the difference
    significant at ALPHA / 3 (Bonferroni over the 3 pairs: a run where the
    classes do not differ fails with a chance of at most ALPHA),
  * and the difference is larger than BOUND_MS, less than a frame of a
    30 fps video (33 ms) of the unlock.
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
RESAMPLES = 20000
SEED = 20261203


def fast_half_mean(values):
    """The mean of the fastest half of the rounds. The floor is a hard
    minimum and what the host adds (a stall, a build on the other core) only
    ever makes a verdict later: the fast half is where the noise is small,
    and a class whose work the floor does not cover is later there too."""
    ordered = sorted(values)
    half = ordered[:max(1, len(ordered) // 2)]
    return sum(half) / len(half)


def permutation_p(a, b, resamples=RESAMPLES, seed=SEED, stop_above=None):
    """Two-sided p-value of |fast_half_mean(a) - fast_half_mean(b)| under
    the hypothesis that the class labels do not matter, by a Monte Carlo
    permutation test: (1 + c) / (1 + resamples), where c counts relabellings
    at least as extreme as the observed one (a valid p-value whatever the
    distribution: Phipson and Smyth, 2010). With stop_above, returns as soon
    as p is sure to exceed it."""
    pooled = list(a) + list(b)
    n = len(a)
    observed = abs(fast_half_mean(a) - fast_half_mean(b))
    rng = random.Random(seed)
    extreme = 0
    limit = None if stop_above is None else stop_above * (resamples + 1) - 1
    for _ in range(resamples):
        rng.shuffle(pooled)
        # The tolerance only absorbs rounding; ties count as extreme.
        if abs(fast_half_mean(pooled[:n]) - fast_half_mean(pooled[n:])) >= observed - 1e-9:
            extreme += 1
            if limit is not None and extreme > limit:
                break
    return (1 + extreme) / (1 + resamples)


def judge_pair(a, b, resamples=RESAMPLES, seed=SEED):
    """(difference of fast-half means, p-value, failed) for two series."""
    difference = fast_half_mean(a) - fast_half_mean(b)
    p = permutation_p(a, b, resamples, seed)
    return difference, p, p < PAIR_ALPHA and abs(difference) > BOUND_MS


def judge(series, resamples=RESAMPLES, seed=SEED):
    """series: {class: [verdict ms]}. Returns [(a, b, difference, p, failed)]
    for the 3 pairs; the run fails when any pair failed."""
    return [(a, b, *judge_pair(series[a], series[b], resamples, seed)) for a, b in itertools.combinations(CLASSES, 2)]


def figures(values):
    return (len(values), statistics.median(values), fast_half_mean(values), min(values), max(values))


def main():
    with open(sys.argv[1]) as table:
        rows = list(csv.DictReader(table, delimiter="\t"))
    verdicts = {name: [float(row["verdict_ms"]) for row in rows if row["class"] == name] for name in CLASSES}
    exits = {name: [float(row["exit_ms"]) for row in rows if row["class"] == name] for name in CLASSES}
    print("unlock timing, ms from the answer (n, median, mean of the fastest half, min, max):")
    for name in CLASSES:
        verdict, exit_ = figures(verdicts[name]), figures(exits[name])
        print(f"  {name:6s} verdict n={verdict[0]} median={verdict[1]:.1f} fast half={verdict[2]:.1f} "
              f"min={verdict[3]:.1f} max={verdict[4]:.1f} | exit median={exit_[1]:.1f} fast half={exit_[2]:.1f}")
    failed = False
    for a, b, difference, p, pair_failed in judge(verdicts):
        significant = "significant" if p < PAIR_ALPHA else "not significant"
        large = "larger" if abs(difference) > BOUND_MS else "not larger"
        print(f"  {a} vs {b}: difference of fast-half means {difference:+.1f} ms, permutation p={p:.2g} "
              f"({significant} at {PAIR_ALPHA:.2g}), {large} than {BOUND_MS:g} ms: "
              f"{'DIFFERENT' if pair_failed else 'same'}")
        failed |= pair_failed
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as table:
            raw = list(csv.DictReader(table, delimiter="\t"))
        print("bare `shufflecake open` (fake-shufflecake), ms, no floor (n, median, fast half, min, max):")
        for name in CLASSES:
            opened = figures([float(row["open_ms"]) for row in raw if row["class"] == name])
            print(f"  {name:6s} n={opened[0]} median={opened[1]:.1f} fast half={opened[2]:.1f} "
                  f"min={opened[3]:.1f} max={opened[4]:.1f}")
    print(f"timing verdict: {'FAIL' if failed else 'PASS'} (rule: permutation p < {PAIR_ALPHA:.2g} "
          f"and |difference| > {BOUND_MS:g} ms)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
