// Merge and split, rule by rule (docs/shards.md), on the small fixture:
// base templates debian-12-xfce, fedora-41-xfce, ...; volume sflc_0_1 holds
// sys-vpn, scratch, dvm-hidden, kicksecure-17, intake, disp-fieldwork;
// sflc_0_2 holds sys-proton and press.
#include <doctest/doctest.h>

#include <algorithm>

#include "healer/heal_common.h"
#include "healer/references.h"
#include "healer/shard.h"
#include "shard_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

const std::string large_fixture = reliant::testing::test_data_dir() + "/fixtures/system-large.xml";

const std::set<std::string> hidden_v1 = {"sys-vpn",       "scratch", "dvm-hidden",
                                         "kicksecure-17", "intake",  "disp-fieldwork"};
const std::set<std::string> hidden_v2 = {"sys-proton", "press"};

// `qube` may not start until reviewed (prohibit-start, its text holding
// `why`), and the report of `volume` records a change of `kind` to `field`.
void check_held_for_review(const MergeResult& result, const std::string& volume, const std::string& qube,
                           const std::string& field, const std::string& kind, const std::string& why = "") {
    CAPTURE(qube);
    const Domain* domain = result.merged->domain(qube);
    REQUIRE(domain);
    const Feature* prohibit = domain->feature("prohibit-start");
    REQUIRE(prohibit);
    CHECK_MESSAGE(prohibit->value.find(why) != std::string::npos, prohibit->value);
    const Change* change = change_for(*outcome_of(result.report, volume), qube, field);
    REQUIRE(change);
    CHECK(change->kind == kind);
}

}  // namespace

TEST_CASE("round trip: split then merge gives back the input, byte for byte") {
    for (const std::string& path : {small_fixture_path, large_fixture}) {
        CAPTURE(path);
        const std::string original = reliant::testing::slurp(path);
        const System system = split_system(parse(original));
        MergeOptions options = merge_options();
        options.new_qubes = NewQubes::base;  // default_pool as the input has it (new_qubes_test.cpp)
        const MergeResult merged = merge_all(system, options);
        REQUIRE(merged.merged);
        CHECK(merged.report.count("frozen") == 0);
        CHECK(serialize(*merged.merged) == original);
    }
}

TEST_CASE("idempotent: merging twice and splitting the merged output again change nothing") {
    const System system = small_system();
    MergeOptions options = merge_options();
    options.new_qubes = NewQubes::base;  // split without the boot's report here (new_qubes_test.cpp has it)
    const MergeResult first = merge_all(system, options);
    const MergeResult second = merge_all(system, options);
    REQUIRE(first.merged);
    REQUIRE(second.merged);
    CHECK(serialize(*first.merged) == serialize(*second.merged));
    const System again = split_system(*first.merged);
    CHECK(serialize(again.base) == serialize(system.base));
    CHECK(again.shards == system.shards);
}

TEST_CASE("split: shards carry their pools, labels, qubes, qid range and references with uuids") {
    const System system = small_system();
    REQUIRE(system.shards.size() == 2);
    const ShardRead read = read_shard(system.shards.at(v2), v2);
    REQUIRE(read.shard);
    const Shard& shard = *read.shard;
    CHECK(shard.qid_range == QidRange{3072, 3583});
    CHECK(qube_names(shard.content) == hidden_v2);
    REQUIRE(shard.content.pools.size() == 1);
    CHECK(*shard.content.pools[0].name() == "sflc_0_2");
    std::set<std::string> referenced;
    std::map<std::string, std::string> defaults;  // global -> the qube it named
    for (const auto& reference : shard.references) {
        if (reference.default_of.empty())
            referenced.insert(reference.name);
        else
            defaults[reference.default_of] = reference.name;
        CHECK(reference.uuid == uuid_key(*parse_file(small_fixture_path).domain(reference.name)));
    }
    CHECK(referenced == std::set<std::string>{"debian-12-xfce", "sys-firewall"});
    // press leaves default_dispvm at its default: the base's default_dispvm.
    CHECK(defaults == std::map<std::string, std::string>{{"default_dispvm", "default-dvm"}});
    CHECK(shard.content.properties.empty());
}

TEST_CASE("split: the base names no hidden qube, pool or volume and loads on its own") {
    const System system = small_system();
    const std::string base = serialize(system.base);
    for (const auto& name : hidden_v1) CHECK_MESSAGE(base.find(">" + name + "<") == std::string::npos, name);
    for (const auto& name : hidden_v2) CHECK_MESSAGE(base.find(">" + name + "<") == std::string::npos, name);
    CHECK(base.find("sflc_") == std::string::npos);
    CHECK(loads(system.base));
}

TEST_CASE("duress: the base alone, or with the decoy volume only, loads and shows nothing hidden") {
    const System system = small_system();
    const MergeResult decoy = merge(system.base, {}, merge_options());
    REQUIRE(decoy.merged);
    CHECK(loads(*decoy.merged));
    CHECK(qube_names(*decoy.merged) == qube_names(system.base));
    const MergeResult lower = merge(system.base, system.inputs({v1}), merge_options());
    REQUIRE(lower.merged);
    const std::string bytes = serialize(*lower.merged);
    for (const auto& name : hidden_v2) CHECK(bytes.find(name) == std::string::npos);
    CHECK(bytes.find("sflc_0_2") == std::string::npos);
}

TEST_CASE("split: base references into a volume are reported and replaced by defaults") {
    Document whole = parse_file(small_fixture_path);
    Domain* work = whole.domain("work");
    REQUIRE(work);
    work->set_property("netvm", "sys-vpn");
    work->set_property("default_dispvm", "dvm-hidden");
    work->tags.push_back(Tag{"created-by-intake", 0});
    whole.properties.push_back(Property{"default_netvm", "sys-vpn", std::nullopt, 0});
    // Keep the first default_netvm out of the way: the last one wins.
    const SplitResult result = split(whole, {}, std::nullopt, split_options());
    REQUIRE(result.base);
    const Domain* base_work = result.base->domain("work");
    REQUIRE(base_work);
    // None, never the default: that would route work around its VPN.
    REQUIRE(base_work->property("netvm"));
    CHECK_FALSE(base_work->value("netvm"));
    REQUIRE(base_work->property("default_dispvm"));
    CHECK_FALSE(base_work->value("default_dispvm"));
    CHECK(std::none_of(base_work->tags.begin(), base_work->tags.end(),
                       [](const Tag& t) { return t.name == "created-by-intake"; }));
    CHECK(result.base->value("default_netvm") != std::optional<std::string>("sys-vpn"));
    CHECK(serialize(*result.base).find("sys-vpn") == std::string::npos);
    CHECK(loads(*result.base));
    CHECK(result.report.base_changes.size() >= 4);
}

TEST_CASE("split: a reference to a higher volume is confined, to a lower one it is kept") {
    Document whole = parse_file(small_fixture_path);
    whole.domain("scratch")->set_property("netvm", "sys-proton");  // v1 -> v2: not always open together
    whole.domain("press")->set_property("default_dispvm", "dvm-hidden");  // v2 -> v1: fine
    const SplitResult result = split(whole, {}, std::nullopt, split_options());
    REQUIRE(result.shards.size() == 2);
    const Domain* scratch = nullptr;
    const Domain* press = nullptr;
    for (const Shard& shard : result.shards) {
        if (!scratch) scratch = shard.content.domain("scratch");
        if (!press) press = shard.content.domain("press");
    }
    REQUIRE(scratch);
    REQUIRE(press);
    // Offline in v1's shard (never the default netvm, the clearnet); v2's
    // shard keeps the VPN for it (references_up_test.cpp).
    REQUIRE(scratch->property("netvm"));
    CHECK_FALSE(scratch->value("netvm"));
    CHECK(press->value("default_dispvm") == "dvm-hidden");
}

TEST_CASE("precedence: a name the base has freezes the shard, among shards the lower volume wins") {
    System system = small_system();
    edit_shard(system, v2, "<property name=\"name\">press</property>",
               "<property name=\"name\">work</property>");
    MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "frozen");
    CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");

    System clash = small_system();
    edit_shard(clash, v2, "<property name=\"name\">press</property>",
               "<property name=\"name\">intake</property>");
    result = merge_all(clash);
    CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "frozen");
    CHECK(loads(*result.merged));
}

TEST_CASE("qids: a collision moves the shard's qube into its range, and the report names the new IP") {
    System system = small_system();
    edit_shard(system, v2, "<property name=\"qid\">21</property>",
               "<property name=\"qid\">11</property>");  // work's
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    const Domain* press = result.merged->domain("press");
    REQUIRE(press);
    CHECK(press->value("qid") == "3072");
    CHECK(press->id == "domain-3072");
    CHECK(result.merged->domain("work")->value("qid") == "11");
    const Change* change = change_for(*outcome_of(result.report, "sflc_0_2"), "press", "qid");
    REQUIRE(change);
    CHECK(change->note == "IP 10.137.0.11 -> 10.137.12.24");
    CHECK(loads(*result.merged));
}

TEST_CASE("dispids: a collision gets a new dispid in the shard's range") {
    System system = small_system();
    edit_shard(system, v1, "<property name=\"dispid\">6725</property>",
               "<property name=\"dispid\">4414</property>");  // sys-usb's
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.merged->domain("disp-fieldwork")->value("dispid") == "2560");
    CHECK(result.merged->domain("sys-usb")->value("dispid") == "4414");
    CHECK(change_for(*outcome_of(result.report, "sflc_0_1"), "disp-fieldwork", "dispid"));
}

TEST_CASE("fix (1): a base template renamed in maintenance mode is followed by uuid") {
    System system = small_system();
    edit_base(system, ">debian-12-xfce<", ">debian-12-minimal<");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    for (const char* qube : {"sys-vpn", "dvm-hidden", "press", "sys-proton"}) {
        CAPTURE(qube);
        const Domain* domain = result.merged->domain(qube);
        REQUIRE(domain);
        CHECK(domain->value("template") == "debian-12-minimal");
        CHECK_FALSE(domain->feature("prohibit-start"));  // a rename is safe: nothing to review
    }
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "press", "template")->kind ==
          "renamed-reference");
    CHECK(loads(*result.merged));
}

TEST_CASE("fix (2): a missing template becomes the newest of its family, with prohibit-start") {
    System system = small_system();
    // fedora-41-xfce is replaced by a new template, fedora-42-xfce (another uuid, other volumes).
    edit_base(system, "fedora-41-xfce", "fedora-42-xfce");
    const std::string base = serialize(system.base);
    const Domain* fedora = system.base.domain("fedora-42-xfce");
    REQUIRE(fedora);
    const std::string old_uuid = *fedora->value("uuid");
    system.base = parse(replace_all(base, old_uuid, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"));
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    const Domain* scratch = result.merged->domain("scratch");
    REQUIRE(scratch);
    CHECK(scratch->value("template") == "fedora-42-xfce");
    REQUIRE(scratch->feature("prohibit-start"));
    CHECK(scratch->feature("prohibit-start")->value.find("fedora-41-xfce") != std::string::npos);
    const Volume* root = nullptr;
    for (const Volume& volume : *scratch->volume_config)
        if (*volume.name() == "root") root = &volume;
    REQUIRE(root);
    CHECK(*root->attributes.get("source") == "qubes_dom0/vm-fedora-42-xfce-root");
    CHECK(loads(*result.merged));
}

TEST_CASE("fix (2): a missing netvm becomes none, never another netvm, other references the default") {
    System system = small_system();
    edit_shard(system, v2, "<property name=\"netvm\">sys-firewall</property>",
               "<property name=\"netvm\">sys-tor</property>");
    edit_shard(system, v1, "<property name=\"default_dispvm\">dvm-hidden</property>",
               "<property name=\"default_dispvm\">dvm-gone</property>");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    const Domain* proton = result.merged->domain("sys-proton");
    REQUIRE(proton->property("netvm"));
    CHECK_FALSE(proton->property("netvm")->value());  // empty: None
    CHECK(proton->feature("prohibit-start"));
    const Domain* intake = result.merged->domain("intake");
    CHECK_FALSE(intake->property("default_dispvm"));  // absent: the default
    CHECK(intake->feature("prohibit-start"));
    CHECK(loads(*result.merged));
}

// References are by identity (docs/shards.md): the shard records the uuid of
// every qube outside it that its qubes name, and of the qubes the base's
// default_netvm and default_dispvm named for qubes that leave those at
// their defaults.
const std::string firewall_uuid = "28ce6f24-1064-4d51-86f8-da3eabe19f58";
const std::string debian_uuid = "94b2b8fd-a02f-44a6-b95b-929e9a9a80fd";
const std::string default_dvm_uuid = "0af438d2-9752-4d6a-b51e-8722c21b6092";

TEST_CASE("identity: a netvm replaced by another qube of the same name is broken: offline, prohibit-start") {
    System system = small_system();
    // Maintenance mode: sys-firewall removed and recreated (same name, another uuid).
    edit_base(system, firewall_uuid, "28ce6f24-1064-4d51-86f8-000000000001");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    // sys-proton names sys-firewall itself.
    const Domain* proton = result.merged->domain("sys-proton");
    REQUIRE(proton->property("netvm"));
    CHECK_FALSE(proton->property("netvm")->value());
    REQUIRE(proton->feature("prohibit-start"));
    CHECK(proton->feature("prohibit-start")->value.find("sys-firewall is now another qube") != std::string::npos);
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "sys-proton", "netvm")->kind == "heuristic");
    // intake leaves netvm at its default, the base's default_netvm, sys-firewall.
    const Domain* intake = result.merged->domain("intake");
    REQUIRE(intake->property("netvm"));
    CHECK_FALSE(intake->property("netvm")->value());
    CHECK(intake->feature("prohibit-start"));
    const Change* changed = change_for(*outcome_of(result.report, "sflc_0_1"), "intake", "netvm");
    REQUIRE(changed);
    CHECK(changed->kind == "changed-default");
    CHECK(changed->from == "sys-firewall");
    CHECK(loads(*result.merged));

    // Without heuristics the reference is not rebound either: frozen.
    MergeOptions none = merge_options();
    none.fixes = FixPolicy{true, false};
    const MergeResult frozen = merge_all(system, none);
    const ShardOutcome* v2_outcome = outcome_of(frozen.report, "sflc_0_2");
    CHECK(v2_outcome->status == "frozen");
    CHECK(v2_outcome->reasons ==
          std::vector<std::string>{"'sys-proton' refers to netvm 'sys-firewall', which is now another qube"});
    CHECK(outcome_of(frozen.report, "sflc_0_1")->status == "frozen");
}

TEST_CASE("identity: unchanged references and defaults set no prohibit-start") {
    const System system = small_system();
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    for (const Domain& domain : result.merged->domains) {
        CAPTURE(domain.qube_name().value_or(""));
        CHECK_FALSE(domain.feature("prohibit-start"));
    }
    for (const ShardOutcome& outcome : result.report.shards) CHECK(outcome.changes.empty());
}

TEST_CASE("identity: a template replaced under its name keeps it, reviewed, and so is a named DispVM on it") {
    System system = small_system();
    edit_base(system, debian_uuid, "94b2b8fd-a02f-44a6-b95b-000000000001");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    for (const char* qube : {"sys-vpn", "dvm-hidden", "press", "sys-proton"}) {
        CAPTURE(qube);
        const Domain* domain = result.merged->domain(qube);
        CHECK(domain->value("template") == "debian-12-xfce");
        REQUIRE(domain->feature("prohibit-start"));
        CHECK(domain->feature("prohibit-start")->value.find("template debian-12-xfce is now another qube") !=
              std::string::npos);
    }
    // disp-fieldwork (a named DispVM) runs dvm-hidden's template.
    check_held_for_review(result, "sflc_0_1", "disp-fieldwork", "template", "review",
                          "dvm-hidden is now based on another template");
    CHECK(loads(*result.merged));
}

TEST_CASE("identity: after a heuristic template replacement a named DispVM is reviewed and follows") {
    System system = small_system();
    // debian-12-xfce replaced by debian-13-xfce (another uuid, other volumes).
    edit_base(system, "debian-12-xfce", "debian-13-xfce");
    edit_base(system, debian_uuid, "94b2b8fd-a02f-44a6-b95b-000000000002");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("frozen") == 0);
    const Domain* dvm = result.merged->domain("dvm-hidden");
    CHECK(dvm->value("template") == "debian-13-xfce");
    CHECK(dvm->feature("prohibit-start"));
    const Domain* disposable = result.merged->domain("disp-fieldwork");
    CHECK(disposable->value("template") == "dvm-hidden");
    REQUIRE(disposable->feature("prohibit-start"));
    for (const Volume& volume : *disposable->volume_config)
        if (*volume.name() == "root") CHECK(*volume.attributes.get("source") == "qubes_dom0/vm-debian-13-xfce-root");
    CHECK(loads(*result.merged));
}

// A named DispVM runs on its disposable template's template, one link
// further than its own reference. Merge needs no record of that link: the
// DispVM's private volume is a snapshot of its disposable template's, in the
// same pool (qubesd looks a written source up in the volume's own pool,
// Storage.init_volume, and gives a DispVM's private a source from the chain,
// which a volume that is not snap_on_start may not have), so a DispVM lies
// on its disposable template's volume, where that qube's own reference
// shows a change of template. A hand-made shard that puts disp-fieldwork on
// default-dvm, a disposable template of the base, does not load in qubesd:
// frozen, with the reason.
TEST_CASE("identity: a shard's named DispVM on a base disposable template is frozen") {
    const struct {
        const char* layout;
        std::string private_volume;
        std::string reason;
    } layouts[] = {
        {"its private a snapshot of default-dvm's, in the shard's pool",
         "<volume name=\"private\" pool=\"sflc_0_1\" vid=\"appvms/disp-fieldwork/private\" "
         "revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"False\" snap_on_start=\"True\" "
         "size=\"2147483648\" source=\"qubes_dom0/vm-default-dvm-private\"/>",
         "no volume of pool 'sflc_0_1' loaded before it"},
        {"its private its own image",
         "<volume name=\"private\" pool=\"sflc_0_1\" vid=\"appvms/disp-fieldwork/private\" "
         "revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"True\" snap_on_start=\"False\" "
         "size=\"2147483648\"/>",
         // qubesd then takes its pool from the chain (the base's): its vid
         // there is not its own (and qubesd would refuse a source on a
         // volume that is not snap_on_start, V34).
         "in pool 'vm-pool', which is not its own"},
    };
    for (const auto& entry : layouts) {  // not a structured binding: CAPTURE's lambda takes it (clang)
        CAPTURE(entry.layout);
        System system = small_system();
        edit_shard(system, v1, "<property name=\"template\">dvm-hidden</property>",
                   "<property name=\"template\">default-dvm</property>");
        edit_shard(system, v1, "source=\"qubes_dom0/vm-debian-12-xfce-root\"/>\n        <volume name=\"private\" pool=\"sflc_0_1\" vid=\"appvms/disp-fieldwork/private\"",
                   "source=\"qubes_dom0/vm-fedora-41-xfce-root\"/>\n        <volume name=\"private\" pool=\"sflc_0_1\" vid=\"appvms/disp-fieldwork/private\"");
        edit_shard(system, v1,
                   "<volume name=\"private\" pool=\"sflc_0_1\" vid=\"appvms/disp-fieldwork/private\" "
                   "revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"False\" snap_on_start=\"True\" "
                   "size=\"2147483648\" source=\"appvms/dvm-hidden/private\"/>",
                   entry.private_volume);
        const MergeResult result = merge_all(system);
        REQUIRE(result.merged);
        const ShardOutcome* outcome = outcome_of(result.report, "sflc_0_1");
        CHECK(outcome->status == "frozen");
        std::string reasons;
        for (const std::string& why : outcome->reasons) reasons += why + "\n";
        CHECK_MESSAGE(reasons.find(entry.reason) != std::string::npos, reasons);
        CHECK_FALSE(result.merged->domain("disp-fieldwork"));
        CHECK(loads(*result.merged));
    }
}

TEST_CASE("identity: a default_dispvm left at its default whose qube was replaced gets prohibit-start") {
    System system = small_system();
    edit_base(system, default_dvm_uuid, "0af438d2-9752-4d6a-b51e-000000000001");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    for (const char* qube : {"press", "sys-proton"}) {
        CHECK_FALSE(result.merged->domain(qube)->property("default_dispvm"));  // still the default
        check_held_for_review(result, "sflc_0_2", qube, "default_dispvm", "changed-default");
    }
    // intake names its own default_dispvm (dvm-hidden): untouched.
    CHECK_FALSE(result.merged->domain("intake")->feature("prohibit-start"));
    CHECK(loads(*result.merged));
}

TEST_CASE("identity: a shard written before uuids were recorded still merges, bound by name") {
    System system = small_system();
    for (auto& [volume, text] : system.shards) {
        const auto open = text.find("<references>");
        const auto close = text.find("</references>");
        REQUIRE(open != std::string::npos);
        REQUIRE(close != std::string::npos);
        text.erase(open, close + std::string("</references>").size() - open);
    }
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("merged") == 2);
    for (const Domain& domain : result.merged->domains) CHECK_FALSE(domain.feature("prohibit-start"));
    const Change* unverified = change_for(*outcome_of(result.report, "sflc_0_2"), "sys-proton", "netvm");
    REQUIRE(unverified);
    CHECK(unverified->kind == "unverified-reference");
    CHECK(loads(*result.merged));
    // The next split records the uuids.
    const SplitResult again = split(*result.merged, {}, std::nullopt, split_options());
    for (const Shard& shard : again.shards) CHECK_FALSE(shard.references.empty());
}

// No hidden name in a lower volume's files (docs/shards.md, "Placing a
// qube"): press (sflc_0_2) on kicksecure-17, a template of sflc_0_1, keeps its
// root snapshot in sflc_0_1's pool, so qubesd writes appvms/press/ there.
const std::string press_root_on_v2 =
    "<volume name=\"root\" pool=\"vm-pool\" vid=\"qubes_dom0/vm-press-root\" revisions_to_keep=\"2\" "
    "rw=\"True\" save_on_stop=\"False\" snap_on_start=\"True\" size=\"21474836480\" "
    "source=\"qubes_dom0/vm-debian-12-xfce-root\"/>";
const std::string press_root_on_v1 =
    "<volume name=\"root\" pool=\"sflc_0_1\" vid=\"appvms/press/root\" revisions_to_keep=\"1\" "
    "rw=\"True\" save_on_stop=\"False\" snap_on_start=\"True\" size=\"21474836480\" "
    "source=\"vm-templates/kicksecure-17/root\"/>";

std::string press_on_kicksecure(std::string text) {
    const auto at = text.find("<property name=\"name\">press</property>");
    REQUIRE(at != std::string::npos);
    const auto root = text.find(press_root_on_v2, at);
    REQUIRE(root != std::string::npos);
    text.replace(root, press_root_on_v2.size(), press_root_on_v1);
    const auto property = text.find("<property name=\"template\">debian-12-xfce</property>", at);
    REQUIRE(property != std::string::npos);
    REQUIRE(property < root);
    text.replace(property, std::string("<property name=\"template\">debian-12-xfce</property>").size(),
                 "<property name=\"template\">kicksecure-17</property>");
    return text;
}

TEST_CASE("placement: split refuses a qube that keeps its root snapshot in a lower volume's pool") {
    const Document whole = parse(press_on_kicksecure(reliant::testing::slurp(small_fixture_path)));
    REQUIRE(loads(whole));  // qubesd loads it
    const SplitResult result = split(whole, {}, std::nullopt, split_options());
    CHECK_FALSE(result.complete);
    REQUIRE(result.base);
    REQUIRE(result.shards.size() == 1);
    CHECK(result.shards.front().volume == v1);
    const ShardOutcome* refused = outcome_of(result.report, "sflc_0_2");
    REQUIRE(refused);
    CHECK(refused->status == "error");
    REQUIRE(refused->reasons.size() == 2);
    CHECK(refused->reasons.front().starts_with(
        "'press' keeps its volume 'root' in pool 'sflc_0_1' on sflc_0_1, not on sflc_0_2: qubesd writes "
        "appvms/press/ there"));
    CHECK(refused->reasons.back() == "the shard is not written: its old file stays");
    // Nothing of sflc_0_2 reached the lower volume's shard or the base.
    const std::string lower = serialize_shard(result.shards.front()) + serialize(*result.base);
    CHECK(lower.find("press") == std::string::npos);
    CHECK(lower.find("sys-proton") == std::string::npos);

    // The layout qubesd gives a qube based on a template of its own volume,
    // or on a base template, is written.
    const SplitResult fine = split(parse_file(small_fixture_path), {}, std::nullopt, split_options());
    CHECK(fine.complete);
    CHECK(fine.shards.size() == 2);
}

TEST_CASE("placement: merge lets a shard qube with data in a lower volume's pool start only after review") {
    System system = small_system();
    system.shards.at(v2) = press_on_kicksecure(system.shards.at(v2));
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.report.count("merged") == 2);
    check_held_for_review(result, "sflc_0_2", "press", "volume-config", "review",
                          "volume root in pool sflc_0_1 of sflc_0_1");
    CHECK_FALSE(result.merged->domain("sys-proton")->feature("prohibit-start"));
    CHECK(loads(*result.merged));
}

TEST_CASE("fix policy none freezes the shard, a template with no family becomes default_template") {
    System system = small_system();
    edit_shard(system, v2, "<property name=\"netvm\">sys-firewall</property>",
               "<property name=\"netvm\">sys-tor</property>");
    MergeOptions none = merge_options();
    none.fixes = FixPolicy{false, false};
    MergeResult result = merge_all(system, none);
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "frozen");
    CHECK(result.merged->domain("press") == nullptr);

    System orphan = small_system();
    edit_shard(orphan, v1, "<property name=\"template\">kicksecure-17</property>",
               "<property name=\"template\">nixos</property>");
    edit_shard(orphan, v1, "<property name=\"name\">kicksecure-17</property>",
               "<property name=\"name\">kicksecure-18</property>");
    result = merge_all(orphan);
    CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");
    check_held_for_review(result, "sflc_0_1", "intake", "template", "heuristic", "(the default template)");
    CHECK(result.merged->domain("intake")->value("template") == "fedora-41-xfce");
    CHECK(loads(*result.merged));
}

TEST_CASE("hostile shards are frozen whole, with reasons") {
    const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> cases = {
        {"garbage", {"<qubes-shard", "<qubes-shard\""}},
        {"version", {"version=\"1\"", "version=\"9\""}},
        {"volume attribute", {"volume=\"sflc_0_2\"", "volume=\"sflc_0_1\""}},
        {"qid range", {"first=\"3072\"", "first=\"1\""}},
        {"pool outside its volume",
         {"dir_path=\"/run/shufflecake/sflc_0_2/pool\"", "dir_path=\"/var/lib/qubes\""}},
        {"pool escaping its volume",
         {"dir_path=\"/run/shufflecake/sflc_0_2/pool\"",
          "dir_path=\"/run/shufflecake/sflc_0_2/../sflc_0_1/pool\""}},
        {"pool name taken", {"<pool name=\"sflc_0_2\"", "<pool name=\"vm-pool\""}},
        {"global properties",
         {"<domains>",
          "<properties><property name=\"default_netvm\">press</property></properties><domains>"}},
        {"claims dom0", {"class=\"AppVM\"", "class=\"AdminVM\""}},
        {"claims a base uuid",
         {"1badb4f5-13b4-4a39-81da-01354f468977", "94b2b8fd-a02f-44a6-b95b-929e9a9a80fd"}},
        {"DOCTYPE", {"<qubes-shard", "<!DOCTYPE x [<!ENTITY e \"x\">]><qubes-shard"}},
    };
    for (const auto& entry : cases) {  // not a structured binding: CAPTURE's lambda takes it (clang)
        const auto& edit = entry.second;
        CAPTURE(entry.first);
        System system = small_system();
        edit_shard(system, v2, edit.first, edit.second);
        const MergeResult result = merge_all(system);
        REQUIRE(result.merged);
        const ShardOutcome* outcome = outcome_of(result.report, "sflc_0_2");
        REQUIRE(outcome);
        CHECK(outcome->status == "frozen");
        CHECK_FALSE(outcome->reasons.empty());
        CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");
        CHECK(result.merged->domain("press") == nullptr);
        CHECK(loads(*result.merged));
    }
}

TEST_CASE("a shard that passes every claim but breaks qubesd's rules is found and frozen") {
    System system = small_system();
    edit_shard(system, v2, "<property name=\"label\">green</property>",
               "<property name=\"label\">magenta</property>");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    const ShardOutcome* outcome = outcome_of(result.report, "sflc_0_2");
    CHECK(outcome->status == "frozen");
    REQUIRE_FALSE(outcome->reasons.empty());
    CHECK(outcome->reasons.front().find("V5") == 0);
    CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");
    CHECK(loads(*result.merged));
}

TEST_CASE("an invalid base gives no output at all") {
    System system = small_system();
    edit_base(system, "<property name=\"default_pool\">vm-pool</property>",
              "<property name=\"default_pool\">nowhere</property>");
    const MergeResult result = merge_all(system);
    CHECK_FALSE(result.merged);
    CHECK_FALSE(result.report.base_problems.empty());
}

TEST_CASE("labels unify by name, a new custom label gets a free index") {
    System system = small_system();
    edit_shard(system, v2, "<label id=\"label-7\" color=\"0x75507b\">purple</label>",
               "<label id=\"label-7\" color=\"0x75507b\">purple</label><label id=\"label-9\" "
               "color=\"0x123456\">secret</label>");
    edit_shard(system, v2, "<property name=\"label\">green</property>",
               "<property name=\"label\">secret</property>");
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "merged");
    CHECK(loads(*result.merged));
    CHECK(serialize(*result.merged).find("color=\"0x123456\">secret</label>") != std::string::npos);
    // ...and the base never keeps a label only hidden qubes use.
    const System again = split_system(*result.merged);
    CHECK(serialize(again.base).find("secret") == std::string::npos);
}

namespace {

// qubesd created `name` on sflc_0_2 (a copy of "press") with qid `qid`.
void add_session_qube(Document& session, const std::string& name, const std::string& qid, const std::string& uuid) {
    Domain qube = *session.domain("press");
    qube.set_property("name", name);
    qube.set_property("qid", qid);
    qube.set_property("uuid", uuid);
    qube.id = "domain-" + qid;
    for (Volume& volume : *qube.volume_config)
        if (const std::string* vid = volume.attributes.get("vid"); vid && vid->find("press") != std::string::npos)
            volume.attributes.set("vid", replace_all(*vid, "press", name));
    session.domains.push_back(qube);
}

std::vector<ExistingShard> existing_shards(const std::map<VolumeId, std::string>& shards) {
    std::vector<ExistingShard> existing;
    for (const auto& [volume, bytes] : shards) {
        ShardRead read = read_shard(bytes, volume);
        existing.push_back({volume, true, std::move(read.shard), {}});
    }
    return existing;
}

const Shard* shard_of(const SplitResult& result, const VolumeId& volume) {
    for (const Shard& shard : result.shards)
        if (shard.volume == volume) return &shard;
    return nullptr;
}

}  // namespace

TEST_CASE("split moves qubes created this session into their volume's range") {
    System system = small_system();
    MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    // qid 16 is taken by dvm-hidden: qubesd gave notes one that is free.
    add_session_qube(session, "notes", "22", "12345678-1234-4234-8234-123456789abc");
    BootMerge boot = boot_merge({v1, v2});
    const SplitResult result = split(session, existing_shards(system.shards), boot, split_options());
    REQUIRE(result.base);
    const Shard* shard2 = shard_of(result, v2);
    REQUIRE(shard2);
    CHECK(shard2->content.domain("notes")->value("qid") == "3072");
    CHECK(shard2->content.domain("press")->value("qid") == "21");  // it existed before: it keeps its qid
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "notes", "qid"));
}

TEST_CASE("a second split in the same session keeps a new qube's number in the range") {
    // qubesd keeps the session's qid 22 for notes until it restarts; the
    // path unit's split already moved notes to 3072 in the shard.
    System system = small_system();
    MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    add_session_qube(session, "notes", "22", "12345678-1234-4234-8234-123456789abc");
    BootMerge boot = boot_merge({v1, v2});
    const SplitResult first = split(session, existing_shards(system.shards), boot, split_options());
    REQUIRE(first.base);
    std::map<VolumeId, std::string> after_first = system.shards;
    for (const Shard& shard : first.shards) after_first[shard.volume] = serialize_shard(shard);

    // Then qubesd created "memo", listed before notes, and saved again.
    add_session_qube(session, "memo", "23", "22345678-1234-4234-8234-123456789abc");
    std::rotate(session.domains.begin(), session.domains.end() - 1, session.domains.end());
    const SplitResult second = split(session, existing_shards(after_first), boot, split_options());
    REQUIRE(second.base);
    const Shard* shard2 = shard_of(second, v2);
    REQUIRE(shard2);
    CHECK(shard2->content.domain("notes")->value("qid") == "3072");
    CHECK(shard2->content.domain("notes")->id == "domain-3072");
    CHECK(shard2->content.domain("memo")->value("qid") == "3073");
    CHECK(shard2->content.domain("press")->value("qid") == "21");
}

TEST_CASE("split never overwrites a shard that was not merged at boot") {
    const System system = small_system();
    const MergeResult merged = merge(system.base, system.inputs({v1}), merge_options());
    REQUIRE(merged.merged);
    std::vector<ExistingShard> existing;
    for (const auto& [volume, bytes] : system.shards)
        existing.push_back({volume, true, read_shard(bytes, volume).shard, {}});

    // Frozen at boot, per the merge report.
    SplitResult result = split(*merged.merged, existing, boot_merge({v1}, {v2}), split_options());
    CHECK(outcome_of(result.report, "sflc_0_2") == nullptr);  // no pools of it in the session: not considered
    for (const Shard& shard : result.shards) CHECK(shard.volume != v2);

    // An unreadable shard file is never replaced.
    Document with_pool = *merged.merged;
    with_pool.pools.push_back(Pool{{}, 0});
    with_pool.pools.back().attributes.set("name", "sflc_0_2");
    with_pool.pools.back().attributes.set("dir_path", "/run/shufflecake/sflc_0_2/pool");
    with_pool.pools.back().attributes.set("driver", "file-reflink");
    std::vector<ExistingShard> broken = existing;
    broken[1].shard.reset();
    broken[1].problems = {"not loadable XML"};
    result = split(with_pool, broken, std::nullopt, split_options());
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "error");
    CHECK_FALSE(result.complete);

    // A readable shard with pools the session did not have (not merged at boot) is not replaced either.
    std::vector<ExistingShard> renamed_pool = existing;
    renamed_pool[1].shard->content.pools[0].attributes.set("name", "sflc_0_2_old");
    result = split(with_pool, renamed_pool, std::nullopt, split_options());
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "error");
}

TEST_CASE("split of a volume merged at boot whose pools were all removed writes an empty shard") {
    const System system = small_system();
    MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    std::erase_if(session.domains,
                  [](const Domain& d) { return hidden_v2.contains(d.qube_name().value_or("")); });
    std::erase_if(session.pools, [](const Pool& p) { return *p.name() == "sflc_0_2"; });
    session.property("default_pool")->text = "sflc_0_1";  // qubesd removes no pool that is a default
    const SplitResult result = split(session, {}, boot_merge({v1, v2}), split_options());
    const Shard* shard2 = nullptr;
    for (const Shard& shard : result.shards)
        if (shard.volume == v2) shard2 = &shard;
    REQUIRE(shard2);
    CHECK(shard2->content.domains.empty());
    CHECK(shard2->content.pools.empty());
}

TEST_CASE("references: soft references name qubes in tags, features and device backends") {
    Domain domain;
    domain.klass = "AppVM";
    domain.tags = {Tag{"created-by-vault", 0}, Tag{"guivm-dom0", 0}, Tag{"plain", 0}};
    domain.features = {Feature{"preload-dispvm", "disp1 disp2", 0}};
    domain.devices = {DeviceGroup{"block", {Device{}}, 0}};
    domain.devices[0].devices[0].attributes.set("backend-domain", "sys-usb");
    const auto references = soft_references(domain);
    CHECK(references.size() == 5);
    CHECK(remove_soft_references(domain, "disp1") == 1);
    CHECK(domain.feature("preload-dispvm")->value == "disp2");
    CHECK(remove_soft_references(domain, "sys-usb") == 1);
    CHECK(domain.devices[0].devices.empty());
    CHECK(remove_soft_references(domain, "vault") == 1);
    CHECK(domain.tags.size() == 2);
}

TEST_CASE("split refuses a base that cannot be made to load on its own") {
    Document whole = parse_file(small_fixture_path);
    // The only disposable template moves onto a volume; sys-usb (base) is a DispVM of it.
    Domain* dvm = whole.domain("default-dvm");
    REQUIRE(dvm);
    for (Volume& volume : *dvm->volume_config)
        if (*volume.name() == "private" || *volume.name() == "volatile") {
            volume.attributes.set("pool", "sflc_0_1");
            volume.attributes.set("vid", "appvms/default-dvm/" + *volume.name());
            volume.attributes.set("revisions_to_keep", "1");
        }
    const SplitResult result = split(whole, {}, std::nullopt, split_options());
    CHECK_FALSE(result.base);
    CHECK_FALSE(result.complete);
    REQUIRE_FALSE(result.report.base_problems.empty());
    CHECK(result.report.base_problems.front().find("sys-usb") != std::string::npos);
    CHECK(result.shards.size() == 2);  // the shards are still written: they lose nothing
}
