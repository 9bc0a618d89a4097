// Repairing a frozen shard (healer/repair.h, reliant-healer repair): the
// everyday case is a name collision. A maintenance or decoy session creates
// a base qube with the name a hidden qube has (nothing there can know it);
// the next full boot freezes the hidden volume. The user renames the hidden
// qube on its volume, and the next boot merges it.
#include <doctest/doctest.h>

#include "healer/references.h"
#include "healer/repair.h"
#include "healer_cli_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;
using reliant::testing::slurp;
using reliant::testing::spit;

namespace {

// The base with a new qube named `name` (a copy of default-dvm with its own
// uuid, qid and volumes), as qvm-create in a maintenance session saves it.
Document base_with_qube(const Document& base, const std::string& name) {
    Document changed = base;
    Domain qube = *base.domain("default-dvm");
    qube.set_property("name", name);
    qube.set_property("uuid", std::string("d00dd00d-1111-4222-8333-444455556666"));
    qube.set_property("qid", std::string("99"));
    qube.id = "domain-99";
    for (Volume& volume : *qube.volume_config)
        if (const std::string* vid = volume.attributes.get("vid"); vid && vid->starts_with("qubes_dom0/vm-default-dvm-"))
            volume.attributes.set("vid", "qubes_dom0/vm-" + name + vid->substr(std::string("qubes_dom0/vm-default-dvm").size()));
    changed.domains.push_back(std::move(qube));
    return changed;
}

Shard read_v1(const System& system) {
    ShardRead read = read_shard(system.shards.at(v1), v1);
    REQUIRE(read.shard);
    return std::move(*read.shard);
}

}  // namespace

TEST_CASE("repair: rename follows every mention within the shard, and the shard merges again") {
    System system = small_system();
    system.base = base_with_qube(system.base, "dvm-hidden");
    MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    REQUIRE(outcome_of(result.report, "sflc_0_1")->status == "frozen");
    CHECK(outcome_of(result.report, "sflc_0_1")->reasons.front() ==
          "'dvm-hidden' has a name the base or a lower volume already uses");

    Shard shard = read_v1(system);
    Domain* intake = shard.content.domain("intake");
    REQUIRE(intake);
    intake->tags.push_back(Tag{std::string("created-by-dvm-hidden"), 0});
    const auto changed = repair_shard(shard, {RepairAction::Kind::rename, "dvm-hidden", "dvm-field"});
    REQUIRE(changed.ok());
    CHECK(changed->lines.front() == "renamed 'dvm-hidden' to 'dvm-field', and 3 mention(s) of it in the shard");
    // Its directory in the volume's pool moves with it; the snapshots made
    // at start in the base's pool take the name qubesd derives.
    REQUIRE(changed->moves.size() == 1);
    CHECK(changed->moves[0].pool_dir == "/run/shufflecake/sflc_0_1/pool");
    CHECK(changed->moves[0].from == "appvms/dvm-hidden");
    CHECK(changed->moves[0].to == "appvms/dvm-field");
    system.shards[v1] = serialize_shard(shard);
    CHECK(system.shards[v1].find("dvm-hidden") == std::string::npos);
    CHECK(system.shards[v1].find("vid=\"qubes_dom0/vm-dvm-field-root\"") != std::string::npos);
    CHECK(system.shards[v1].find("source=\"appvms/dvm-field/private\"") != std::string::npos);  // disp-fieldwork's

    result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    CHECK(result.merged->domain("disp-fieldwork")->value("template") == "dvm-field");
    CHECK(result.merged->domain("intake")->value("default_dispvm") == "dvm-field");
    CHECK(result.merged->domain("dvm-hidden")->value("uuid") == "d00dd00d-1111-4222-8333-444455556666");
    CHECK(loads(*result.merged));
}

TEST_CASE("repair: what cannot hold is refused, and the shard stays as it was") {
    const System system = small_system();
    Shard shard = read_v1(system);
    const std::string before = serialize_shard(shard);
    const auto refused = [&](RepairAction action, int code, const std::string& words) {
        CAPTURE(action.qube);
        const auto result = repair_shard(shard, action);
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().code() == code);
        CHECK_MESSAGE(result.error().describe().find(words) != std::string::npos, result.error().describe());
        CHECK(serialize_shard(shard) == before);
    };
    refused({RepairAction::Kind::rename, "nobody", "x"}, ENOENT, "no qube named 'nobody'");
    refused({RepairAction::Kind::rename, "scratch", "intake"}, EEXIST, "already has a qube named 'intake'");
    refused({RepairAction::Kind::rename, "scratch", "../etc"}, EINVAL, "no valid qube name");
    refused({RepairAction::Kind::drop, "dvm-hidden", ""}, EBUSY, "still used by disp-fieldwork (template)");
    refused({RepairAction::Kind::drop, "nobody", ""}, ENOENT, "no qube named 'nobody'");
}

TEST_CASE("repair: drop takes a qube out of the shard with the mentions of it") {
    const System system = small_system();
    Shard shard = read_v1(system);
    const auto changed = repair_shard(shard, {RepairAction::Kind::drop, "disp-fieldwork", ""});
    REQUIRE(changed.ok());
    CHECK(shard.content.domain("disp-fieldwork") == nullptr);
    CHECK(read_shard(serialize_shard(shard), v1).shard);
}

TEST_CASE("rename_references: properties, tags, name features and device backends") {
    Document document = parse(slurp(small_fixture_path));
    Domain domain = *document.domain("intake");
    domain.tags.push_back(Tag{std::string("created-by-old"), 0});
    domain.tags.push_back(Tag{std::string("created-by-older"), 0});
    domain.set_property("netvm", std::string("old"));
    domain.set_feature("preferred-tray-vms", "a old b");  // not a name feature: untouched
    int name_features = 0;
    for (Feature& feature : domain.features)
        if (feature.name && is_name_feature(*feature.name)) ++name_features;
    CHECK(rename_references(domain, "old", "new") == 2);
    CHECK(domain.value("netvm") == "new");
    CHECK(std::any_of(domain.tags.begin(), domain.tags.end(), [](const Tag& t) { return t.name == "created-by-new"; }));
    CHECK(std::any_of(domain.tags.begin(), domain.tags.end(), [](const Tag& t) { return t.name == "created-by-older"; }));
    CHECK(name_features == 0);
}

TEST_CASE("reliant-healer repair: only a shard frozen this boot, written atomically with the old one kept") {
    Layout layout;
    // The boot: the base has a new qube named like a hidden one; merge freezes volume 1.
    const Document base = base_with_qube(parse(slurp(layout.base)), "dvm-hidden");
    spit(layout.base, serialize(base));
    const auto merged = layout.run / "qubes.xml";
    const auto report = layout.run / "heal-report.json";
    const auto merge = [&] {
        return healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                           "--volume-root", "/run/shufflecake", "--out", merged.string(), "--report", report.string()});
    };
    REQUIRE(merge().out.find("1 shard(s) merged, 1 frozen") != std::string::npos);
    const auto repair = [&](std::vector<std::string> operands) {
        std::vector<std::string> words{"repair", "--shard-root", layout.shards.string(), "--merge-report", report.string()};
        words.insert(words.end(), operands.begin(), operands.end());
        return healer_run(words);
    };
    const auto shard = layout.shards / "sflc_0_1" / "qubes.xml";
    const std::string frozen_bytes = slurp(shard);

    // Refusals write nothing.
    Run run = repair({"sflc_0_2", "rename", "press", "press-2"});
    CHECK(run.status == 1);
    CHECK(run.err.find("sflc_0_2 was merged at boot") != std::string::npos);
    run = repair({"sflc_0_3", "drop", "x"});
    CHECK(run.status == 1);
    CHECK(run.err.find("was not open at boot") != std::string::npos);
    CHECK(repair({"sflc_0_1", "rename", "dvm-hidden"}).status == 2);
    CHECK(repair({"volume1", "drop", "x"}).status == 2);
    run = repair({"sflc_0_1", "rename", "dvm-hidden", "scratch"});
    CHECK(run.status == 1);
    CHECK(run.err.find("nothing written") != std::string::npos);
    CHECK(slurp(shard) == frozen_bytes);
    CHECK_FALSE(std::filesystem::exists(shard.parent_path() / "qubes.xml.before-repair"));

    // The qube's data in the volume's pool (pool dir_path /run/shufflecake/sflc_0_1/pool).
    const auto appvms = layout.shards / "sflc_0_1" / "pool" / "appvms";
    std::filesystem::create_directories(appvms / "dvm-hidden");
    spit(appvms / "dvm-hidden" / "private.img", "the qube's data");
    // Something already where the directory would go: refused, nothing moved or written.
    std::filesystem::create_directories(appvms / "dvm-field");
    run = repair({"sflc_0_1", "rename", "dvm-hidden", "dvm-field"});
    CHECK(run.status == 1);
    CHECK(run.err.find("is already there") != std::string::npos);
    CHECK(slurp(shard) == frozen_bytes);
    CHECK(slurp(appvms / "dvm-hidden" / "private.img") == "the qube's data");
    std::filesystem::remove(appvms / "dvm-field");

    run = repair({"sflc_0_1", "rename", "dvm-hidden", "dvm-field"});
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(run.out.find("sflc_0_1: renamed 'dvm-hidden' to 'dvm-field'") != std::string::npos);
    CHECK(run.out.find("its volumes move with it: /run/shufflecake/sflc_0_1/pool/appvms/dvm-hidden -> appvms/dvm-field") !=
          std::string::npos);
    CHECK(slurp(appvms / "dvm-field" / "private.img") == "the qube's data");
    CHECK_FALSE(std::filesystem::exists(appvms / "dvm-hidden"));
    CHECK(slurp(shard.parent_path() / "qubes.xml.before-repair") == frozen_bytes);
    // Run again after an interruption between the move and the write (the
    // shard as before, the directory moved): it completes.
    const std::string repaired_once = slurp(shard);
    spit(shard, frozen_bytes);
    run = repair({"sflc_0_1", "rename", "dvm-hidden", "dvm-field"});
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(slurp(shard) == repaired_once);
    CHECK(slurp(appvms / "dvm-field" / "private.img") == "the qube's data");
    CHECK((std::filesystem::status(shard).permissions() & std::filesystem::perms::all) == std::filesystem::perms(0600));
    // The next boot merges it.
    run = merge();
    CHECK(run.out.find("2 shard(s) merged, 0 frozen") != std::string::npos);

    // A shard that is a link, or not a shard at all, is not edited.
    spit(report, R"({"operation":"merge","shards":[{"volume":"sflc_0_1","status":"frozen"}]})");
    const std::string repaired = slurp(shard);
    std::filesystem::rename(shard, layout.dir / "elsewhere.xml");
    std::filesystem::create_symlink(layout.dir / "elsewhere.xml", shard);
    run = repair({"sflc_0_1", "drop", "intake"});
    CHECK(run.status == 1);
    CHECK(std::filesystem::is_symlink(shard));
    CHECK(slurp(layout.dir / "elsewhere.xml") == repaired);
    std::filesystem::remove(shard);
    spit(shard, "<qubes>not a shard");
    run = repair({"sflc_0_1", "drop", "intake"});
    CHECK(run.status == 1);
    CHECK(run.err.find("is not a shard repair can edit") != std::string::npos);
    CHECK(slurp(shard) == "<qubes>not a shard");
}
