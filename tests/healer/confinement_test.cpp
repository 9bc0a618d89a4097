// Confinement by construction (healer/confinement.h, footprint.h;
// docs/security.md G-confine): hand-made shards for every reproduced hole,
// each checked twice: merge freezes it under the named rule, and the
// independent oracle (tests/fuzz/confine_oracle.h) finds the same shard, if it
// were merged, reaching what is not its own. Then the property over seeded
// mutations, as fuzz-confine runs it.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "healer/confinement.h"
#include "healer/footprint.h"
#include "shard_test_support.h"
#include "tests/fuzz/confine_oracle.h"

using namespace reliant;
using namespace reliant::healer;
using namespace reliant::healer::testing;
namespace confine = reliant::fuzz::confine;
namespace fs = std::filesystem;

namespace {

const confine::Seed& seed() {
    static const confine::Seed value =
        confine::make_seed(reliant::testing::slurp(reliant::testing::test_data_dir() + "/fixtures/system-small.xml"));
    return value;
}

constexpr const char* own_pool =
    "<pool name=\"sflc_0_3\" dir_path=\"/run/shufflecake/sflc_0_3/pool\" driver=\"file-reflink\" "
    "revisions_to_keep=\"1\" ephemeral_volatile=\"False\"/>";

std::string volume(const std::string& name, const std::string& pool, const std::string& vid,
                   const std::string& extra = "snap_on_start=\"False\"") {
    return "<volume name=\"" + name + "\" pool=\"" + pool + "\"" + (vid.empty() ? "" : " vid=\"" + vid + "\"") +
           " revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"True\" " + extra + " size=\"2147483648\"/>\n";
}

struct Hidden {
    std::string name = "hidden";
    std::string klass = "AppVM";
    std::string template_name = "debian-12-xfce";
    std::string qid = "3584";
    std::string uuid = "5e1f0000-0000-4000-8000-000000000001";
    std::string root = volume("root", "vm-pool", "", "snap_on_start=\"True\"");
    std::string private_volume{};  // default: in sflc_0_3, derived vid
    std::string volatile_volume{};
    std::string extra_volumes{};
    std::string devices{};
    std::string properties{};
};

std::string domain(const Hidden& h) {
    const std::string private_volume =
        h.private_volume.empty() ? volume("private", "sflc_0_3", "appvms/" + h.name + "/private") : h.private_volume;
    const std::string volatile_volume =
        h.volatile_volume.empty() ? volume("volatile", "sflc_0_3", "appvms/" + h.name + "/volatile") : h.volatile_volume;
    return "<domain id=\"domain-" + h.qid + "\" class=\"" + h.klass + "\"><properties>\n"
           "<property name=\"label\">red</property>\n<property name=\"name\">" + h.name + "</property>\n"
           "<property name=\"qid\">" + h.qid + "</property>\n<property name=\"uuid\">" + h.uuid + "</property>\n"
           "<property name=\"template\">" + h.template_name + "</property>\n" + h.properties +
           "</properties><features/><tags/>" + h.devices + "<volume-config>\n" + h.root + private_volume +
           volatile_volume + h.extra_volumes + "</volume-config></domain>\n";
}

std::string shard_text(const std::string& domains, const std::string& pools = own_pool) {
    return "<qubes-shard version=\"1\" volume=\"sflc_0_3\"><qid-range first=\"3584\" last=\"4095\"/><labels/>"
           "<pools>" + pools + "</pools><references/><domains>" + domains + "</domains></qubes-shard>";
}

// Merges the seed's two shards and this one as sflc_0_3.
MergeResult merge_with(const std::string& text, const fs::path& volume_root = "/run/shufflecake") {
    std::vector<ShardInput> inputs;
    for (const auto& [volume_id, bytes] : seed().shards) inputs.push_back({volume_id, bytes, {}});
    inputs.push_back({VolumeId{0, 3}, text, {}});
    MergeOptions options = merge_options();
    options.volume_root = volume_root;
    return merge(seed().base, inputs, options);
}

std::string reasons_of(const MergeResult& result) {
    const ShardOutcome* outcome = outcome_of(result.report, "sflc_0_3");
    REQUIRE(outcome);
    std::string text;
    for (const std::string& reason : outcome->reasons) text += reason + "\n";
    return outcome->status == "merged" ? "" : text;
}

// The oracle's verdict on the shard as if merge had taken it whole: the
// seed's base plus the shard's qubes and pools, owned by sflc_0_3.
std::vector<std::string> oracle_if_merged(const std::string& text) {
    const ShardRead read = read_shard(text, VolumeId{0, 3});
    REQUIRE(read.shard.has_value());
    Document merged = seed().base;
    std::map<std::string, std::string> owners;
    for (const Domain& domain : merged.domains)
        if (const auto name = domain.qube_name()) owners[*name] = "base";
    for (const Pool& pool : read.shard->content.pools) merged.pools.push_back(pool);
    for (const Domain& domain : read.shard->content.domains) {
        owners.emplace(domain.value("name").value_or(""), "sflc_0_3");
        merged.domains.push_back(domain);
    }
    return confine::reach_violations(merged, owners, "/run/shufflecake");
}

// The shard is frozen under `rule`, and the oracle agrees that it reaches out.
void expect_confined(const std::string& text, const std::string& rule) {
    const std::string reasons = reasons_of(merge_with(text));
    CAPTURE(reasons);
    CHECK(reasons.find("confinement/" + rule + ":") != std::string::npos);
    CHECK_FALSE(oracle_if_merged(text).empty());
}

}  // namespace

TEST_CASE("confinement control: the hand-made hidden qube merges and the oracle finds nothing") {
    const std::string text = shard_text(domain({}));
    CHECK(reasons_of(merge_with(text)) == "");
    CHECK(oracle_if_merged(text).empty());
    // A vid left out is derived inside the pool: still its own.
    const std::string derived = shard_text(domain({.private_volume = volume("private", "sflc_0_3", "")}));
    CHECK(reasons_of(merge_with(derived)) == "");
    CHECK(oracle_if_merged(derived).empty());
}

TEST_CASE("a volume name climbs out: ../vault/private in varlibqubes is vault's private image") {
    // qubesd derives appvms/hidden/../vault/private: /var/lib/qubes/appvms/vault/private.img.
    expect_confined(shard_text(domain({.extra_volumes = volume("../vault/private", "varlibqubes", "")})),
                    "volume-name");
    // In its own pool, the same name climbs out of the pool's directory.
    expect_confined(shard_text(domain({.extra_volumes = volume("../../../../../var/lib/qubes/appvms/vault/private",
                                                               "sflc_0_3", "")})),
                    "volume-name");
    // Through the vid, with a plain name.
    expect_confined(shard_text(domain({.extra_volumes = volume("data", "varlibqubes", "appvms/vault/private")})),
                    "name-space");
    expect_confined(
        shard_text(domain({.extra_volumes = volume("data", "sflc_0_3", "../../../../var/lib/qubes/appvms/vault/private")})),
        "own-pool");
}

TEST_CASE("an lvm name prefix: qube vault-private's volume snap is vault's private snapshot") {
    // vault's private is in varlibqubes in the seed; work's is qubes_dom0/vm-work-private.
    expect_confined(shard_text(domain({.name = "work-private",
                                       .private_volume = volume("private", "sflc_0_3", "appvms/work-private/private"),
                                       .volatile_volume = volume("volatile", "sflc_0_3", "appvms/work-private/volatile"),
                                       .extra_volumes = volume("snap", "vm-pool", "")})),
                    "name-space");
    // The thin pool's own name family (qubes_dom0/vm-pool).
    expect_confined(shard_text(domain({.name = "pool-x",
                                       .private_volume = volume("private", "sflc_0_3", "appvms/pool-x/private"),
                                       .volatile_volume = volume("volatile", "sflc_0_3", "appvms/pool-x/volatile")})),
                    "name-space");
    // A written vid in the family of another qube's volume.
    expect_confined(shard_text(domain({.extra_volumes = volume("data", "vm-pool", "qubes_dom0/vm-work-private-snap")})),
                    "name-space");
}

TEST_CASE("a hidden qube takes no device: sys-usb's controller, sys-net's card, dom0's disk, the microphone") {
    const auto device = [](const std::string& klass, const std::string& backend, const std::string& id,
                           const std::string& mode) {
        return "<devices class=\"" + klass + "\"><device " +
               (backend.empty() ? "" : "backend-domain=\"" + backend + "\" ") + "id=\"" + id + "\" mode=\"" +
               mode + "\"/></devices>";
    };
    // sys-usb's USB controller and sys-net's network card (PCI, dom0's), required.
    expect_confined(shard_text(domain({.devices = device("pci", "dom0", "00_0d.0", "required"),
                                       .properties = "<property name=\"autostart\">True</property>\n"})),
                    "device");
    expect_confined(shard_text(domain({.devices = device("pci", "dom0", "00_14.3", "required")})), "device");
    // A USB device of sys-usb, a block device of dom0, the microphone, no backend.
    expect_confined(shard_text(domain({.devices = device("usb", "sys-usb", "2-1", "auto-attach")})), "device");
    expect_confined(shard_text(domain({.devices = device("block", "dom0", "nvme0n1", "required")})), "device");
    expect_confined(shard_text(domain({.devices = device("mic", "dom0", "mic", "auto-attach")})), "device");
    expect_confined(shard_text(domain({.devices = device("block", "", "sda", "required")})), "device");
}

TEST_CASE("a DispVM of a qube that is no disposable template would snapshot its data") {
    // private: snapshot of vault's private, pool and source from the chain.
    const std::string text = shard_text(domain(
        {.klass = "DispVM",
         .template_name = "vault",
         .root = volume("root", "vm-pool", "", "snap_on_start=\"True\""),
         .private_volume = volume("private", "sflc_0_3", "appvms/hidden/private", "snap_on_start=\"True\""),
         .properties = "<property name=\"dispid\">3584</property>\n"}));
    expect_confined(text, "snapshot");
    // With a source written: the same.
    expect_confined(shard_text(domain({.root = volume("root", "vm-pool", "",
                                                      "snap_on_start=\"True\" source=\"qubes_dom0/vm-work-private\"")})),
                    "snapshot");
}

TEST_CASE("qubesd's own volume rules: unlisted volumes, repeated elements, kernels") {
    // No volatile: qubesd would create it in the base's default pool.
    std::string no_volatile = domain({});
    no_volatile.erase(no_volatile.find("<volume name=\"volatile\""),
                      no_volatile.find("/>", no_volatile.find("<volume name=\"volatile\"")) + 3 -
                          no_volatile.find("<volume name=\"volatile\""));
    expect_confined(shard_text(no_volatile), "volume-listed");
    // A second element for volatile: qubesd merges it, so volatile moves to the base's lvm pool
    // with the vid written in the first.
    expect_confined(shard_text(domain({.extra_volumes = "<volume name=\"volatile\" pool=\"vm-pool\"/>\n"})),
                    "name-space");
    // A kernel that is not a kernel directory.
    const std::string text = shard_text(domain({.properties = "<property name=\"kernel\">..</property>\n"}));
    CHECK(reasons_of(merge_with(text)).find("confinement/kernel:") != std::string::npos);
    CHECK_FALSE(oracle_if_merged(text).empty());
}

TEST_CASE("files on the volume: a symlinked or special image is not the volume's") {
    reliant::testing::TempDir root;
    const fs::path pool = root.path() / "sflc_0_3" / "pool";
    fs::create_directories(pool / "appvms" / "hidden");
    const std::string pools = "<pool name=\"sflc_0_3\" dir_path=\"" + pool.string() +
                              "\" driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"False\"/>";
    const std::string text = shard_text(domain({}), pools);
    CHECK(reasons_of(merge_with(text, root.path())) == "");  // regular files, or none yet
    reliant::testing::spit(pool / "appvms" / "hidden" / "private.img", "");
    CHECK(reasons_of(merge_with(text, root.path())) == "");
    fs::remove(pool / "appvms" / "hidden" / "private.img");
    fs::create_symlink("/var/lib/qubes/appvms/vault/private.img", pool / "appvms" / "hidden" / "private.img");
    CHECK(reasons_of(merge_with(text, root.path())).find("confinement/own-pool:") != std::string::npos);
    fs::remove(pool / "appvms" / "hidden" / "private.img");
    REQUIRE(::mkfifo((pool / "appvms" / "hidden" / "private-dirty.img").c_str(), 0600) == 0);
    CHECK(reasons_of(merge_with(text, root.path())).find("confinement/own-pool:") != std::string::npos);
    fs::remove(pool / "appvms" / "hidden" / "private-dirty.img");
    // The qube's directory itself a symlink into the base.
    fs::remove(pool / "appvms" / "hidden");
    fs::create_directory_symlink("/var/lib/qubes/appvms/vault", pool / "appvms" / "hidden");
    const std::string reasons = reasons_of(merge_with(text, root.path()));
    CAPTURE(reasons);
    CHECK(reasons.find("resolves outside sflc_0_3") != std::string::npos);
}

TEST_CASE("confinement_violations names a dangling reference and a device of dom0 itself") {
    // Earlier steps freeze these first; the single function still holds them.
    const ShardRead read = read_shard(
        shard_text(domain({.devices = "<devices class=\"pci\"><device backend-domain=\"dom0\" id=\"00_14.0\"/></devices>",
                           .properties = "<property name=\"netvm\">gone</property>\n"})),
        VolumeId{0, 3});
    REQUIRE(read.shard.has_value());
    std::string reasons;
    for (const std::string& reason : confinement_violations(*read.shard, seed().base, "/run/shufflecake"))
        reasons += reason + "\n";
    CAPTURE(reasons);
    CHECK(reasons.find("confinement/reference: 'hidden' names netvm 'gone'") != std::string::npos);
    CHECK(reasons.find("confinement/device: 'hidden' has a pci device '00_14.0'") != std::string::npos);
}

TEST_CASE("footprint: what qubesd derives for each volume") {
    const ShardRead read = read_shard(shard_text(domain({})), VolumeId{0, 3});
    REQUIRE(read.shard.has_value());
    const auto all = shard_footprint(*read.shard, seed().base);
    REQUIRE(all.size() == 1);
    std::map<std::string, std::string> objects;
    for (const StorageTouch& touch : all.front().storage)
        objects[touch.volume + (touch.role == StorageRole::source ? "<" : "")] = touch.object;
    CHECK(objects["root"] == "qubes_dom0/vm-hidden-root");
    CHECK(objects["root<"] == "qubes_dom0/vm-debian-12-xfce-root");
    CHECK(objects["private"] == "/run/shufflecake/sflc_0_3/pool/appvms/hidden/private");
}

TEST_CASE("the oracle can fail: a merged file whose hidden qube has vault's disk") {
    Document merged = seed().base;
    const ShardRead read = read_shard(shard_text(domain({})), VolumeId{0, 3});
    REQUIRE(read.shard.has_value());
    Domain hidden = read.shard->content.domains.front();
    (*hidden.volume_config)[1].attributes.set("pool", "varlibqubes");
    (*hidden.volume_config)[1].attributes.set("vid", "appvms/vault/private");
    merged.domains.push_back(hidden);
    merged.pools.push_back(read.shard->content.pools.front());
    std::map<std::string, std::string> owners{{"hidden", "sflc_0_3"}};
    for (const Domain& domain : seed().base.domains) owners.emplace(domain.value("name").value_or(""), "base");
    CHECK_FALSE(confine::reach_violations(merged, owners, "/run/shufflecake").empty());
}

// The property fuzz-confine checks, with fixed seeds: no mutation of a valid
// shard's pools, volume names, vids, sources, devices, kernels or names
// yields a merged file in which a shard's qube reaches what is not its own.
TEST_CASE("property: mutated shards never reach another qube's storage or hardware (seeded)") {
    std::size_t merged = 0, frozen = 0;
    for (std::uint64_t run = 1; run <= 400; ++run) {
        confine::SeededChoices choices(run);
        const int rounds = 1 + static_cast<int>(choices.below(4));
        const auto inputs = confine::mutate(seed(), choices, rounds);
        const confine::Verdict verdict = confine::merge_and_judge(seed(), inputs);
        merged += verdict.merged;
        frozen += verdict.frozen;
        std::string detail;
        for (const std::string& violation : verdict.violations) detail += violation + "\n";
        CAPTURE(run);
        CHECK_MESSAGE(verdict.violations.empty(), detail);
    }
    // Both outcomes occur: the property is exercised, not vacuous.
    CHECK(merged > 400);
    CHECK(frozen > 40);
}
