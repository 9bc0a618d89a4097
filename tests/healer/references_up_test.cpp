// References up (docs/shards.md, "References up"): what a lower volume's
// qube says of a higher volume's qube (a netvm, a disposable, a GUI qube,
// tags qubesd maintains, name-bearing features, device assignments) leaves
// the lower shard, which holds a safe value; the higher shard keeps the
// user's value, and a boot that opens both gives it back. On the small
// fixture: sflc_0_1 holds scratch, sys-vpn, ...; sflc_0_2 sys-proton, press.
#include <doctest/doctest.h>

#include <algorithm>

#include "healer/heal_common.h"
#include "healer/references.h"
#include "healer/shard.h"
#include "shard_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

const std::set<std::string> v2_qubes = {"sys-proton", "press"};

void check_names_none_of(const std::string& text, const std::set<std::string>& names) {
    const auto found = name_tokens(text);
    for (const std::string& name : names) CHECK_MESSAGE(!found.contains(name), name << " is in the text");
}

// scratch (v1) as a user of both volumes leaves it: behind the VPN on v2,
// created by press, with a USB device of sys-proton's and its GUI on press.
Document scratch_uses_v2() {
    Document whole = parse_file(small_fixture_path);
    Domain* scratch = whole.domain("scratch");
    REQUIRE(scratch);
    scratch->set_property("netvm", "sys-proton");
    scratch->set_property("guivm", "press");
    scratch->tags.push_back(Tag{"created-by-press", 0});
    scratch->tags.push_back(Tag{"disp-created-by-press", 0});
    scratch->set_feature("deferred-netvm-original", "sys-proton");
    Device device;
    device.attributes.set("backend-domain", "sys-proton");
    device.attributes.set("id", "2-1");
    device.attributes.set("mode", "auto-attach");
    device.attributes.set("identity", "*");
    scratch->devices.push_back(DeviceGroup{"usb", {device}, 0});
    return whole;
}

// The small fixture with scratch offline (as split leaves it when its netvm
// lies on v2) and a restoration inserted into the v2 shard.
System with_restoration(const std::string& restore_element) {
    System system = small_system();
    ShardRead lower = read_shard(system.shards.at(v1), v1);
    REQUIRE(lower.shard);
    lower.shard->content.domain("scratch")->set_property("netvm", std::nullopt);
    system.shards[v1] = serialize_shard(*lower.shard);
    edit_shard(system, v2, "</qubes-shard>", "  <restores>\n" + restore_element + "  </restores>\n</qubes-shard>");
    return system;
}

std::string uuid_of(const System& system, const VolumeId& volume, const std::string& qube) {
    const ShardRead read = read_shard(system.shards.at(volume), volume);
    REQUIRE(read.shard);
    const Domain* domain = read.shard->content.domain(qube);
    return domain ? uuid_key(*domain) : uuid_key(*system.base.domain(qube));
}

std::string restore_netvm(const std::string& uuid, const std::string& to, const std::string& extra = "") {
    return "<restore qube=\"scratch\" uuid=\"" + uuid + "\"><original><properties><property name=\"netvm\">" + to +
           "</property></properties>" + extra +
           "</original><confined><properties><property name=\"netvm\"></property></properties></confined>"
           "</restore>\n";
}

}  // namespace

TEST_CASE("references up: a lower qube's netvm, GUI qube, tags, features and devices come back with both volumes") {
    const Document whole = scratch_uses_v2();
    REQUIRE(loads(whole));
    const Mentions before = mentions_of(*whole.domain("scratch"));
    const System system = split_system(whole);

    // The lower shard: offline, no GUI qube of v2, nothing of v2 in any byte.
    const ShardRead lower = read_shard(system.shards.at(v1), v1);
    REQUIRE(lower.shard);
    const Domain* confined = lower.shard->content.domain("scratch");
    REQUIRE(confined);
    REQUIRE(confined->property("netvm"));
    CHECK_FALSE(confined->value("netvm"));  // none: never the default netvm (the clearnet)
    CHECK_FALSE(confined->property("guivm"));
    check_names_none_of(system.shards.at(v1), v2_qubes);
    check_names_none_of(serialize(system.base), v2_qubes);

    // The higher shard keeps them for scratch, by uuid.
    const ShardRead higher = read_shard(system.shards.at(v2), v2);
    REQUIRE(higher.shard);
    REQUIRE(higher.shard->restorations.size() == 1);
    CHECK(higher.shard->restorations.front().qube == "scratch");
    CHECK(higher.shard->restorations.front().uuid == uuid_key(*whole.domain("scratch")));

    SUBCASE("both volumes open: everything back, exactly") {
        const MergeResult result = merge_all(system);
        REQUIRE(result.merged);
        CHECK(outcome_of(result.report, "sflc_0_2")->status == "merged");
        const Mentions after = mentions_of(*result.merged->domain("scratch"));
        CHECK_MESSAGE(after == before, describe(after) << "\nexpected " << describe(before));
        CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "scratch", "netvm"));
        CHECK(loads(*result.merged));

        // The next split of that session writes the same shards again.
        std::vector<ExistingShard> existing;
        for (const auto& [volume, bytes] : system.shards) existing.push_back({volume, true, read_shard(bytes, volume).shard, {}});
        const SplitResult again = split(*result.merged, existing, boot_merge({v1, v2}), split_options());
        REQUIRE(again.shards.size() == 2);
        for (const Shard& shard : again.shards) CHECK(serialize_shard(shard) == system.shards.at(shard.volume));
    }
    SUBCASE("only the lower volume open: the safe values, nothing of v2") {
        const MergeResult result = merge(system.base, system.inputs({v1}), merge_options());
        REQUIRE(result.merged);
        const Domain* scratch = result.merged->domain("scratch");
        REQUIRE(scratch);
        CHECK_FALSE(scratch->value("netvm"));
        CHECK_FALSE(mentions_of(*scratch).tags.contains("created-by-press"));
        check_names_none_of(serialize(*result.merged) + result.report.to_json(), v2_qubes);
    }
}

TEST_CASE("references up: a base qube's reference into a volume is not kept anywhere") {
    // The base persists only from maintenance mode, where no volume is open:
    // what a base qube says of a hidden one in a normal session does not
    // outlive it, and no shard may carry a change to a base qube.
    Document whole = parse_file(small_fixture_path);
    whole.domain("work")->set_property("netvm", "sys-proton");
    const System system = split_system(whole);
    for (const auto& [volume, bytes] : system.shards) CHECK(read_shard(bytes, volume).shard->restorations.empty());
    CHECK_FALSE(system.base.domain("work")->value("netvm"));
}

TEST_CASE("references up: a change made in a session without the higher volume wins") {
    System system = split_system(scratch_uses_v2());
    ShardRead lower = read_shard(system.shards.at(v1), v1);
    REQUIRE(lower.shard);
    lower.shard->content.domain("scratch")->set_property("netvm", "sys-vpn");  // a decoy session chose sys-vpn
    system.shards[v1] = serialize_shard(*lower.shard);
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(result.merged->domain("scratch")->value("netvm") == "sys-vpn");
    const Change* skipped = change_for(*outcome_of(result.report, "sflc_0_2"), "scratch", "netvm");
    REQUIRE(skipped);
    CHECK(skipped->kind == "restore-skipped");
    // The rest still comes back.
    CHECK(mentions_of(*result.merged->domain("scratch")).tags.contains("created-by-press"));
}

TEST_CASE("references up: a qube that cannot take the role is not restored into it") {
    // press provides no network (as if the user changed that in a session
    // with both volumes and the restoration was older).
    const System plain = small_system();
    const MergeResult result = merge_all(with_restoration(restore_netvm(uuid_of(plain, v1, "scratch"), "press")));
    REQUIRE(result.merged);
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "merged");
    CHECK_FALSE(result.merged->domain("scratch")->value("netvm"));
    const Change* skipped = change_for(*outcome_of(result.report, "sflc_0_2"), "scratch", "netvm");
    REQUIRE(skipped);
    CHECK(skipped->kind == "restore-skipped");
    CHECK(loads(*result.merged));
}

TEST_CASE("references up: a restoration for a qube that is gone is skipped") {
    const System system = with_restoration(restore_netvm("0badc0de-0000-4000-8000-000000000001", "sys-proton"));
    const MergeResult result = merge_all(system);
    REQUIRE(result.merged);
    CHECK(outcome_of(result.report, "sflc_0_2")->status == "merged");
    CHECK(change_for(*outcome_of(result.report, "sflc_0_2"), "scratch", "")->kind == "restore-skipped");
}

TEST_CASE("references up: a hostile restoration freezes its shard and changes nothing") {
    const System plain = small_system();
    const std::string scratch = uuid_of(plain, v1, "scratch");
    const std::string work = uuid_of(plain, v1, "work");

    // Control: the well-formed restoration merges and applies.
    {
        const MergeResult result = merge_all(with_restoration(restore_netvm(scratch, "sys-proton")));
        REQUIRE(result.merged);
        CHECK(outcome_of(result.report, "sflc_0_2")->status == "merged");
        CHECK(result.merged->domain("scratch")->value("netvm") == "sys-proton");
    }
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a base qube", restore_netvm(work, "sys-proton")},
        {"a netvm of the base", restore_netvm(scratch, "sys-firewall")},
        {"a netvm of a lower volume", restore_netvm(scratch, "sys-vpn")},
        {"a template",
         "<restore qube=\"scratch\" uuid=\"" + scratch +
             "\"><original><properties><property name=\"template\">press</property></properties></original>"
             "<confined/></restore>\n"},
        {"a property that is no reference",
         "<restore qube=\"scratch\" uuid=\"" + scratch +
             "\"><original><properties><property name=\"memory\">press</property></properties></original>"
             "<confined/></restore>\n"},
        {"a confined value that is not none",
         "<restore qube=\"scratch\" uuid=\"" + scratch +
             "\"><original><properties><property name=\"netvm\">sys-proton</property></properties></original>"
             "<confined><properties><property name=\"netvm\">sys-firewall</property></properties></confined>"
             "</restore>\n"},
        {"a tag naming a base qube",
         restore_netvm(scratch, "sys-proton", "<tags><tag name=\"created-by-work\"/></tags>")},
        {"a tag that names no qube", restore_netvm(scratch, "sys-proton", "<tags><tag name=\"audit\"/></tags>")},
        {"a device of a base qube",
         restore_netvm(scratch, "sys-proton",
                       "<devices class=\"pci\"><device backend-domain=\"dom0\" id=\"00_14.0\"/></devices>")},
        {"a feature naming another qube",
         restore_netvm(scratch, "sys-proton",
                       "<features><feature name=\"preload-dispvm\">untrusted</feature></features>")},
        {"a feature that carries no names",
         restore_netvm(scratch, "sys-proton", "<features><feature name=\"menu-items\">press</feature></features>")},
        {"volumes", restore_netvm(scratch, "sys-proton",
                                  "<volume-config><volume name=\"private\" pool=\"sflc_0_2\"/></volume-config>")},
        {"a malformed uuid", restore_netvm("not-a-uuid", "sys-proton")},
        {"two for one qube", restore_netvm(scratch, "sys-proton") + restore_netvm(scratch, "sys-proton")},
    };
    for (const auto& entry : cases) {  // not a structured binding: CAPTURE's lambda takes it (clang)
        const std::string& element = entry.second;
        CAPTURE(entry.first);
        const System system = with_restoration(element);
        const MergeResult result = merge_all(system);
        REQUIRE(result.merged);
        CHECK(outcome_of(result.report, "sflc_0_2")->status == "frozen");
        CHECK(outcome_of(result.report, "sflc_0_1")->status == "merged");
        const Domain* lower = result.merged->domain("scratch");
        REQUIRE(lower);
        CHECK(mentions_of(*lower) ==
              mentions_of(*merge(system.base, system.inputs({v1}), merge_options()).merged->domain("scratch")));
        CHECK(loads(*result.merged));
    }
}
