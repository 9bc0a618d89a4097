#!/usr/bin/python3
"""Unit tests of the unlock timing judge (ctest: unit-unlock-timing-verdict,
no QEMU): the rule of e2e-unlock-timing flags a class 30 ms slower, and
passes series with no difference or with one below the bound. The series
are synthetic, drawn from fixed seeds: every run sees the same numbers.

`timing_verdict_test.py --simulate [N]` prints the rule's operating
characteristics over N synthetic runs per case (docs/security.md, section 5)."""

import random
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import timing_verdict as tv  # noqa: E402  (the judge the scenario runs, not a copy)

ROUNDS = 16  # reliant_test.timing in timing.json
FLOOR_MS = 2000.0


def verdict_ms(rng, shift=0.0):
    """One verdict time shaped like the measured ones (docs/security.md,
    section 5: 2013-2155 ms, a few up to 2518): the floor, a fixed cost, an
    exponential jitter, and in one round in five a scheduler hiccup from a
    Pareto tail (shape 1.2: finite mean, infinite variance)."""
    value = FLOOR_MS + 15.0 + rng.expovariate(1 / 10.0) + shift
    if rng.random() < 0.2:
        value += 20.0 * rng.paretovariate(1.2)
    return value


def series(seed, shifts=None, rounds=ROUNDS, draw=verdict_ms):
    """{class: [ms]} with the rounds interleaved as the guest runs them."""
    shifts = shifts or {}
    rng = random.Random(seed)
    out = {name: [] for name in tv.CLASSES}
    for _ in range(rounds):
        for name in tv.CLASSES:
            out[name].append(draw(rng, shifts.get(name, 0.0)))
    return out


def failed_pairs(result):
    return {(a, b) for a, b, _, _, failed in result if failed}


class Statistics(unittest.TestCase):
    def test_fast_half_mean_takes_the_fastest_half(self):
        self.assertEqual(tv.fast_half_mean([9.0, 1.0, 1000.0, 3.0]), 2.0)
        self.assertEqual(tv.fast_half_mean([5.0, 7.0, 6.0]), 5.0)

    def test_identical_series_give_p_one(self):
        self.assertEqual(tv.permutation_p([1.0] * 12, [1.0] * 12), 1.0)

    def test_separated_series_give_the_smallest_p(self):
        p = tv.permutation_p([float(i) for i in range(12)], [100.0 + i for i in range(12)])
        self.assertEqual(p, 1 / (1 + tv.RESAMPLES))

    def test_the_same_table_always_gets_the_same_p(self):
        data = series(7)
        self.assertEqual(tv.permutation_p(data["wrong"], data["decoy"]),
                         tv.permutation_p(data["wrong"], data["decoy"]))


class NegativeControl(unittest.TestCase):
    """A class 30 ms slower must be flagged, whichever class it is."""

    def test_each_class_30_ms_slower_is_flagged(self):
        for seed in range(3):
            for slow in tv.CLASSES:
                with self.subTest(seed=seed, slow=slow):
                    failed = failed_pairs(tv.judge(series(100 + seed, {slow: 30.0})))
                    self.assertTrue(failed, f"a {slow} 30 ms slower passed")
                    self.assertTrue(all(slow in pair for pair in failed), failed)

    def test_a_late_verdict_in_every_round_is_flagged_despite_hiccups(self):
        data = series(11, {"hidden": 30.0})
        data["wrong"][3] += 480.0  # the two other classes get big outliers
        data["decoy"][5] += 480.0
        self.assertTrue(failed_pairs(tv.judge(data)))


class NoFalseAlarm(unittest.TestCase):
    def test_no_difference_passes(self):
        for seed in range(5):
            with self.subTest(seed=seed):
                self.assertEqual(failed_pairs(tv.judge(series(200 + seed))), set())

    def test_a_2_ms_systematic_difference_passes(self):
        for seed in range(5):
            with self.subTest(seed=seed):
                self.assertEqual(failed_pairs(tv.judge(series(300 + seed, {"wrong": 2.0}))), set())

    def test_a_significant_difference_below_the_bound_passes(self):
        # Almost no noise: 10 ms is significant, but smaller than the bound.
        def quiet(rng, shift):
            return FLOOR_MS + 15.0 + rng.uniform(0, 1.0) + shift

        data = series(400, {"decoy": 10.0}, draw=quiet)
        result = {(a, b): (p, failed) for a, b, _, p, failed in tv.judge(data)}
        self.assertLess(result[("wrong", "decoy")][0], tv.PAIR_ALPHA)
        self.assertEqual(failed_pairs(tv.judge(data)), set())

    def test_hiccups_in_one_class_alone_pass(self):
        # Three rounds of one class hit by a 300-500 ms stall (a build on the
        # other core): the fast half does not see them; a mean would.
        data = series(500)
        for round_, extra in ((1, 310.0), (6, 450.0), (9, 500.0)):
            data["hidden"][round_] += extra
        self.assertEqual(failed_pairs(tv.judge(data)), set())


def simulate(runs):
    """Operating characteristics over `runs` synthetic runs per case."""
    for label, shifts in (("no difference", {}), ("2 ms (wrong)", {"wrong": 2.0}),
                          ("10 ms (wrong)", {"wrong": 10.0}), ("20 ms (hidden)", {"hidden": 20.0}),
                          ("30 ms (hidden)", {"hidden": 30.0})):
        flagged = 0
        largest = 0.0
        for run in range(runs):
            data = series(10_000 + run, shifts)
            failed = False
            for a, b in ((x, y) for i, x in enumerate(tv.CLASSES) for y in tv.CLASSES[i + 1:]):
                difference = tv.fast_half_mean(data[a]) - tv.fast_half_mean(data[b])
                largest = max(largest, abs(difference))
                # The rule needs both: skip the resampling when the bound alone passes.
                if abs(difference) > tv.BOUND_MS and \
                        tv.permutation_p(data[a], data[b], stop_above=tv.PAIR_ALPHA) < tv.PAIR_ALPHA:
                    failed = True
            flagged += failed
        print(f"{label:16s}: {flagged}/{runs} runs flagged; largest |difference| {largest:.1f} ms", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--simulate":
        simulate(int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
    else:
        unittest.main()
