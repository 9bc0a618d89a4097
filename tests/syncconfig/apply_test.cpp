// Apply in-process, with the destination changed between review and apply
// (what a race or a user edit does): every check that the review made is
// made again at apply, and a failed check leaves every file as it was.
#include <doctest/doctest.h>

#include <filesystem>

#include "syncconfig/apply.h"
#include "syncconfig/review.h"
#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
namespace fs = std::filesystem;

namespace {

struct Reviewed {
    StateDir state;
    ReviewModel model;
};

Reviewed stage_and_review(Target& t, const std::vector<File>& files) {
    REQUIRE(t.receive(Stream(files).bytes()).exit_code == 0);
    auto state = StateDir::open(t.home().string());
    REQUIRE(state.ok());
    ExecQubesDb db(t.qubesdb_read());
    auto ids = state->pending_ids();
    REQUIRE(ids.ok());
    REQUIRE(ids->size() == 1);
    auto model = build_review(*state, db, ids->front());
    REQUIRE(model.ok());
    return {std::move(*state), std::move(*model)};
}

bool temporaries_left(const fs::path& home) {
    for (const auto& [path, value] : snapshot(home))
        if (path.find(".syncconfig-") != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("a destination replaced by a symlink after the review is refused at apply") {
    Target t;
    fs::create_directories(t.root() / "outside");
    spit(t.root() / "outside/target", "outside\n");
    auto [state, model] = stage_and_review(t, {{".bashrc", 0644, "new\n"}, {".config/a", 0644, "a\n"}});
    fs::create_symlink(t.root() / "outside/target", t.home() / ".bashrc");
    const auto before = snapshot(t.home(), ".local/state/syncconfig");
    auto status = run_transaction(state, to_transaction(model));
    CHECK_FALSE(status.ok());
    CHECK(slurp(t.root() / "outside/target") == "outside\n");
    CHECK(snapshot(t.home(), ".local/state/syncconfig") == before);  // .config/a not written either
    CHECK_FALSE(temporaries_left(t.home()));
}

TEST_CASE("a parent directory replaced by a symlink after the review is refused at apply") {
    Target t;
    fs::create_directories(t.root() / "outside/dir");
    fs::create_directories(t.home() / ".config");
    auto [state, model] = stage_and_review(t, {{".config/a", 0644, "a\n"}});
    fs::remove(t.home() / ".config");
    fs::create_symlink(t.root() / "outside/dir", t.home() / ".config");
    CHECK_FALSE(run_transaction(state, to_transaction(model)).ok());
    CHECK(fs::is_empty(t.root() / "outside/dir"));
}

TEST_CASE("a user edit after the review is a conflict: nothing of the transaction is applied") {
    Target t;
    auto [state, model] = stage_and_review(t, {{".bashrc", 0644, "new\n"}, {".config/a", 0644, "a\n"}});
    t.write_home(".config/a", "typed by the user after the review\n");
    auto status = run_transaction(state, to_transaction(model));
    CHECK_FALSE(status.ok());
    CHECK(status.error().code() == EAGAIN);
    CHECK_FALSE(fs::exists(t.home() / ".bashrc"));
    CHECK(slurp(t.home() / ".config/a") == "typed by the user after the review\n");
}

TEST_CASE("apply writes modes exactly, secrets 0600, and undo puts back the old bytes and modes") {
    Target t;
    t.write_home(".config/secret/token", "old-secret\n", 0640);
    auto [state, model] = stage_and_review(
        t, {{".local/bin/tool", 0755, "#!/bin/sh\n"}, {".config/secret/token", 0644, "new-secret\n"}});
    for (ReviewEntry& r : model.entries) r.selected = r.state != EntryState::refused;  // "replace" the conflict
    // The review shows secrets as size and hash only.
    const std::string text = render_review(model);
    CHECK(text.find("new-secret") == std::string::npos);
    CHECK(text.find("old-secret") == std::string::npos);
    CHECK(text.find("sha256 " + to_hex(sha256("new-secret\n"))) != std::string::npos);
    REQUIRE(run_transaction(state, to_transaction(model)).ok());
    CHECK((fs::status(t.home() / ".local/bin/tool").permissions() & fs::perms::all) == fs::perms(0755));
    CHECK((fs::status(t.home() / ".config/secret/token").permissions() & fs::perms::all) == fs::perms(0600));
    CHECK(slurp(t.home() / ".config/secret/token") == "new-secret\n");
    auto undo = plan_undo(state, false);
    REQUIRE(undo.ok());
    REQUIRE(run_transaction(state, *undo).ok());
    CHECK(slurp(t.home() / ".config/secret/token") == "old-secret\n");
    CHECK((fs::status(t.home() / ".config/secret/token").permissions() & fs::perms::all) == fs::perms(0640));
    CHECK_FALSE(fs::exists(t.home() / ".local/bin/tool"));
    CHECK_FALSE(temporaries_left(t.home()));
}
