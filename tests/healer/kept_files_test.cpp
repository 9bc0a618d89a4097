// The files dom0 keeps for a qube (firewall, notes) come back with the
// merged qubes, from their own volume only; a firewall that was recorded
// but cannot be given back holds its qube (qubesd would start it with no
// firewall: qubes/firewall.py load_defaults is "accept all").
#include <doctest/doctest.h>

#include <memory>

#include "healer/heal_common.h"
#include "healer/kept_files.h"
#include "qube-files/qube_files.h"
#include "shard_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;
namespace qf = reliant::qube_files;

namespace {

const std::string firewall = R"(<?xml version='1.0' encoding='UTF-8'?>
<firewall version="2">
  <rules>
    <rule>
      <properties>
        <property name="action">accept</property>
        <property name="dsthost">185.159.157.1</property>
      </properties>
    </rule>
    <rule>
      <properties>
        <property name="action">drop</property>
      </properties>
    </rule>
  </rules>
</firewall>
)";

qf::Qube as_stored(const Document& document, const std::string& name) {
    const Domain* domain = document.domain(name);
    REQUIRE(domain);
    return {uuid_key(*domain), name, domain->klass == "TemplateVM"};
}

// The volumes' mount points and the session's root; a save of `files`
// (qube -> {file -> bytes}) of one volume, as the last split made it.
struct Volumes {
    TempDir dir;
    Document session;  // the merged system, whose qubes the files are of
    explicit Volumes(const System& system) : session(*merge_all(system).merged) {
        fs::create_directories(root() / v1.name());
        fs::create_directories(root() / v2.name());
    }
    fs::path root() const { return dir / "volumes"; }
    void store(const VolumeId& volume,
               const std::map<std::string, std::map<std::string, std::string>>& files) const {
        const TempDir staging;
        std::vector<qf::Qube> qubes;
        for (const auto& [name, contents] : files) {
            qubes.push_back(as_stored(session, name));
            const fs::path directory = staging / qubes.back().directory_in_root();
            fs::create_directories(directory);
            for (const auto& [file, bytes] : contents) spit(directory / file, bytes);
        }
        fs::create_directories(root() / volume.name());
        auto saved = qf::save(root() / volume.name(), staging.path(), qubes);
        REQUIRE(saved);
        REQUIRE(saved->problems.empty());
    }
    fs::path stored(const VolumeId& volume) const { return root() / volume.name() / "qube-files"; }
};

struct Restored {
    MergeResult merge;
    KeptFilesRestored kept;
    TempDir root;
    fs::path in_root(const std::string& path) const { return root / path; }
    const Domain& qube(const std::string& name) const { return *merge.merged->domain(name); }
    bool held(const std::string& name) const { return qube(name).feature("prohibit-start") != nullptr; }
};

std::unique_ptr<Restored> merge_and_restore(const System& system, const Volumes& volumes) {
    auto restored = std::make_unique<Restored>();
    restored->merge = merge_all(system);
    REQUIRE(restored->merge.merged);
    restored->kept = restore_kept_files(*restored->merge.merged, restored->merge.report, volumes.root(),
                                        restored->root.path());
    return restored;
}

const std::string appvms = "var/lib/qubes/appvms/";

}  // namespace

TEST_CASE("kept files: firewall and notes of merged qubes are in the root before qubesd starts") {
    const System system = small_system();
    Volumes volumes(system);
    volumes.store(v1, {{"sys-vpn", {{"firewall.xml", firewall}, {"notes.txt", "kill switch\n"}}},
                                {"kicksecure-17", {{"notes.txt", "template notes\n"}}}});
    volumes.store(v2, {{"press", {{"firewall.xml", firewall}}}});

    const auto restored = merge_and_restore(system, volumes);
    CHECK(restored->kept.placed == 4);
    CHECK(restored->kept.held == 0);
    CHECK(slurp(restored->in_root(appvms + "sys-vpn/firewall.xml")) == firewall);
    CHECK(slurp(restored->in_root(appvms + "sys-vpn/notes.txt")) == "kill switch\n");
    CHECK(slurp(restored->in_root("var/lib/qubes/vm-templates/kicksecure-17/notes.txt")) == "template notes\n");
    CHECK(slurp(restored->in_root(appvms + "press/firewall.xml")) == firewall);
    CHECK_FALSE(restored->held("sys-vpn"));
    CHECK_FALSE(restored->held("press"));
    // Every merged qube has its directory (qvm-firewall and qvm-notes write
    // there); the base's qubes have theirs on the base.
    CHECK(fs::is_directory(restored->in_root(appvms + "scratch")));
    CHECK(fs::is_directory(restored->in_root(appvms + "disp-fieldwork")));
    CHECK(fs::is_directory(restored->in_root("var/lib/qubes/vm-templates/kicksecure-17")));
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "personal")));
}

TEST_CASE("kept files: a recorded firewall that cannot be given back holds the qube, and lost notes do not") {
    System system = small_system();
    Volumes volumes(system);
    volumes.store(v1, {{"sys-vpn", {{"firewall.xml", firewall}, {"notes.txt", "kill switch\n"}}},
                                {"scratch", {{"firewall.xml", firewall}}}});
    const std::string vpn = uuid_key(*volumes.session.domain("sys-vpn"));

    SUBCASE("missing") {
        fs::remove(volumes.stored(v1) / vpn / "firewall.xml.1");
        fs::remove(volumes.stored(v1) / vpn / "notes.txt.1");
    }
    SUBCASE("truncated") {
        spit(volumes.stored(v1) / vpn / "firewall.xml.1", firewall.substr(0, 40));
        spit(volumes.stored(v1) / vpn / "notes.txt.1", "kill");
    }
    SUBCASE("replaced by a symlink to a permissive firewall elsewhere") {
        const fs::path elsewhere = volumes.dir / "open.xml";
        spit(elsewhere, "<firewall version=\"2\"><rules/></firewall>");
        fs::remove(volumes.stored(v1) / vpn / "firewall.xml.1");
        fs::create_symlink(elsewhere, volumes.stored(v1) / vpn / "firewall.xml.1");
        fs::remove(volumes.stored(v1) / vpn / "notes.txt.1");
    }
    const auto restored = merge_and_restore(system, volumes);
    CHECK(restored->kept.held == 1);
    CHECK(restored->held("sys-vpn"));
    CHECK(restored->qube("sys-vpn").feature("prohibit-start")->value.find("no firewall at all") != std::string::npos);
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "sys-vpn/firewall.xml")));
    const ShardOutcome* outcome = outcome_of(restored->merge.report, "sflc_0_1");
    REQUIRE(outcome);
    const Change* review = change_for(*outcome, "sys-vpn", "firewall.xml");
    REQUIRE(review);
    CHECK(review->kind == "review");
    const Change* notes = change_for(*outcome, "sys-vpn", "notes.txt");
    REQUIRE(notes);
    CHECK(notes->kind == "kept-files");
    // The other qube of the volume is not touched by it.
    CHECK_FALSE(restored->held("scratch"));
    CHECK(slurp(restored->in_root(appvms + "scratch/firewall.xml")) == firewall);
}

TEST_CASE("kept files: a firewall qubesd would not load holds the qube, and is not placed") {
    System system = small_system();
    Volumes volumes(system);
    volumes.store(v2, {{"press", {{"firewall.xml", "<firewall version=\"3\"/>"}}}});
    const auto restored = merge_and_restore(system, volumes);
    CHECK(restored->held("press"));
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "press/firewall.xml")));
}

TEST_CASE("kept files: a manifest that cannot be read holds every qube of its volume, and only those") {
    System system = small_system();
    Volumes volumes(system);
    volumes.store(v1, {{"sys-vpn", {{"firewall.xml", firewall}}}});
    volumes.store(v2, {{"press", {{"firewall.xml", firewall}}}});
    spit(volumes.stored(v1) / "manifest", "reliant-qube-files 1\ngarbage\n");
    const auto restored = merge_and_restore(system, volumes);
    const ShardOutcome* outcome = outcome_of(restored->merge.report, "sflc_0_1");
    REQUIRE(outcome);
    CHECK(restored->kept.held == outcome->qubes);
    for (const char* name : {"sys-vpn", "scratch", "dvm-hidden", "kicksecure-17", "intake", "disp-fieldwork"}) {
        CAPTURE(name);
        CHECK(restored->held(name));
    }
    CHECK_FALSE(restored->held("press"));
    CHECK(slurp(restored->in_root(appvms + "press/firewall.xml")) == firewall);
}

TEST_CASE("kept files: a volume hands out files only for its own merged qubes") {
    System system = small_system();
    Volumes volumes(system);
    // Volume 2's writer stores files under the uuids of a base qube and of a
    // qube of volume 1: a permissive firewall for sys-firewall, notes for sys-vpn.
    volumes.store(v2, {{"press", {{"firewall.xml", firewall}}},
                                {"sys-firewall", {{"firewall.xml", "<firewall version=\"2\"><rules/></firewall>"}}},
                                {"sys-vpn", {{"notes.txt", "planted\n"}}}});
    const auto restored = merge_and_restore(system, volumes);
    CHECK(restored->kept.placed == 1);
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "sys-firewall")));
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "sys-vpn/notes.txt")));  // its directory, made empty
}

TEST_CASE("kept files: a frozen shard's files stay on its volume, and a volume from before the store says so") {
    System system = small_system();
    Volumes volumes(system);
    volumes.store(v2, {{"press", {{"firewall.xml", firewall}}}});
    edit_shard(system, v2, "<domains>", "<domains><domain/>");  // not loadable: frozen
    const auto restored = merge_and_restore(system, volumes);
    REQUIRE(outcome_of(restored->merge.report, "sflc_0_2")->status == "frozen");
    CHECK_FALSE(fs::exists(restored->in_root(appvms + "press")));
    const ShardOutcome* first = outcome_of(restored->merge.report, "sflc_0_1");
    const Change* note = change_for(*first, "", "qube-files");
    REQUIRE(note);
    CHECK(note->kind == "kept-files");
    CHECK(restored->kept.held == 0);
}

TEST_CASE("kept files: firewall.xml as qubesd loads it, read as hostile XML") {
    const char* loadable[] = {
        firewall.c_str(),
        "<firewall version=\"2\"><rules/></firewall>",
        "<firewall policy=\"deny\" dns=\"allow\"><ipv4 address=\"10.0.0.1\"/></firewall>",
        "<firewall version=\"1\" policy=\"allow\"/>",
    };
    for (const char* text : loadable) {
        CAPTURE(text);
        CHECK(firewall_loadable(text));
    }
    const std::pair<const char*, std::string> refused[] = {
        {"not XML", "accept all"},
        {"another root", "<rules/>"},
        {"version 3", "<firewall version=\"3\"><rules/></firewall>"},
        {"version 2 without rules", "<firewall version=\"2\"/>"},
        {"a comment among the rules", "<firewall version=\"2\"><rules><!-- x --><rule/></rules></firewall>"},
        {"something else among the rules", "<firewall version=\"2\"><rules><allow/></rules></firewall>"},
        {"version 1 without a policy", "<firewall/>"},
        {"version 1 with another policy", "<firewall policy=\"open\"/>"},
        {"a document type (entities)",
         "<!DOCTYPE firewall [<!ENTITY a \"b\">]><firewall version=\"2\"><rules/></firewall>"},
        {"a NUL byte", std::string("<firewall version=\"2\"><rules/></firewall>\0", 42)},
        {"larger than reliant keeps",
         "<firewall version=\"2\"><rules>" + std::string(1u << 20, ' ') + "</rules></firewall>"},
    };
    for (const auto& [description, input] : refused) {
        const std::string what = description;
        const std::string text = input;
        CAPTURE(what);
        CHECK_FALSE(firewall_loadable(text));
    }
}
