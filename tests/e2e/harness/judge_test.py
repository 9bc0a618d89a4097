#!/usr/bin/python3
"""Unit tests of the e2e harness's judge (ctest: unit-e2e-judge): a scenario
can only pass when what it claims was looked at."""

import io
import sys
import tarfile
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402


def marker_disk(directory: Path, reports):
    """A marker disk with a tar archive of {name: bytes} at each offset (MiB)."""
    disk = directory / "marker.img"
    with open(disk, "wb") as out:
        out.truncate(64 << 20)
        for offset_mib, files in reports.items():
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as archive:
                for name, content in files.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(content)
                    archive.addfile(info, io.BytesIO(content))
            out.seek(offset_mib << 20)
            out.write(buffer.getvalue())
    return disk


class ReadMarker(unittest.TestCase):
    def test_reads_each_report_under_its_prefix(self):
        with tempfile.TemporaryDirectory() as tmp:
            disk = marker_disk(Path(tmp), {0: {"stage": b"root"}, 32: {"journal.txt": b"x"}})
            files, failures = e2e.read_marker(disk, {"": 0, "shutdown/": 32})
        self.assertEqual(files, {"stage": b"root", "shutdown/journal.txt": b"x"})
        self.assertEqual(failures, [])

    def test_a_listed_report_that_is_missing_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            disk = marker_disk(Path(tmp), {0: {"stage": b"root"}})
            files, failures = e2e.read_marker(disk, {"": 0, "shutdown/": 32})
        self.assertEqual(set(files), {"stage"})
        self.assertEqual(len(failures), 1)
        self.assertIn("shutdown/", failures[0])

    def test_a_truncated_report_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            disk = marker_disk(Path(tmp), {0: {"journal.txt": b"y" * 4096}})
            with open(disk, "r+b") as out:  # a header that announces a file the disk does not hold
                out.seek(512)
                out.write(b"\xff" * 512)
                out.truncate(1024)
            _, failures = e2e.read_marker(disk, {"": 0})
        self.assertEqual(len(failures), 1)


class CheckShape(unittest.TestCase):
    def test_every_scenario_of_the_suite_is_well_formed(self):
        import json
        scenarios = sorted(Path(__file__).resolve().parents[1].glob("*/*.json"))
        checked = 0
        for path in scenarios:
            raw = json.loads(path.read_text())
            if isinstance(raw, dict) and ("checks" in raw or "boots" in raw):
                self.assertEqual(e2e.scenario_problems(raw), [], path.name)
                checked += 1
        self.assertGreaterEqual(checked, 17)

    def test_a_misspelt_key_is_refused(self):
        self.assertEqual(e2e.check_problems({"file": "x", "absnt": "y"}), ["unknown key 'absnt'"])

    def test_keys_the_xml_judge_does_not_evaluate_are_refused(self):
        problems = e2e.check_problems({"file": "q.xml", "qube_names": [], "absent": "z", "matches": "m"})
        self.assertEqual(len(problems), 2)

    def test_a_check_of_nothing_is_refused(self):
        self.assertEqual(len(e2e.check_problems({"file": "x"})), 1)
        self.assertEqual(e2e.check_problems({"file": "x", "matches": ""}), [])

    def test_a_boot_of_a_scenario_is_checked_too(self):
        raw = {"checks": [{"file": "a", "matches": "b"}], "boots": [{"checks": [{"file": "c", "absnt": "d"}]}]}
        self.assertEqual(len(e2e.scenario_problems(raw)), 1)


class Judge(unittest.TestCase):
    scenario = {"checks": [{"file": "stage", "equals": "root"},
                           {"file": "journal.txt", "matches": "merged", "absent": "frozen"}],
                "secrets": ["s3cret"], "forbidden": ["hidden-[a-z]+"]}

    def judge(self, files, serial=""):
        return e2e.judge(self.scenario, serial, files, [])

    def test_a_good_boot_passes(self):
        self.assertEqual(self.judge({"stage": b"root", "journal.txt": b"1 merged"}), [])

    def test_each_claim_can_fail(self):
        good = {"stage": b"root", "journal.txt": b"1 merged"}
        cases = [
            ({"stage": b"failed", "journal.txt": b"1 merged"}, ""),  # equals
            ({"stage": b"root", "journal.txt": b"1 merged, 1 frozen"}, ""),  # absent
            ({"stage": b"root", "journal.txt": b"nothing"}, ""),  # matches
            ({"stage": b"root"}, ""),  # a checked file missing
            (dict(good, **{"kmsg.txt": b"the s3cret"}), ""),  # a secret in any report
            (good, "console: s3cret"),  # a secret on the console
            (dict(good, **{"shutdown/x": b"hidden-press"}), ""),  # a forbidden name in any report
            (good, "mounted hidden-vault"),  # a forbidden name on the console
        ]
        for files, serial in cases:
            with self.subTest(files=sorted(files), serial=serial):
                self.assertNotEqual(self.judge(files, serial), [])

    def test_no_report_at_all_fails(self):
        self.assertNotEqual(e2e.judge({"checks": []}, "", {}, []), [])


if __name__ == "__main__":
    unittest.main()
