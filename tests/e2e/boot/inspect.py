#!/usr/bin/python3
"""Host-side checks of a boot scenario's disk after the guest powered off.

  unchanged DISK REFERENCE [--except START:LENGTH]...
      every byte of DISK equals REFERENCE outside the given regions
  record IMAGE --status S
      the seal record (a GRUB environment block reliant/seal.env on the ext4
      IMAGE) says reliant_seal_status=S; with "sealed", reliant_seal holds a
      dm-verity root hash
  volume DISK --fake F --start S --bytes N --index I --passphrase-var NAME --vars FILE
         [--forbid REGEX] [--shard-qubes NAME...]
      decrypts volume I of the fake-shufflecake partition at [S, S+N) with the
      passphrase (never on argv: read from the vars file), then: no byte of
      the volume matches REGEX, and its shard /qubes.xml holds exactly the
      given qubes
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

CHUNK = 1 << 20


def regions(specs):
    out = []
    for spec in specs:
        start, length = spec.split(":")
        out.append((int(start), int(start) + int(length)))
    return out


def unchanged(args):
    skip = regions(args.exclude)
    differing = []
    with open(args.disk, "rb") as disk, open(args.reference, "rb") as reference:
        offset = 0
        while True:
            a, b = disk.read(CHUNK), reference.read(CHUNK)
            if not a and not b:
                break
            if a != b:
                for index in range(max(len(a), len(b))):
                    at = offset + index
                    if any(start <= at < end for start, end in skip):
                        continue
                    if index >= len(a) or index >= len(b) or a[index] != b[index]:
                        differing.append(at)
                        break
            offset += CHUNK
    if differing:
        sys.exit(f"{args.disk}: bytes changed outside the allowed regions; the first change in each "
                 "changed MiB is at byte " + ", ".join(str(at) for at in differing[:8]))
    print(f"inspect: {Path(args.disk).name} unchanged outside {args.exclude or 'nothing'}")


def shard_names(image: Path):
    text = subprocess.run(["debugfs", "-R", "cat /qubes.xml", str(image)], capture_output=True,
                          text=True).stdout
    if not text.strip():
        return None
    root = ElementTree.fromstring(text)
    return sorted(p.text or "" for p in root.findall("./domains/domain/properties/property[@name='name']"))


def volume(args):
    passphrase = json.loads(Path(args.vars).read_text())[args.passphrase_var]
    with tempfile.TemporaryDirectory() as tmp:
        partition = Path(tmp) / "partition.img"
        with open(args.disk, "rb") as disk, open(partition, "wb") as out:
            disk.seek(args.start)
            left = args.bytes
            while left:
                chunk = disk.read(min(CHUNK, left))
                out.write(chunk)
                left -= len(chunk)
        plain = Path(tmp) / "volume.img"
        subprocess.run([args.fake, "export", str(partition), str(args.index), str(plain)],
                       input=(passphrase + "\n").encode(), check=True)
        data = plain.read_bytes()
        if args.forbid:
            found = sorted({m.group(0).decode() for m in re.finditer(args.forbid.encode(), data)})
            if found:
                sys.exit(f"volume {args.index}: names only hidden volumes hold appear in it: {found}")
        if args.shard_qubes is not None:
            names = shard_names(plain)
            if names != sorted(args.shard_qubes):
                sys.exit(f"volume {args.index}: its shard holds {names}, not {sorted(args.shard_qubes)}")
    print(f"inspect: volume {args.index} holds no forbidden name; shard qubes {sorted(args.shard_qubes or [])}")


def record(args):
    text = subprocess.run(["debugfs", "-R", "cat /reliant/seal.env", args.image], capture_output=True,
                          text=True).stdout
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    if values.get("reliant_seal_status") != args.status:
        sys.exit(f"seal record: status {values.get('reliant_seal_status')!r}, not {args.status!r}")
    if args.status == "sealed" and not re.search(r"rd\.reliant\.verity\.roothash=[0-9a-f]{64}",
                                                 values.get("reliant_seal", "")):
        sys.exit(f"seal record: no root hash in {values.get('reliant_seal')!r}")
    print(f"inspect: seal record {args.status}: {values.get('reliant_seal', '')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("unchanged")
    one.add_argument("disk")
    one.add_argument("reference")
    one.add_argument("--except", dest="exclude", action="append", default=[])
    one.set_defaults(func=unchanged)
    seal = sub.add_parser("record")
    seal.add_argument("image")
    seal.add_argument("--status", required=True)
    seal.set_defaults(func=record)
    two = sub.add_parser("volume")
    two.add_argument("disk")
    for option in ("fake", "passphrase-var", "vars"):
        two.add_argument("--" + option, required=True)
    for option in ("start", "bytes", "index"):
        two.add_argument("--" + option, type=int, required=True)
    two.add_argument("--forbid")
    two.add_argument("--shard-qubes", nargs="*")
    two.set_defaults(func=volume)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
