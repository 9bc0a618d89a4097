#!/usr/bin/python3
"""Boots the benchmark guest once and prints its figures (report/bench.txt)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    cache, work = sys.argv[1], Path(sys.argv[2])
    harness = HERE.parent.parent / "e2e" / "harness" / "e2e.py"
    status = subprocess.run([sys.executable, str(harness), "--cache", cache, "boot",
                             "--scenario", str(HERE / "scenario.json"), "--work", str(work / "runs"),
                             "--vars-file", str(work / "vars.json")]).returncode
    report = work / "runs" / "bench-integrity" / "report" / "bench.txt"
    if report.exists():
        print(report.read_text(), end="")
    sys.exit(status)


if __name__ == "__main__":
    main()
