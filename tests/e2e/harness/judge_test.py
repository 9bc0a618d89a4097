#!/usr/bin/python3
"""Unit tests of the e2e harness (ctest: unit-e2e-judge): a scenario can
only pass when what it claims was looked at; the kernel QEMU boots is the
package's own, unpacked, or its bzImage."""

import gzip
import io
import lzma
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

def elf_with_notes(notes):
    """A minimal 64-bit little-endian ELF: one PT_NOTE segment of (name, type) notes."""
    body = b""
    for name, kind in notes:
        raw = name + b"\0"
        body += len(raw).to_bytes(4, "little") + (4).to_bytes(4, "little") + kind.to_bytes(4, "little")
        body += raw.ljust((len(raw) + 3) // 4 * 4, b"\0") + b"\0" * 4
    header = bytearray(64)
    header[0:6] = b"\x7fELF\x02\x01"
    header[0x20:0x28] = (64).to_bytes(8, "little")      # e_phoff
    header[0x36:0x38] = (56).to_bytes(2, "little")      # e_phentsize
    header[0x38:0x3a] = (1).to_bytes(2, "little")       # e_phnum
    program = bytearray(56)
    program[0:4] = (4).to_bytes(4, "little")             # PT_NOTE
    program[8:16] = (64 + 56).to_bytes(8, "little")      # p_offset
    program[32:40] = len(body).to_bytes(8, "little")     # p_filesz
    return bytes(header) + bytes(program) + body


def bzimage(payload):
    """A bzImage's header fields the harness reads, then the payload."""
    image = bytearray(5 * 512)
    image[0x1f1] = 4                                      # setup sectors
    image[0x202:0x206] = b"HdrS"
    image[0x206:0x208] = (0x20f).to_bytes(2, "little")   # boot protocol 2.15
    image[0x248:0x24c] = (16).to_bytes(4, "little")      # payload offset
    image[0x24c:0x250] = len(payload).to_bytes(4, "little")
    return bytes(image) + b"\0" * 16 + payload


class PvhEntryImage(unittest.TestCase):
    def image_from(self, payload):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "boot").mkdir()
            (Path(tmp) / "boot" / "vmlinuz-9").write_bytes(bzimage(payload))
            image = e2e.pvh_entry_image(Path(tmp), "9")
            return image.read_bytes() if image else None

    def test_unpacks_an_xz_or_gzip_kernel_with_the_pvh_note(self):
        elf = elf_with_notes([(b"GNU", 3), (b"Xen", 6), (b"Xen", 18)])
        self.assertEqual(self.image_from(lzma.compress(elf, format=lzma.FORMAT_XZ)), elf)
        self.assertEqual(self.image_from(gzip.compress(elf)), elf)

    def test_falls_back_without_the_note_or_a_known_compression(self):
        self.assertIsNone(self.image_from(gzip.compress(elf_with_notes([(b"Xen", 6), (b"GNU", 18)]))))
        self.assertIsNone(self.image_from(b"\x28\xb5\x2f\xfd" + b"zstd frame"))
        self.assertIsNone(self.image_from(gzip.compress(b"not an ELF")))


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
