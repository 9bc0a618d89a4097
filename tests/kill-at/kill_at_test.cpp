// kill-at kills at the N-th call, before the call takes effect, and
// otherwise passes the program's status through.
#include <doctest/doctest.h>

#include <csignal>

#include "common/process.h"
#include "test_support.h"

using reliant::run_process;
using reliant::testing::kill_at;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

reliant::ProcessResult run(std::vector<std::string> prefix, const std::vector<std::string>& command) {
    prefix.insert(prefix.end(), command.begin(), command.end());
    auto result = run_process(prefix);
    REQUIRE(result.ok());
    return *result;
}

}  // namespace

TEST_CASE("kill-at: the n-th call never happens, the calls before it do") {
    TempDir dir;
    for (const char* name : {"a", "b", "c"}) reliant::testing::spit(dir / name, "x");
    // rm removes each operand with one unlinkat.
    const auto killed = run(kill_at("unlinkat", 2), {"rm", "-f", (dir / "a").string(), (dir / "b").string(),
                                                     (dir / "c").string()});
    CHECK(killed.exited);
    CHECK(killed.exit_code == 128 + SIGKILL);
    CHECK_FALSE(fs::exists(dir / "a"));
    CHECK(fs::exists(dir / "b"));
    CHECK(fs::exists(dir / "c"));
}

TEST_CASE("kill-at: a program that makes fewer calls runs to its end, its status passed through") {
    TempDir dir;
    reliant::testing::spit(dir / "a", "x");
    const auto finished = run(kill_at("unlinkat", 2), {"rm", "-f", (dir / "a").string()});
    CHECK(finished.succeeded());
    CHECK_FALSE(fs::exists(dir / "a"));
    const auto failing = run(kill_at("unlinkat", 5), {"sh", "-c", "printf out; exit 3"});
    CHECK(failing.exit_code == 3);
    CHECK(failing.out == "out");
}

TEST_CASE("kill-at: calls of the program's children count, the tracer's own do not") {
    TempDir dir;
    for (const char* name : {"a", "b"}) reliant::testing::spit(dir / name, "x");
    // sh forks rm twice; the second rm is killed at its call, so b stays.
    const auto killed = run(kill_at("unlinkat", 2), {"sh", "-c", "rm " + (dir / "a").string() + " && rm " +
                                                                 (dir / "b").string() + "; echo after"});
    CHECK_FALSE(fs::exists(dir / "a"));
    CHECK(fs::exists(dir / "b"));
    CHECK(killed.out == "after\n");  // sh itself goes on: only the task making the call dies
}

TEST_CASE("kill-at: refuses what it cannot do") {
    CHECK(run(kill_at("no-such-call", 1), {"true"}).exit_code == 2);
    CHECK(run({reliant::testing::kill_at("write", 1)[0], "write", "0", "true"}, {}).exit_code == 2);
    const auto missing = run(kill_at("write", 1), {"/nonexistent/program"});
    CHECK(missing.exit_code == 125);
    CHECK(missing.err.find("/nonexistent/program") != std::string::npos);
}
