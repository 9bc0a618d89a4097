#!/usr/bin/python3
"""boot_lane's plan, scheduling and runs (no QEMU): a test only after its
setups passed, never when one failed; a property the lane would not apply is
refused; a command's status, timeout and output."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import boot_lane  # noqa: E402


def test(name, setup=None, requires=None, command=("true",)):
    properties = [{"name": "LABELS", "value": ["e2e"]}, {"name": "TIMEOUT", "value": 420.0}]
    if setup:
        properties.append({"name": "FIXTURES_SETUP", "value": [setup]})
    if requires:
        properties.append({"name": "FIXTURES_REQUIRED", "value": [requires]})
    return {"name": name, "command": list(command), "properties": properties}


LISTING = [test("e2e-a-setup", setup="a"), test("e2e-a-1", requires="a"), test("e2e-a-2", requires="a"),
           test("e2e-b-setup", setup="b"), test("e2e-b-1", requires="b"), test("e2e-free")]


class Plan(unittest.TestCase):
    def test_setups_of_required_fixtures(self):
        planned = boot_lane.plan(LISTING, "/build")
        self.assertEqual([t.name for t in planned], [t["name"] for t in LISTING])
        by_name = {t.name: t for t in planned}
        self.assertEqual(by_name["e2e-a-2"].setups, ["e2e-a-setup"])
        self.assertEqual(by_name["e2e-free"].setups, [])
        self.assertEqual((by_name["e2e-a-1"].timeout, by_name["e2e-a-1"].directory), (420.0, "/build"))

    def test_refuses_a_fixture_nobody_sets_up(self):
        with self.assertRaises(ValueError):
            boot_lane.plan([test("e2e-x", requires="missing")], "/build")

    def test_refuses_a_property_it_would_not_apply(self):
        listing = test("e2e-x")
        listing["properties"].append({"name": "WILL_FAIL", "value": True})
        with self.assertRaisesRegex(ValueError, "WILL_FAIL"):
            boot_lane.plan([listing], "/build")


class RunTest(unittest.TestCase):
    def run_command(self, command, timeout=30):
        planned = boot_lane.plan([test("e2e-x", command=command)], "/")
        return boot_lane.run_test(planned[0], timeout)

    def test_status_and_output(self):
        self.assertEqual(self.run_command(["sh", "-c", "echo out; echo err >&2"]), (True, "out\nerr\n"))
        passed, output = self.run_command(["sh", "-c", "echo why; exit 3"])
        self.assertFalse(passed)
        self.assertIn("why", output)

    def test_timeout_kills_the_whole_group(self):
        passed, output = self.run_command(["sh", "-c", "sleep 60 & sleep 60"], timeout=1)
        self.assertFalse(passed)
        self.assertIn("timed out after 1 s", output)


class NextTest(unittest.TestCase):
    def setUp(self):
        self.planned = boot_lane.plan(LISTING, "/build")

    def next_name(self, states):
        action, chosen = boot_lane.next_test(self.planned, states)
        return action, chosen.name if chosen else None

    def test_in_order_once_setups_passed(self):
        self.assertEqual(self.next_name({}), ("run", "e2e-a-setup"))
        self.assertEqual(self.next_name({"e2e-a-setup": "passed"}), ("run", "e2e-a-1"))

    def test_a_second_worker_skips_to_what_does_not_wait(self):
        states = {"e2e-a-setup": "passed", "e2e-a-1": "running"}
        self.assertEqual(self.next_name(states), ("run", "e2e-a-2"))
        states["e2e-a-2"] = "running"
        # e2e-b-setup waits for the others to end; e2e-free does not.
        self.assertEqual(self.next_name(states), ("run", "e2e-free"))
        states["e2e-free"] = "running"
        self.assertEqual(self.next_name(states), ("wait", None))

    def test_a_setup_runs_alone(self):
        self.assertEqual(self.next_name({"e2e-a-setup": "running"}), ("wait", None))
        states = {"e2e-a-setup": "passed", "e2e-a-1": "running", "e2e-a-2": "passed"}
        self.assertEqual(self.next_name(states), ("run", "e2e-free"))
        states["e2e-free"] = "passed"
        self.assertEqual(self.next_name(states), ("wait", None))  # e2e-b-setup, once e2e-a-1 ends
        states["e2e-a-1"] = "passed"
        self.assertEqual(self.next_name(states), ("run", "e2e-b-setup"))

    def test_never_after_a_failed_setup(self):
        states = {"e2e-a-setup": "failed"}
        self.assertEqual(self.next_name(states), ("skip", "e2e-a-1"))
        states["e2e-a-1"] = "not run"
        self.assertEqual(self.next_name(states), ("skip", "e2e-a-2"))

    def test_done_when_all_ended(self):
        states = {t.name: "passed" for t in self.planned}
        self.assertEqual(boot_lane.next_test(self.planned, states), ("done", None))


if __name__ == "__main__":
    unittest.main()
