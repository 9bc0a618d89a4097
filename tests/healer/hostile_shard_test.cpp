// The hostile-shard corpus: shards written by someone who wants the boot to
// fail, to reach the base's qubes or data, or to exhaust the machine. Each is
// generated here (nothing large is committed), planted as volume sflc_0_3
// next to the two genuine shards of the small fixture, and merged by the real
// command under a 256 MiB address-space limit. Every case must end with exit
// status 0, the two genuine shards merged and the hostile one frozen (with the
// expected reason in the RAM report), nothing on stderr, nothing of the shard
// in the output, and an output `reliant-healer check` accepts: qubesd loads
// it. The control case shows that the same shard, unharmed, merges.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>

#include "healer_cli_support.h"

using namespace reliant;
using namespace reliant::healer;
using namespace reliant::healer::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
namespace fs = std::filesystem;

namespace {

// Qubes and uuids of the base (system-small.xml) a hostile shard may aim at.
constexpr const char* vault_uuid = "5d92b243-e0fd-47dd-a257-989fef829c88";
constexpr const char* hostile_volume = "sflc_0_3";  // qids 3584..4095

struct QubeSpec {
    std::string name = "hostile";
    std::string qid = "3584";
    std::string uuid = "5e1f0000-0000-4000-8000-000000000001";
    std::string klass = "AppVM";
    std::string pool = hostile_volume;
    std::string private_vid{};  // default appvms/<name>/private
    std::string root_pool = "vm-pool";
    std::string root_vid{};     // default qubes_dom0/vm-<name>-root
    std::string root_source = "qubes_dom0/vm-debian-12-xfce-root";
    std::string extra_properties{};
    std::string features{};
    std::string devices{};        // <devices> elements
    std::string extra_volumes{};  // more <volume> elements
};

std::string qube(const QubeSpec& q) {
    const std::string private_vid = q.private_vid.empty() ? "appvms/" + q.name + "/private" : q.private_vid;
    const std::string root_vid = q.root_vid.empty() ? "qubes_dom0/vm-" + q.name + "-root" : q.root_vid;
    return "    <domain id=\"domain-" + q.qid + "\" class=\"" + q.klass +
           "\">\n      <properties>\n"
           "        <property name=\"label\">red</property>\n"
           "        <property name=\"name\">" + q.name + "</property>\n"
           "        <property name=\"qid\">" + q.qid + "</property>\n"
           "        <property name=\"uuid\">" + q.uuid + "</property>\n" + q.extra_properties +
           "        <property name=\"template\">debian-12-xfce</property>\n"
           "      </properties>\n      <features>" + q.features + "</features>\n      <tags/>\n" + q.devices +
           "      <volume-config>\n"
           "        <volume name=\"root\" pool=\"" + q.root_pool + "\" vid=\"" + root_vid +
           "\" revisions_to_keep=\"2\" rw=\"True\" save_on_stop=\"False\" snap_on_start=\"True\" "
           "size=\"21474836480\" source=\"" + q.root_source + "\"/>\n"
           "        <volume name=\"private\" pool=\"" + q.pool + "\" vid=\"" + private_vid +
           "\" revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"True\" snap_on_start=\"False\" "
           "size=\"2147483648\"/>\n"
           "        <volume name=\"volatile\" pool=\"" + q.pool + "\" vid=\"appvms/" + q.name +
           "/volatile\" revisions_to_keep=\"1\" rw=\"True\" save_on_stop=\"False\" snap_on_start=\"False\" "
           "size=\"10737418240\"/>\n"
           "        <volume name=\"kernel\" pool=\"linux-kernel\" vid=\"6.12.47-1.fc41\" revisions_to_keep=\"0\" "
           "rw=\"False\" save_on_stop=\"False\" snap_on_start=\"False\"/>\n" + q.extra_volumes +
           "      </volume-config>\n    </domain>\n";
}

struct ShardSpec {
    std::string prologue{};  // before the root element (DOCTYPE ...)
    std::string root = "<qubes-shard version=\"1\" volume=\"sflc_0_3\">";
    std::string range = "<qid-range first=\"3584\" last=\"4095\"/>";
    std::string pools = "<pool name=\"sflc_0_3\" dir_path=\"/run/shufflecake/sflc_0_3/pool\" driver=\"file-reflink\" "
                        "revisions_to_keep=\"1\" ephemeral_volatile=\"False\"/>";
    std::string extra_sections{};  // after <references>
    std::string domains = qube({});
};

std::string shard(const ShardSpec& s) {
    return s.prologue + s.root + "\n  " + s.range + "\n  <labels/>\n  <pools>\n    " + s.pools +
           "\n  </pools>\n  <references>\n    <reference name=\"debian-12-xfce\" "
           "uuid=\"94b2b8fd-a02f-44a6-b95b-929e9a9a80fd\"/>\n  </references>\n" + s.extra_sections +
           "  <domains>\n" + s.domains + "  </domains>\n</qubes-shard>\n";
}

std::string billion_laughs() {
    ShardSpec s;
    s.prologue = billion_laughs_doctype("qubes-shard");
    s.domains = qube({.features = "<feature name=\"x\">&lol9;</feature>"});
    return shard(s);
}

std::string many_qubes(int count) {
    ShardSpec s;
    s.domains.clear();
    for (int i = 0; i < count; ++i) {
        char uuid[40];
        std::snprintf(uuid, sizeof uuid, "5e1f0000-0000-4000-8000-%012d", i + 1);
        s.domains += qube({.name = "h" + std::to_string(i), .qid = std::to_string(i + 1), .uuid = uuid});
    }
    return shard(s);
}

struct Outcome {
    Run run;
    std::string merged;  // the output qubes.xml
    std::string report;
};

Outcome merge_layout(const Layout& layout, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> arguments = {"merge",       "--base", layout.base.string(), "--shard-root",
                                          layout.shards.string(), "--out",  (layout.run / "qubes.xml").string(),
                                          "--report",    (layout.run / "report.json").string()};
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    Run run = healer_run(arguments, true);  // fails the test if the healer hangs
    return {run, slurp(layout.run / "qubes.xml"), slurp(layout.run / "report.json")};
}

std::string hostile_entry(const std::string& report) {
    const auto at = report.find("{\"volume\":\"sflc_0_3\"");
    REQUIRE_MESSAGE(at != std::string::npos, report);
    return report.substr(at, report.find("]}", at) - at);
}

// Plants the hostile shard (through `plant`, which may also make a FIFO, a
// symlink, a sparse file), merges, and checks everything the corpus promises.
void expect_frozen(const std::function<void(const fs::path& shard_file)>& plant, const std::string& reason,
                   const std::vector<std::string>& must_not_appear = {"hostile"}) {
    Layout layout;
    fs::create_directories(layout.shards / hostile_volume);
    plant(layout.shards / hostile_volume / "qubes.xml");
    const Outcome outcome = merge_layout(layout);
    CAPTURE(outcome.run.err);
    CHECK(outcome.run.status == 0);
    CHECK(outcome.run.out == "reliant-healer merge: 2 shard(s) merged, 1 frozen\n");
    CHECK(outcome.run.err == "");
    const std::string entry = hostile_entry(outcome.report);
    CAPTURE(entry);
    CHECK(entry.find("\"status\":\"frozen\"") != std::string::npos);
    CHECK(entry.find(reason) != std::string::npos);
    for (const auto& text : must_not_appear) CHECK_MESSAGE(outcome.merged.find(text) == std::string::npos, text);
    CHECK(outcome.merged.find("press") != std::string::npos);  // the genuine shards are there
    CHECK(healer_run({"check", (layout.run / "qubes.xml").string()}).status == 0);
}

void expect_frozen_shard(const std::string& bytes, const std::string& reason,
                         const std::vector<std::string>& must_not_appear = {"hostile"}) {
    expect_frozen([&](const fs::path& file) { spit(file, bytes); }, reason, must_not_appear);
}

}  // namespace

TEST_CASE("control: the unharmed hostile shard merges") {
    Layout layout;
    fs::create_directories(layout.shards / hostile_volume);
    spit(layout.shards / hostile_volume / "qubes.xml", shard({}));
    const Outcome outcome = merge_layout(layout);
    CHECK(outcome.run.status == 0);
    CHECK(outcome.run.out == "reliant-healer merge: 3 shard(s) merged, 0 frozen\n");
    CHECK(outcome.merged.find("<property name=\"name\">hostile</property>") != std::string::npos);
    CHECK(healer_run({"check", (layout.run / "qubes.xml").string()}).status == 0);
}

TEST_CASE("XML attacks: XXE, billion laughs, an external DTD, deep nesting, invalid UTF-8") {
    reliant::testing::TempDir secret_dir;
    spit(secret_dir / "secret", "TOP-SECRET-CONTENT");
    ShardSpec xxe;
    xxe.prologue = "<!DOCTYPE qubes-shard [<!ENTITY xxe SYSTEM \"file://" + (secret_dir / "secret").string() + "\">]>\n";
    xxe.domains = qube({.features = "<feature name=\"x\">&xxe;</feature>"});
    expect_frozen_shard(shard(xxe), "DOCTYPE", {"hostile", "TOP-SECRET-CONTENT"});

    expect_frozen_shard(billion_laughs(), "not loadable XML");

    ShardSpec dtd;
    dtd.prologue = "<!DOCTYPE qubes-shard SYSTEM \"http://attacker.example/shard.dtd\">\n";
    expect_frozen_shard(shard(dtd), "DOCTYPE");

    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += "<x>";
    for (int i = 0; i < 10000; ++i) deep += "</x>";
    expect_frozen_shard(shard({.extra_sections = deep}), "not loadable XML");

    expect_frozen_shard(shard({.domains = qube({.features = "<feature name=\"x\">caf\xe9</feature>"})}),
                        "not loadable XML");
    expect_frozen_shard(std::string("\xff\xfe<\x00q\x00\x00\xd8" "a\x00", 10), "not loadable XML");
    expect_frozen_shard("", "not loadable XML");
}

// Empty entities, each referencing the level below `fan_out` times, used in
// an attribute value: libxml2 2.9 walks the chain exponentially while it
// parses (12 KB took minutes), so the shard must be refused before parsing.
std::string entity_chain_shard(int fan_out) {
    std::string dtd = "<!DOCTYPE qubes-shard [\n<!ENTITY e0 \"\">\n";
    for (int level = 1; level <= 3; ++level) {
        dtd += "<!ENTITY e" + std::to_string(level) + " \"";
        for (int i = 0; i < fan_out; ++i) dtd += "&e" + std::to_string(level - 1) + ";";
        dtd += "\">\n";
    }
    ShardSpec s;
    s.prologue = dtd + "]>\n";
    s.root = "<qubes-shard version=\"1\" volume=\"sflc_0_3\" x=\"&e3;\">";
    return shard(s);
}

TEST_CASE("a DTD is refused before libxml2 parses it, in every encoding") {
    const std::string chain = entity_chain_shard(1000);
    CHECK(chain.size() < 16384);
    expect_frozen_shard(chain, "DOCTYPE declaration: refused in untrusted input");  // within the hang bound

    // The same DOCTYPE, hidden from a byte scan by another encoding.
    std::string utf16 = "\xff\xfe";
    for (const char c : shard({.prologue = "<!DOCTYPE qubes-shard SYSTEM \"x.dtd\">\n"})) utf16 += {c, '\0'};
    expect_frozen_shard(utf16, "not UTF-8");
    std::string utf16_no_bom = utf16.substr(2);
    expect_frozen_shard(utf16_no_bom, "not UTF-8");
    expect_frozen_shard("<?xml version=\"1.0\" encoding=\"UTF-7\"?>\n+ADw-!DOCTYPE qubes-shard+AD4-\n" + shard({}),
                        "declared encoding 'UTF-7'");
    expect_frozen_shard("\x4c\x6f\xa7\x94" + shard({}), "not UTF-8");  // "<?xm" in EBCDIC

    // UTF-8 with a BOM and a UTF-8 declaration is still a shard.
    Layout layout;
    fs::create_directories(layout.shards / hostile_volume);
    spit(layout.shards / hostile_volume / "qubes.xml",
         "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8'?>\n" + shard({.domains = qube({.name = "plain"})}));
    const Outcome outcome = merge_layout(layout);
    CHECK(outcome.run.out == "reliant-healer merge: 3 shard(s) merged, 0 frozen\n");
    CHECK(outcome.merged.find(">plain<") != std::string::npos);
}

TEST_CASE("oversized and endless shards are not read whole") {
    // 100 MiB, sparse: refused by size before being read.
    expect_frozen(
        [](const fs::path& file) {
            spit(file, shard({}));
            REQUIRE(::truncate(file.c_str(), 100 << 20) == 0);
        },
        "larger than the limit of 16777216 bytes");
    // One byte over the per-shard limit (qubesd writes 2.8 MB for 2000 qubes).
    const std::string body = shard({});
    expect_frozen_shard(body + std::string((16u << 20) + 1 - body.size(), ' '), "larger than the limit of 16777216");
    // A FIFO never blocks the boot; a symlink to /dev/zero is not followed.
    expect_frozen([](const fs::path& file) { REQUIRE(::mkfifo(file.c_str(), 0600) == 0); },
                  "not a regular file");
    expect_frozen([](const fs::path& file) { fs::create_symlink("/dev/zero", file); }, "not a regular file");
}

TEST_CASE("the shards together are bounded: a volume beyond the budget is not read") {
    Layout layout;
    // Four shards of 15 MiB fill the 64 MiB budget; the next volume is frozen unread.
    for (int index = 3; index <= 7; ++index) {
        const std::string volume = "sflc_0_" + std::to_string(index);
        const long long first = 2048 + 512LL * index;
        ShardSpec s;
        s.root = "<qubes-shard version=\"1\" volume=\"" + volume + "\">";
        s.range = "<qid-range first=\"" + std::to_string(first) + "\" last=\"" + std::to_string(first + 511) + "\"/>";
        s.pools = "<pool name=\"" + volume + "\" dir_path=\"/run/shufflecake/" + volume +
                  "/pool\" driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"False\"/>";
        char uuid[40];
        std::snprintf(uuid, sizeof uuid, "5e1f0000-0000-4000-8000-%012d", index);
        s.domains = qube({.name = "big" + std::to_string(index), .qid = std::to_string(first), .uuid = uuid,
                          .pool = volume,
                          .features = "<feature name=\"x\">" + std::string(7 << 20, 'a') +
                                      "</feature><feature name=\"y\">" + std::string(7 << 20, 'b') + "</feature>"});
        fs::create_directories(layout.shards / volume);
        spit(layout.shards / volume / "qubes.xml", shard(s));
    }
    const Outcome outcome = merge_layout(layout);
    CHECK(outcome.run.status == 0);
    CHECK(outcome.run.out == "reliant-healer merge: 6 shard(s) merged, 1 frozen\n");
    CHECK(outcome.report.find("{\"volume\":\"sflc_0_7\",\"status\":\"frozen\",\"qubes\":0,\"reasons\":[\"unreadable: "
                              "the shards together are larger than the budget") != std::string::npos);
    CHECK(healer_run({"check", (layout.run / "qubes.xml").string()}).status == 0);
}

TEST_CASE("names with / or .., and qids out of range") {
    expect_frozen_shard(shard({.domains = qube({.name = "../../etc/cron.d"})}), "no valid qube name", {"cron.d"});
    expect_frozen_shard(shard({.domains = qube({.name = "a/b"})}), "no valid qube name", {"a/b"});
    expect_frozen_shard(shard({.domains = qube({.name = ".."})}), "no valid qube name", {"appvms/../"});
    expect_frozen_shard(shard({.domains = qube({.qid = "-1"})}), "qid");
    expect_frozen_shard(shard({.domains = qube({.qid = "10001"})}), "qid");
    expect_frozen_shard(shard({.domains = qube({.qid = "99999999999999999999999999"})}), "qid");
    expect_frozen_shard(shard({.domains = qube({.qid = "0x10"})}), "qid");
}

TEST_CASE("10,000 qubes in one shard: bounded time and memory, a clear reason") {
    // qids 1..10000 collide with the base's and, once moved, with the shard's
    // own block: the block runs out.
    expect_frozen_shard(many_qubes(10000), "no free qid left in sflc_0_3's range", {"<property name=\"name\">h1</"});
}

TEST_CASE("duplicate everything") {
    const std::string twice = qube({}) + qube({.qid = "3585", .uuid = "5e1f0000-0000-4000-8000-000000000002"});
    expect_frozen_shard(shard({.domains = twice}), "already uses");
    const std::string same_uuid = qube({}) + qube({.name = "hostile2", .qid = "3585"});
    expect_frozen_shard(shard({.domains = same_uuid}), "uuid the base or a lower volume already uses");
    ShardSpec pools;
    pools.pools += "\n    " + pools.pools;
    expect_frozen_shard(shard(pools), "pool name 'sflc_0_3' is already taken");
    expect_frozen_shard(shard({.extra_sections = "  <references/>\n"}), "a second <references> section");
    ShardSpec two_ranges;
    two_ranges.range += "<qid-range first=\"3584\" last=\"4095\"/>";
    expect_frozen_shard(shard(two_ranges), "a second <qid-range> section");
    const std::string double_qid = qube({.extra_properties = "        <property name=\"qid\">3590</property>\n"});
    expect_frozen_shard(shard({.domains = double_qid}), "write-once property 'qid' of 'hostile' is set twice");
}

TEST_CASE("a shard that claims base qubes, dom0 or global properties") {
    expect_frozen_shard(shard({.domains = qube({.name = "sys-net"})}), "'sys-net' has a name the base", {});
    expect_frozen_shard(shard({.domains = qube({.uuid = vault_uuid})}), "uuid the base or a lower volume");
    expect_frozen_shard(shard({.domains = qube({.klass = "AdminVM"})}), "is not a qube a shard may hold");
    expect_frozen_shard(
        shard({.extra_sections = "  <properties>\n    <property name=\"default_netvm\">hostile</property>\n"
                                 "  </properties>\n"}),
        "global properties");
    // A header that lies about the volume, its qid block or the format.
    expect_frozen_shard(shard({.root = "<qubes-shard version=\"1\" volume=\"sflc_0_1\">"}), "names volume 'sflc_0_1'");
    expect_frozen_shard(shard({.range = "<qid-range first=\"1\" last=\"2047\"/>"}), "qid range is not 3584..4095");
    expect_frozen_shard(shard({.root = "<qubes-shard version=\"2\" volume=\"sflc_0_3\">"}), "format version");
    expect_frozen_shard(slurp(small_fixture), "not a shard: the root element is <qubes>");  // a whole qubes.xml is no shard
}

TEST_CASE("a pool outside its volume: another path, another volume, .., relative, a symlink") {
    const auto pool_at = [](const std::string& dir) {
        return "<pool name=\"sflc_0_3\" dir_path=\"" + dir +
               "\" driver=\"file-reflink\" revisions_to_keep=\"1\" ephemeral_volatile=\"False\"/>";
    };
    expect_frozen_shard(shard({.pools = pool_at("/var/lib/qubes")}), "does not lie on sflc_0_3");
    expect_frozen_shard(shard({.pools = pool_at("/run/shufflecake/sflc_0_1/pool")}), "does not lie on sflc_0_3");
    expect_frozen_shard(shard({.pools = pool_at("/run/shufflecake/sflc_0_3/../sflc_0_1/pool")}),
                        "does not lie on sflc_0_3");
    expect_frozen_shard(shard({.pools = pool_at("/run/shufflecake/sflc_0_3/../../../var/lib/qubes")}),
                        "does not lie on sflc_0_3");
    expect_frozen_shard(shard({.pools = pool_at("sflc_0_3/pool")}), "does not lie on sflc_0_3");
    expect_frozen_shard(
        shard({.pools = "<pool name=\"sflc_0_3\" dir_path=\"/run/shufflecake/sflc_0_3/pool\" driver=\"lvm_thin\" "
                        "volume_group=\"qubes_dom0\" thin_pool=\"vm-pool\"/>"}),
        "is not a directory pool");

    // The pool directory on the mounted volume is a symlink into the base.
    Layout layout;
    const fs::path volume_root = layout.dir / "volumes";
    const fs::path volume = volume_root / hostile_volume;
    fs::create_directories(volume);
    fs::create_directories(layout.dir / "base-data");
    fs::create_directory_symlink(layout.dir / "base-data", volume / "pool");
    fs::create_directories(layout.shards / hostile_volume);
    spit(layout.shards / hostile_volume / "qubes.xml", shard({.pools = pool_at((volume / "pool").string())}));
    const Outcome outcome = merge_layout(layout, {"--volume-root", volume_root.string()});
    CHECK(outcome.run.status == 0);
    CHECK(hostile_entry(outcome.report).find("resolves outside sflc_0_3 (a symlink?)") != std::string::npos);
    CHECK(outcome.merged.find("hostile") == std::string::npos);
    // Without the symlink, the same shard merges.
    fs::remove(volume / "pool");
    fs::create_directories(volume / "pool");
    const Outcome control = merge_layout(layout, {"--volume-root", volume_root.string()});
    CHECK(hostile_entry(control.report).find("\"status\":\"merged\"") != std::string::npos);
}

TEST_CASE("a shard's qube may not use a base qube's disk") {
    // Its own pool, but a vid that climbs out of the pool's directory.
    expect_frozen_shard(shard({.domains = qube({.private_vid = "appvms/../../../../var/lib/qubes/appvms/vault/private"})}),
                        "leaves its pool's directory");
    expect_frozen_shard(shard({.domains = qube({.private_vid = "/var/lib/qubes/appvms/vault/private"})}),
                        "leaves its pool's directory");
    // A volume in the base's lvm pool with vault's private volume as its vid.
    expect_frozen_shard(shard({.domains = qube({.root_vid = "qubes_dom0/vm-vault-private"})}), "which is not its own");
    // Or with dom0's root logical volume.
    expect_frozen_shard(shard({.domains = qube({.root_vid = "qubes_dom0/root"})}), "which is not its own");
    // A snapshot of vault's private volume as its root.
    expect_frozen_shard(shard({.domains = qube({.root_source = "qubes_dom0/vm-vault-private"})}),
                        "which its template chain does not give");
    // Its private volume in a base pool: not on the volume at all.
    expect_frozen_shard(shard({.domains = qube({.pool = "varlibqubes"})}), "does not keep its private volume on");
}

// Issue 16 (confinement by construction, shards.md "Confinement"): holes
// reproduced with the real qubesd loader, now frozen by the named rule.
TEST_CASE("a volume name, an lvm name family or a device reaches a base qube") {
    // qubesd derives appvms/hostile/../vault/private: vault's private image.
    expect_frozen_shard(shard({.domains = qube({.extra_volumes = "<volume name=\"../vault/private\" "
                                                                 "pool=\"varlibqubes\" rw=\"True\"/>\n"})}),
                        "confinement/volume-name");
    // Qube vault-private's volume snap is qubes_dom0/vm-vault-private-snap, vault's snapshot.
    expect_frozen_shard(shard({.domains = qube({.name = "vault-private",
                                                .extra_volumes = "<volume name=\"snap\" pool=\"vm-pool\" "
                                                                 "rw=\"True\"/>\n"})}),
                        "confinement/name-space", {"<property name=\"name\">vault-private<"});
    // sys-usb's USB controller (required, autostart), sys-net's card, a block device of dom0.
    expect_frozen_shard(
        shard({.domains = qube({.extra_properties = "        <property name=\"autostart\">True</property>\n",
                                .devices = "<devices class=\"pci\"><device backend-domain=\"dom0\" id=\"00_0d.0\" "
                                           "mode=\"required\"/></devices>"})}),
        "confinement/device");
    expect_frozen_shard(shard({.domains = qube({.devices = "<devices class=\"pci\"><device backend-domain=\"dom0\" "
                                                           "id=\"00_14.3\" mode=\"required\"/></devices>"})}),
                        "confinement/device");
    expect_frozen_shard(shard({.domains = qube({.devices = "<devices class=\"block\"><device backend-domain=\"dom0\" "
                                                           "id=\"nvme0n1\" mode=\"auto-attach\"/></devices>"})}),
                        "confinement/device");
}
