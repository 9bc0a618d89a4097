#!/usr/bin/python3
"""Runs a build tree's QEMU boots (ctest label e2e) on one core, and on two
once a file appears (scripts/test: when the host lane has ended).

ctest alone cannot do this: the boots hold RESOURCE_LOCK reliant_qemu (one
QEMU at a time, so a boot beside the host lane's builds keeps its pace), and
`ctest -j` is fixed when ctest starts. Here the tests are read once from
`ctest --show-only=json-v1` and each runs its command itself, with its
TIMEOUT and WORKING_DIRECTORY (another ctest per test would read the tree's
test lists again, which the host lane's build rewrites meanwhile); a test
with any other property this lane does not apply is refused. A second
worker takes the remaining boots once the other core is free: a TCG boot
keeps one core busy, so two boots on two otherwise idle cores keep the pace
one boot has beside the host lane.

Order: ctest's (the order the tests are defined in); a test starts only once
every setup of the fixtures it requires has passed, and is not run (a
failure) if one of them failed. A setup runs alone: the setups share the
harness's cache (kernel, dracut copy), which they build. A failed test's output is printed whole
when it ends. Exit status 0 only if every test passed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# The properties this lane applies (or that only concern ctest's own
# scheduling, which this lane replaces).
APPLIED = {"LABELS", "FIXTURES_SETUP", "FIXTURES_REQUIRED", "RESOURCE_LOCK", "DEPENDS", "TIMEOUT",
           "WORKING_DIRECTORY"}


@dataclass
class Test:
    name: str
    command: list
    directory: str
    timeout: float  # seconds; 0: the lane's default
    setups: list = field(default_factory=list)  # setup tests of every fixture it requires
    exclusive: bool = False  # a setup: runs alone (the setups share the harness's cache)


def load_tests(build: Path, label: str, regex=None):
    """The tests labelled `label` (and matching `regex`), in ctest's order."""
    selection = ["-L", label] + (["-R", regex] if regex else [])
    listing = subprocess.run(["ctest", "--show-only=json-v1", *selection], cwd=build, check=True,
                             capture_output=True, text=True).stdout
    return plan(json.loads(listing)["tests"], str(build))


def plan(tests, build_dir):
    setups_of = {}
    for test in tests:
        for prop in test.get("properties", []):
            if prop["name"] == "FIXTURES_SETUP":
                for fixture in prop["value"]:
                    setups_of.setdefault(fixture, []).append(test["name"])
    planned = []
    for test in tests:
        name = test["name"]
        properties = {prop["name"]: prop["value"] for prop in test.get("properties", [])}
        unknown = sorted(set(properties) - APPLIED)
        if unknown:
            raise ValueError(f"{name}: property {', '.join(unknown)} is not applied by this lane")
        if not test.get("command"):
            raise ValueError(f"{name}: no command")
        setups = []
        for fixture in properties.get("FIXTURES_REQUIRED", []):
            if fixture not in setups_of:
                raise ValueError(f"{name} requires fixture {fixture!r}, which no test sets up")
            setups += setups_of[fixture]
        planned.append(Test(name, test["command"], properties.get("WORKING_DIRECTORY", build_dir),
                            float(properties.get("TIMEOUT", 0)), setups, "FIXTURES_SETUP" in properties))
    return planned


def next_test(planned, states):
    """The first test not started whose setups all passed: ("run", test);
    a setup only when nothing runs, and nothing beside a setup;
    ("skip", test) for one whose setup failed; ("wait", None) while a setup
    it needs is still running; ("done", None) when nothing is left."""
    running = [test for test in planned if states.get(test.name) == "running"]
    alone = any(test.exclusive for test in running)
    waiting = False
    for test in planned:
        if test.name in states:
            continue
        if any(states.get(setup) in ("failed", "not run") for setup in test.setups):
            return "skip", test
        if not alone and all(states.get(setup) == "passed" for setup in test.setups) and \
                not (test.exclusive and running):
            return "run", test
        waiting = True
    return ("wait", None) if waiting else ("done", None)


def run_test(test: Test, timeout: float):
    """(passed, output): the command's exit status 0 within `timeout`; on
    timeout its whole process group is killed, as ctest does."""
    process = subprocess.Popen(test.command, cwd=test.directory, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return False, output + f"\n*** {test.name}: timed out after {timeout:.0f} s\n"
    return process.returncode == 0, output


class Lane:
    def __init__(self, build: Path, planned, timeout: int):
        self.build = build
        self.planned = planned
        self.timeout = timeout
        self.states = {}  # name -> "running" | "passed" | "failed" | "not run"
        self.lock = threading.Condition()
        self.started = time.monotonic()
        self.finished = 0

    def worker(self, number: int):
        while True:
            with self.lock:
                while True:
                    action, test = next_test(self.planned, self.states)
                    if action == "wait":
                        self.lock.wait()
                        continue
                    if action == "skip":
                        self.states[test.name] = "not run"
                        self.finished += 1
                        print(f"{self.finished}/{len(self.planned)} {test.name}: NOT RUN (a setup it needs failed)",
                              flush=True)
                        self.lock.notify_all()
                        continue
                    break
                if action == "done":
                    return
                self.states[test.name] = "running"
                print(f"      Start {test.name} (worker {number}, +{self.elapsed()} s)", flush=True)
            began = time.monotonic()
            passed, output = run_test(test, test.timeout or self.timeout)
            seconds = time.monotonic() - began
            with self.lock:
                self.states[test.name] = "passed" if passed else "failed"
                self.finished += 1
                verdict = "Passed" if passed else "***Failed"
                print(f"{self.finished}/{len(self.planned)} {test.name}: {verdict} {seconds:.2f} sec "
                      f"(worker {number})", flush=True)
                if not passed:
                    sys.stdout.write(output)
                    sys.stdout.flush()
                self.lock.notify_all()

    def elapsed(self):
        return int(time.monotonic() - self.started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", required=True, help="the build tree")
    parser.add_argument("--label", default="e2e")
    parser.add_argument("--tests-regex", help="only the tests whose names match (ctest -R); their setups too")
    parser.add_argument("--timeout", type=int, default=900, help="ctest's default timeout per test")
    parser.add_argument("--second-worker-when", help="a file: a second worker starts once it exists")
    args = parser.parse_args()
    build = Path(args.build)
    planned = load_tests(build, args.label, args.tests_regex)
    if not planned:
        sys.exit(f"boot_lane: no test labelled {args.label} in {build}")
    lane = Lane(build, planned, args.timeout)
    first = threading.Thread(target=lane.worker, args=(1,))
    first.start()
    second = None
    if args.second_worker_when:
        trigger = Path(args.second_worker_when)
        while first.is_alive() and not trigger.exists():
            first.join(timeout=2)
        if first.is_alive():
            print(f"      (+{lane.elapsed()} s: {trigger} exists, a second worker starts)", flush=True)
            second = threading.Thread(target=lane.worker, args=(2,))
            second.start()
    first.join()
    if second:
        second.join()
    failed = [name for name, state in lane.states.items() if state != "passed"]
    print(f"{len(planned) - len(failed)} of {len(planned)} tests passed in {lane.elapsed()} s", flush=True)
    if failed:
        print("failed or not run: " + " ".join(failed), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
