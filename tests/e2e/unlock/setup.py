#!/usr/bin/python3
"""Builds what the unlock scenarios boot, once per change of its inputs:
the initramfs (systemd flavour with the test module 50reliant-test-unlock)
and two Shufflecake test disks made with fake-shufflecake init on the host:
  sflc.img      volumes 0 (DECOY), 1 (MIDDLE), 2 (HIDDEN), ext4 each
  sflc-bad.img  the same, with volume 2's superblock damaged so e2fsck -p fails
  timing.img    the wrong, decoy and hidden passphrases, one a line, for the
                timing scenario's unlock-timing (a raw disk, NUL-padded)
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent / "harness" / "e2e.py"
MODULES = ("bash systemd systemd-initrd systemd-journald dracut-systemd systemd-ask-password "
           "udev-rules dm base fs-lib reliant-test-unlock")
VOLUMES = 3
VOLUME_SIZE = "8M"
DISK_BYTES = (1 << 20) + 15 * (8 << 20)  # fake-shufflecake: 1 MiB header + 15 slices


def run(argv, **kwargs):
    subprocess.run(argv, check=True, **kwargs)


def make_disk(work: Path, fake: str, name: str, damage_last: bool):
    passphrases = json.loads((HERE / "passphrases.json").read_text())
    images = []
    for index in range(VOLUMES):
        root = work / f"volume-{index}"
        root.mkdir(parents=True, exist_ok=True)
        (root / "id").write_text(f"volume-{index}\n")
        image = work / f"volume-{index}.ext4"
        run([sys.executable, str(HARNESS), "--cache", str(work), "ext4", "--source", str(root),
             "--size", VOLUME_SIZE, "--label", f"vol{index}", "--out", str(image)])
        images.append(str(image))
    if damage_last:
        # e2fsck -p refuses this ("UNEXPECTED INCONSISTENCY"), exit 4.
        run(["debugfs", "-w", "-R", "ssv inodes_count 1", images[-1]], capture_output=True)
    disk = work / name
    with open(disk, "wb") as blank:
        blank.truncate(DISK_BYTES)
    lines = "".join(passphrases[key] + "\n" for key in ("DECOY", "MIDDLE", "HIDDEN"))
    run([fake, "init", "--no-randfill", str(disk)] + images, input=lines.encode(), stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--unlock", required=True, help="the reliant-unlock binary")
    parser.add_argument("--fake", required=True, help="the fake-shufflecake binary")
    parser.add_argument("--timing", required=True, help="the unlock-timing binary (test only)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    run([sys.executable, str(HARNESS), "--cache", args.cache, "initramfs",
         "--modules", MODULES, "--module-dir", str(HERE.parent / "modules" / "50reliant-test-unlock"),
         "--env", f"RELIANT_E2E_UNLOCK={args.unlock}", "--env", f"RELIANT_E2E_SHUFFLECAKE={args.fake}",
         "--env", f"RELIANT_E2E_TIMING={args.timing}",
         "--out", str(work / "initramfs.img")])
    # Cheap (under a second): rebuilt every run, so they always match the fake.
    make_disk(work, args.fake, "sflc.img", damage_last=False)
    make_disk(work, args.fake, "sflc-bad.img", damage_last=True)
    passphrases = json.loads((HERE / "passphrases.json").read_text())
    lines = "".join(passphrases[key] + "\n" for key in ("WRONG", "DECOY", "HIDDEN")).encode()
    (work / "timing.img").write_bytes(lines + bytes(4096 - len(lines)))
    print("unlock e2e setup: ready in", work)


if __name__ == "__main__":
    main()
