// The whole flow through the real binaries: push from config-mgmt through
// the stand-in qrexec-client-vm, the receiver stages, the user reviews on a
// terminal and types yes, undo restores; plus the receiver's own refusals
// (enablement, flooding, space, stalls, truncation, policy).
#include <doctest/doctest.h>

#include <filesystem>

#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
namespace fs = std::filesystem;

namespace {

void lay_out_source(const Target& t) {
    fs::create_directories(t.source() / "profiles/test/.config/git");
    spit(t.source() / "profiles/test/.bashrc", "alias ll='ls -l'\n");
    spit(t.source() / "profiles/test/.config/git/config", "[user]\n\tname = Alice\n");
    fs::create_directories(t.source() / "overrides/work/test");
    spit(t.source() / "overrides/work/test/.bashrc", "alias ll='ls -la'\nexport WORK=1\n");
}

ProcessResult push(const Target& t, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {tool(), "push", "--source", t.source().string(), "--profile", "test",
                                     "--qrexec-client", (t.bin() / "qrexec-client-vm").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("work");
    ProcessOptions options;
    options.timeout = std::chrono::seconds(60);
    auto result = run_process(argv, options);
    REQUIRE(result.ok());
    return *result;
}

TtyRun review(const Target& t, const std::string& typed, const std::vector<std::string>& env = {}) {
    return run_on_tty({tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()}, typed,
                      env);
}

}  // namespace

TEST_CASE("push, review with yes, undo") {
    Target t;
    lay_out_source(t);
    t.write_home(".bashrc", "# old\n");
    // A file SyncConfig never wrote is a conflict by default: first make the
    // target's .bashrc one SyncConfig wrote, by applying once and accepting.
    auto pushed = push(t);
    CHECK_MESSAGE(pushed.exit_code == 0, pushed.out << pushed.err);
    CHECK(pushed.out.find("work: staged 2 file(s)") != std::string::npos);
    REQUIRE(t.pending().size() == 1);
    CHECK(t.run({"pending"}).out.find("from mgmt  profile test  2 file(s)") != std::string::npos);

    // Enter alone: keep the local .bashrc (conflict), then no "yes": nothing applied.
    TtyRun kept = review(t, "\n\n");
    CHECK(kept.status == 1);
    CHECK(kept.output.find("[CONFLICT] .bashrc") != std::string::npos);
    CHECK(kept.output.find("[NEW] .config/git/config") != std::string::npos);
    CHECK(kept.output.find("RISK: shell start-up file") != std::string::npos);
    CHECK(slurp(t.home() / ".bashrc") == "# old\n");
    CHECK_FALSE(fs::exists(t.home() / ".config/git/config"));
    CHECK(t.pending().size() == 1);

    // "replace" for the conflict, then "yes".
    TtyRun applied = review(t, "replace\nyes\n");
    CHECK_MESSAGE(applied.status == 0, applied.output);
    CHECK(slurp(t.home() / ".bashrc") == "alias ll='ls -la'\nexport WORK=1\n");  // the override won
    CHECK(slurp(t.home() / ".config/git/config") == "[user]\n\tname = Alice\n");
    CHECK(t.pending().empty());

    // Undo restores the old .bashrc and removes the new file.
    auto undone = t.run({"undo"});
    CHECK_MESSAGE(undone.exit_code == 0, undone.err);
    CHECK(slurp(t.home() / ".bashrc") == "# old\n");
    CHECK_FALSE(fs::exists(t.home() / ".config/git/config"));
    CHECK(t.run({"undo"}).exit_code != 0);  // nothing left to undo
}

TEST_CASE("a file SyncConfig wrote and nobody changed is a plain change, a local edit is a conflict") {
    Target t;
    lay_out_source(t);
    REQUIRE(push(t).exit_code == 0);
    REQUIRE(review(t, "yes\n").status == 0);
    // Second push with a change: CHANGED, applied on yes.
    spit(t.source() / "overrides/work/test/.bashrc", "alias ll='ls -lah'\n");
    REQUIRE(push(t).exit_code == 0);
    TtyRun second = review(t, "yes\n");
    CHECK(second.output.find("[CHANGED] .bashrc") != std::string::npos);
    CHECK(second.status == 0);
    CHECK(slurp(t.home() / ".bashrc") == "alias ll='ls -lah'\n");
    // The user edits it; the next push is a conflict and keeps the local file.
    spit(t.home() / ".bashrc", "# mine\n");
    spit(t.source() / "overrides/work/test/.bashrc", "alias x=y\n");
    REQUIRE(push(t).exit_code == 0);
    TtyRun third = review(t, "\nyes\n");
    CHECK(third.output.find("[CONFLICT] .bashrc") != std::string::npos);
    CHECK(slurp(t.home() / ".bashrc") == "# mine\n");
    // Undo of that (empty) transaction is not possible: nothing was applied
    // beyond the previous one, whose .bashrc changed locally since: a conflict.
    CHECK(t.run({"undo"}).exit_code != 0);
    CHECK(slurp(t.home() / ".bashrc") == "# mine\n");
}

TEST_CASE("the default answer is no, reject discards, consent is never taken inside a qrexec call") {
    Target t;
    lay_out_source(t);
    REQUIRE(push(t).exit_code == 0);
    CHECK(review(t, "y\n").status == 1);  // only the whole word counts
    CHECK(review(t, "YES\n").status == 1);
    CHECK(review(t, "\x04").status == 1);  // end of input (Ctrl-D) is a no
    CHECK_FALSE(fs::exists(t.home() / ".bashrc"));
    CHECK(t.pending().size() == 1);
    TtyRun inside = review(t, "yes\n", {"QREXEC_REMOTE_DOMAIN=mgmt"});
    CHECK(inside.status == 2);
    CHECK_FALSE(fs::exists(t.home() / ".bashrc"));
    // Without a terminal (stdin a pipe, no controlling tty) review refuses.
    ProcessOptions options;
    const std::string yes = "yes\n";
    options.input = std::as_bytes(std::span<const char>(yes.data(), yes.size()));
    auto piped = run_process(
        {"setsid", "-w", tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()}, options);
    REQUIRE(piped.ok());
    CHECK(piped->exit_code == 2);
    CHECK_FALSE(fs::exists(t.home() / ".bashrc"));
    CHECK(review(t, "reject\n").status == 1);
    CHECK(t.pending().empty());
}

TEST_CASE("dry run sends nothing and prints the manifest") {
    Target t;
    lay_out_source(t);
    auto dry = push(t, {"--dry-run"});
    CHECK(dry.exit_code == 0);
    CHECK(dry.out.find("work: would send profile test, 2 file(s)") != std::string::npos);
    CHECK(dry.out.find(" .config/git/config\n") != std::string::npos);
    CHECK(t.pending().empty());
}

TEST_CASE("the receiver refuses before reading when the profile is not enabled, and on policy deny") {
    Target t;
    lay_out_source(t);
    t.remove_qubesdb("/vm-config/syncconfig.profiles");
    auto r = push(t);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("work: profile not enabled") != std::string::npos);
    t.set_qubesdb("/vm-config/syncconfig.profiles", "other test-x\nTEST");  // no exact "test"
    CHECK(push(t).out.find("work: profile not enabled") != std::string::npos);
    t.set_qubesdb("/vm-config/syncconfig.profiles", "git test");
    t.set_qubesdb("/vm-config/syncconfig.profile.test", "allow=.bashrc bogus=1");  // malformed: fail closed
    CHECK(push(t).out.find("work: failed") != std::string::npos);
    CHECK(t.pending().empty());
    spit(t.bin() / "qrexec/policy", "");
    auto denied = push(t);
    CHECK(denied.exit_code == 1);
    CHECK(denied.out.find("call refused by policy") != std::string::npos);
}

TEST_CASE("flooding: at most 8 pending transactions, a stalled or cut stream stages nothing") {
    Target t;
    lay_out_source(t);
    for (int i = 0; i < 8; ++i) REQUIRE(push(t).exit_code == 0);
    auto ninth = push(t);
    CHECK(ninth.out.find("work: busy") != std::string::npos);
    CHECK(t.pending().size() == 8);

    Target s;
    lay_out_source(s);
    s.set_deadline_ms(500);
    spit(s.bin() / "qrexec/stall", "40\n");
    auto stalled = push(s);
    CHECK(stalled.out.find("the stream stalled past the deadline") != std::string::npos);
    CHECK(s.pending().empty());
    CHECK(fs::is_empty(s.state() / "incoming"));
    fs::remove(s.bin() / "qrexec/stall");
    spit(s.bin() / "qrexec/cut-after", "100\n");
    auto cut = push(s);
    CHECK(cut.out.find("the stream ended early") != std::string::npos);
    CHECK(s.pending().empty());
    CHECK(fs::is_empty(s.state() / "incoming"));
}
