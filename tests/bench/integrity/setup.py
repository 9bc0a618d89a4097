#!/usr/bin/python3
"""Builds the integrity benchmark's guest, once (the disks are kept while
their seal file is there):
  initramfs.img  systemd flavour with 50reliant-bench-integrity
  base.img       2 GiB of random bytes: the base (no filesystem is needed to hash it)
  hash.img       its dm-verity tree, from `reliant-overlay seal`
  vars.json      ROOT_HASH and SHA256 for the scenario
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = HERE.parent.parent / "e2e" / "harness" / "e2e.py"
MODULES = "bash systemd systemd-initrd systemd-journald dracut-systemd udev-rules dm base reliant-bench-integrity"
BASE_BYTES = 2 << 30
CHUNK = 8 << 20


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, **kwargs)


def make_base(path: Path):
    with open(path, "wb") as base:
        for _ in range(BASE_BYTES // CHUNK):
            base.write(os.urandom(CHUNK))


def seal(overlay: str, work: Path):
    empty = work / "empty-cmdline"
    empty.write_text("\n")
    common = [overlay, "--cmdline", str(empty), "seal", "--base", str(work / "base.img")]
    (work / "hash.img").unlink(missing_ok=True)
    verity = run(common + ["--mode", "verity", "--hash", str(work / "hash.img")], capture_output=True, text=True)
    hashed = run(common + ["--mode", "hash"], capture_output=True, text=True)
    values = dict(arg.partition("=")[::2] for arg in (verity.stdout + " " + hashed.stdout).split())
    return {"WORK": str(work), "ROOT_HASH": values["rd.reliant.verity.roothash"],
            "SHA256": values["rd.reliant.hash.sha256"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--overlay", required=True, help="reliant-overlay, for seal")
    parser.add_argument("--bench", required=True, help="the integrity-bench binary (static)")
    args = parser.parse_args()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    run([sys.executable, str(HARNESS), "--cache", args.cache, "initramfs", "--modules", MODULES,
         "--module-dir", str(HERE / "module" / "50reliant-bench-integrity"),
         "--env", f"RELIANT_BENCH_INTEGRITY={Path(args.bench).resolve()}", "--out", str(work / "initramfs.img")])
    variables = work / "vars.json"
    if not (variables.exists() and (work / "base.img").stat().st_size == BASE_BYTES):
        variables.unlink(missing_ok=True)
        make_base(work / "base.img")
        variables.write_text(json.dumps(seal(str(Path(args.overlay).resolve()), work), indent=2) + "\n")
    print("integrity bench setup: ready in", work)


if __name__ == "__main__":
    main()
