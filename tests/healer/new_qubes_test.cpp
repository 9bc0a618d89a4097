// New qubes (docs/shards.md, "New qubes"): qvm-create, qvm-clone and a
// backup restore put a qube in the default pool unless told otherwise. In a
// normal boot the base is RAM, so merge points the default pools of the
// merged file at the highest merged volume, and split gives the base its own
// values back. A qube that still lands in a pool of the base is reported at
// split: the end of the session loses it.
#include <doctest/doctest.h>

#include "healer/heal_common.h"
#include "healer/shard.h"
#include "healer/shard_files.h"
#include "shard_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

// `name`, a copy of the base qube `personal` with a new identity, its
// volumes in `pool`.
Domain new_qube(const Document& session, const std::string& name, const std::string& pool) {
    Domain qube = *session.domain("personal");
    qube.set_property("name", name);
    qube.set_property("uuid", "c0ffee00-1111-4222-8333-444455556666");
    qube.set_property("qid", "99");
    qube.id = "domain-99";
    for (Volume& volume : *qube.volume_config) {
        const std::string* volume_name = volume.name();
        if (volume_name && *volume_name == "root") volume.attributes.set("vid", "qubes_dom0/vm-" + name + "-root");
        if (!volume_name || (*volume_name != "private" && *volume_name != "volatile")) continue;
        volume.attributes.set("pool", pool);
        volume.attributes.set("vid", pool == "vm-pool" ? "qubes_dom0/vm-" + name + "-" + *volume_name
                                                       : "appvms/" + name + "/" + *volume_name);
    }
    return qube;
}

}  // namespace

TEST_CASE("new qubes: the merged file's default pool is the highest merged volume's, the base keeps its own") {
    const System system = small_system();
    REQUIRE(system.base.value("default_pool") == "vm-pool");
    const MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    CHECK(merged.merged->value("default_pool") == "sflc_0_2");
    CHECK(merged.merged->value("default_pool_kernel") == "linux-kernel");  // a kernel is no qube's data
    CHECK(loads(*merged.merged));

    // Only volume 1 open (a boot with its passphrase): there.
    const MergeResult lower = merge(system.base, system.inputs({v1}), merge_options());
    CHECK(lower.merged->value("default_pool") == "sflc_0_1");
    // No volume: the base's own.
    const MergeResult none = merge(system.base, {}, merge_options());
    CHECK(serialize(*none.merged) == serialize(system.base));

    // Split puts the base's value back: the base comes out byte for byte.
    const SplitResult split_back = split(*merged.merged, existing(system), through_report(merged), split_options());
    REQUIRE(split_back.base);
    CHECK(serialize(*split_back.base) == serialize(system.base));
    CHECK(split_back.complete);
    for (const Shard& shard : split_back.shards) CHECK(serialize_shard(shard) == system.shards.at(shard.volume));
}

TEST_CASE("new qubes: explicit data-pool defaults of the base follow too, and come back") {
    System system = small_system();
    system.base.properties.push_back(Property{"default_pool_private", "vm-pool", std::nullopt, 0});
    const MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    CHECK(merged.merged->value("default_pool_private") == "sflc_0_2");
    const SplitResult split_back = split(*merged.merged, existing(system), through_report(merged), split_options());
    REQUIRE(split_back.base);
    CHECK(serialize(*split_back.base) == serialize(system.base));
}

TEST_CASE("new qubes: a qube created without a pool lands on the volume and is written to its shard") {
    const System system = small_system();
    const MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    session.domains.push_back(new_qube(session, "fresh", *session.value("default_pool")));
    REQUIRE(loads(session));
    const SplitResult result = split(session, existing(system), through_report(merged), split_options());
    REQUIRE(result.base);
    CHECK_FALSE(result.base->domain("fresh"));
    bool in_shard = false;
    for (const Shard& shard : result.shards) in_shard = in_shard || (shard.volume == v2 && shard.content.domain("fresh"));
    CHECK_MESSAGE(in_shard, result.report.to_json());
    for (const Change& change : result.report.base_changes) CHECK(change.kind != "lost-at-shutdown");
}

TEST_CASE("new qubes: a qube created in a pool of the base is reported as lost at shutdown, never silently") {
    const System system = small_system();
    const MergeResult merged = merge_all(system);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    session.domains.push_back(new_qube(session, "scratchpad", "vm-pool"));
    REQUIRE(loads(session));
    const SplitResult result = split(session, existing(system), through_report(merged), split_options());
    REQUIRE(result.base);
    int lost = 0;
    for (const Change& change : result.report.base_changes) {
        if (change.kind != "lost-at-shutdown") continue;
        ++lost;
        CHECK(change.qube == "scratchpad");
        CHECK(change.note.find("qvm-clone -P") != std::string::npos);
    }
    CHECK(lost == 1);
    CHECK(result.report.to_json().find("lost-at-shutdown") != std::string::npos);

    // An older report (no base_qubes) cannot tell: nothing is claimed.
    BootMerge older = through_report(merged);
    older.base_qubes.reset();
    const SplitResult unknown = split(session, existing(system), older, split_options());
    for (const Change& change : unknown.report.base_changes) CHECK(change.kind != "lost-at-shutdown");
}

TEST_CASE("new qubes: a default pool the user set to a volume's pool never makes split fail") {
    // Issue 17: default_pool = sflc_0_1 made every split exit 1 (V10).
    const System system = small_system();
    MergeOptions options = merge_options();
    options.new_qubes = NewQubes::base;
    const MergeResult merged = merge_all(system, options);
    REQUIRE(merged.merged);
    Document session = *merged.merged;
    session.property("default_pool")->text = "sflc_0_1";
    REQUIRE(loads(session));
    // With the boot's report the base's own value comes back; without one (a
    // first split) the default.
    const SplitResult with_report = split(session, existing(system), through_report(merged), split_options());
    REQUIRE(with_report.base);
    CHECK(with_report.base->value("default_pool") == std::nullopt);  // merge recorded nothing: the default
    const SplitResult first = split(session, {}, std::nullopt, split_options());
    REQUIRE(first.base);
    CHECK_FALSE(first.base->property("default_pool"));
    CHECK(loads(*first.base));
    const Change* confined = nullptr;
    for (const Change& change : first.report.base_changes)
        if (change.kind == "confined-pool") confined = &change;
    REQUIRE(confined);
    CHECK(confined->from == "sflc_0_1");
}
