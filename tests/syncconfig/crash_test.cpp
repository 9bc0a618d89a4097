// Crash injection: `review` (answering yes) and `undo` killed (SIGKILL, by
// kill-at) at every fsync, renameat, unlinkat and mkdirat they make: the
// boundaries of every durable step (each write is followed by its fsync, so
// a kill at the fsync sees the state a kill after the write would). After
// each kill, the next command's recovery must leave the home with ALL the
// transaction's files or NONE of them (never a mix, never a torn file), no
// temporary behind, and the command rerun must end in exactly the tree an
// uninterrupted run gives. Directories created for new files may stay behind
// (empty) after a roll-back: the comparison is over files and links.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <functional>

#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;
namespace fs = std::filesystem;

namespace {

using Tree = std::map<std::string, std::string>;

const std::vector<std::string> syscalls = {"fsync", "renameat", "unlinkat", "mkdirat"};
const std::vector<File> files = {
    {".bashrc", 0644, "new bashrc\n"}, {".config/git/config", 0600, "[user]\n"}, {".config/new/deep/file", 0644, "x"}};

Tree home_tree(const Target& t) {
    Tree tree = snapshot(t.home(), ".local/state/syncconfig");
    std::erase_if(tree, [](const auto& entry) { return entry.second.find(" dir ") != std::string::npos; });
    return tree;
}

// Each kill starts from a copy of one prepared home (cheaper than staging anew).
void copy_home(const Target& from, const Target& to) {
    fs::remove_all(to.home());
    fs::copy(from.home(), to.home(), fs::copy_options::recursive | fs::copy_options::copy_symlinks);
}

// A home whose .bashrc SyncConfig applied earlier, and a staged transaction
// that changes it and adds two files (in new directories).
void prepare(Target& t) {
    REQUIRE(t.receive(Stream({{".bashrc", 0644, "old bashrc\n"}}).bytes()).exit_code == 0);
    REQUIRE(run_on_tty({tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()}, "yes\n")
                .status == 0);
    REQUIRE(t.receive(Stream(files).bytes()).exit_code == 0);
}

TtyRun review(const Target& t, const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), {tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()});
    return run_on_tty(argv, "yes\n");
}

// Runs `command` on a copy of `start` (whose home is `before`) with kill-at
// killing it at the n-th call of each syscall, for n = 1, 2, ... until a
// run is not killed; after each kill, `check` judges the copy. Returns the
// number of kills.
int kill_at_every_step(const Target& start, const Tree& before,
                       const std::function<bool(Target&, const std::vector<std::string>& kill_prefix)>& killed_run,
                       const std::function<void(Target&)>& check) {
    int kills = 0;
    for (const std::string& syscall : syscalls) {
        for (int n = 1;; ++n) {
            CAPTURE(syscall);
            CAPTURE(n);
            Target t;
            copy_home(start, t);
            REQUIRE(home_tree(t) == before);
            if (!killed_run(t, reliant::testing::kill_at(syscall, n))) break;
            ++kills;
            check(t);
        }
    }
    return kills;
}

}  // namespace

TEST_CASE("apply killed at every file operation: all or nothing after recovery") {
    Target reference;
    prepare(reference);
    const Tree old_tree = home_tree(reference);
    REQUIRE(review(reference).status == 0);
    const Tree new_tree = home_tree(reference);
    REQUIRE(old_tree != new_tree);

    Target start;
    prepare(start);
    const int kills = kill_at_every_step(
        start, old_tree,
        [](Target& t, const std::vector<std::string>& prefix) {
            const TtyRun killed = review(t, prefix);
            if (killed.status == 128 + SIGKILL) return true;
            CHECK(killed.status == 0);
            return false;
        },
        [&](Target& t) {
            // Recovery (any command runs it first), then the state on disk.
            REQUIRE(t.run({"recover"}).exit_code == 0);
            const Tree now = home_tree(t);
            CHECK_MESSAGE((now == old_tree || now == new_tree), "a mix of old and new files");
            // Rerun: the transaction is either done, or still pending and applies now.
            if (now == old_tree) {
                CHECK(t.pending().size() == 1);
                CHECK(review(t).status == 0);
            } else {
                CHECK(t.pending().empty());
            }
            CHECK(home_tree(t) == new_tree);
        });
    CHECK(kills > 20);
}

TEST_CASE("undo killed at every file operation: all or nothing after recovery") {
    Target reference;
    prepare(reference);
    REQUIRE(review(reference).status == 0);
    const Tree applied = home_tree(reference);
    REQUIRE(reference.run({"undo"}).exit_code == 0);
    const Tree undone = home_tree(reference);
    REQUIRE(applied != undone);

    Target start;
    prepare(start);
    REQUIRE(review(start).status == 0);
    const int kills = kill_at_every_step(
        start, applied,
        [](Target& t, const std::vector<std::string>& prefix) {
            std::vector<std::string> argv = prefix;
            argv.insert(argv.end(), {tool(), "undo", "--home", t.home().string()});
            ProcessOptions options;
            options.timeout = std::chrono::seconds(60);
            auto killed = run_process(argv, options);
            REQUIRE(killed.ok());
            if (!killed->exited || killed->exit_code == 128 + SIGKILL) return true;
            CHECK(killed->exit_code == 0);
            return false;
        },
        [&](Target& t) {
            REQUIRE(t.run({"recover"}).exit_code == 0);
            const Tree now = home_tree(t);
            CHECK_MESSAGE((now == applied || now == undone), "a mix of applied and undone files");
            if (now == applied) CHECK(t.run({"undo"}).exit_code == 0);
            CHECK(home_tree(t) == undone);
        });
    CHECK(kills > 20);
}
