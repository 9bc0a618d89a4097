#!/usr/bin/python3
"""Builds what the overlay scenarios boot, once per change of its inputs.

  initramfs.img  systemd flavour with the test module 50reliant-test-overlay
  disk.img       GPT: part1 "base" (64 MiB ext4, then its dm-verity tree),
                 part2 "sflc" (stands for the Shufflecake partition)
  disk-tampered.img  the same disk with one byte of the template image changed
  other.img      a second disk that protect must make read-only
  vars.json      ROOT_HASH, WRONG_ROOT_HASH, BASE_SHA256, VERITY_OFFSET for
                 the scenarios' ${...}

The base holds busybox (static) as its init, a 16 MiB template image in a
Qubes file pool, a stand-in for Qubes' create-snapshot, and dmsetup.
The seal comes from `reliant-overlay seal` run on the host.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent / "harness" / "e2e.py"
MODULES = ("bash systemd systemd-initrd systemd-journald dracut-systemd udev-rules dm base fs-lib "
           "reliant-test-overlay")
MIB = 1 << 20
FS_BYTES = 64 * MIB
PART1_BYTES = 72 * MIB  # filesystem + room for the verity tree behind it
PART2_BYTES = 8 * MIB
APPLETS = ("sh awk basename blockdev cat cmp cp cut dd df echo grep head ls mkdir poweroff readlink rm "
           "sha256sum sync tail tar truncate").split()
TEMPLATE = "var/lib/qubes/vm-templates/tpl"
# A merged qubes.xml with one TemplateVM in the file pool (shared with the host tests).
QUBES_XML = HERE.parent.parent / "overlay" / "template-qubes.xml"


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def copy_with_libraries(binary: str, root: Path):
    """A dynamic binary plus the shared objects ldd names, at the same paths."""
    target = root / binary.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, target)
    for line in run(["ldd", binary], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            destination = root / path.lstrip("/")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(path), destination)


def make_tree(root: Path):
    shutil.rmtree(root, ignore_errors=True)
    for directory in ("bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "usr/lib/qubes",
                      TEMPLATE, "var/lib/qubes/appvms"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text("ID=reliant-e2e\nNAME=\"reliant e2e base\"\n")
    shutil.copy2("/bin/busybox", root / "bin/busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    init = root / "sbin/init"
    shutil.copy2(HERE / "base-init.sh", init)
    init.chmod(0o755)
    # Qubes' script, as the base ships it. reliant binds its own over it.
    script = root / "usr/lib/qubes/create-snapshot"
    script.write_text("#!/bin/sh\necho 'qubes create-snapshot ran: reliant did not replace it' >&2\nexit 3\n")
    script.chmod(0o755)
    copy_with_libraries(shutil.which("dmsetup") or "/sbin/dmsetup", root)
    # The qubes.xml `loops` reads (in a real boot the healer's merged file).
    shutil.copy2(QUBES_XML, root / "var/lib/qubes/qubes.xml")
    # A template image full of data, and the empty sparse COW Qubes leaves beside it.
    with open(root / TEMPLATE / "root.img", "wb") as image:
        image.write(b"TEMPLATE!")
        image.write(os.urandom(16 * MIB - 9))
    with open(root / TEMPLATE / "root-cow.img", "wb") as cow:
        cow.truncate(16 * MIB)


def build_disk(work: Path, part1: Path) -> Path:
    disk = work / "disk.img"
    with open(disk, "wb") as blank:
        blank.truncate(MIB + PART1_BYTES + PART2_BYTES + MIB)
    table = (f"label: gpt\nstart=2048, size={PART1_BYTES // 512}, name=base\n"
             f"size={PART2_BYTES // 512}, name=sflc\n")
    run(["sfdisk", "-q", str(disk)], input=table.encode())
    run(["dd", f"if={part1}", f"of={disk}", "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"])
    return disk


def tamper(disk: Path):
    """A copy of the disk with one byte flipped inside the template image."""
    data = bytearray(disk.read_bytes())
    offset = data.find(b"TEMPLATE!")
    if offset < 0:
        sys.exit("overlay e2e setup: the template image is not in the disk image")
    data[offset + 100] ^= 0x01
    (disk.parent / "disk-tampered.img").write_bytes(data)


def seal(overlay: str, part1: Path):
    """The kernel arguments `reliant-overlay seal` prints, as a dict."""
    empty = part1.parent / "empty-cmdline"
    empty.write_text("\n")
    base = [overlay, "--cmdline", str(empty), "seal", "--base", str(part1)]
    verity = run(base + ["--mode", "verity", "--hash", str(part1), "--hash-offset", str(FS_BYTES)],
                 capture_output=True, text=True).stdout
    hashed = run(base + ["--mode", "hash"], capture_output=True, text=True).stdout
    values = {}
    for argument in (verity + " " + hashed).split():
        key, _, value = argument.partition("=")
        values[key] = value
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--overlay", required=True, help="the reliant-overlay binary (static)")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)

    run([sys.executable, str(HARNESS), "--cache", args.cache, "initramfs",
         "--modules", MODULES, "--module-dir", str(HERE.parent / "modules" / "50reliant-test-overlay"),
         "--env", f"RELIANT_E2E_OVERLAY={args.overlay}", "--out", str(work / "initramfs.img")])

    tree = work / "base-tree"
    make_tree(tree)
    part1 = work / "part1.img"
    run([sys.executable, str(HARNESS), "--cache", args.cache, "ext4", "--source", str(tree),
         "--size", f"{FS_BYTES // MIB}M", "--label", "base", "--out", str(part1)])
    os.truncate(part1, PART1_BYTES)
    values = seal(str(Path(args.overlay).resolve()), part1)
    root_hash = values["rd.reliant.verity.roothash"]
    wrong = ("0" if root_hash[0] != "0" else "1") + root_hash[1:]
    tamper(build_disk(work, part1))
    part1.unlink()
    with open(work / "other.img", "wb") as other:
        other.truncate(4 * MIB)
    (work / "vars.json").write_text(json.dumps({
        "WORK": str(work),
        "ROOT_HASH": root_hash,
        "WRONG_ROOT_HASH": wrong,
        "VERITY_OFFSET": str(FS_BYTES),
        "BASE_SHA256": values["rd.reliant.hash.sha256"],
    }, indent=2) + "\n")
    shutil.rmtree(tree)
    print("overlay e2e setup: ready in", work)


if __name__ == "__main__":
    main()
