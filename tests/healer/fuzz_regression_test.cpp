// Every finding of the fuzz targets (tests/fuzz), kept as a test: the input
// that broke an invariant and the invariant itself.
#include <doctest/doctest.h>

#include "healer_cli_support.h"

using namespace reliant;
using namespace reliant::healer;
using namespace reliant::healer::testing;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string conformance = reliant::testing::test_data_dir() + "/conformance/qubes-xml/";

// A first split of `whole`, then the next boot's merge of what it wrote:
// every written shard must be merged and the result must load.
SplitResult split_then_merge(const Document& whole) {
    SplitResult result = split(whole, {}, std::nullopt, split_options());
    REQUIRE(result.base.has_value());
    std::vector<ShardInput> written;
    for (const Shard& shard : result.shards) written.push_back({shard.volume, serialize_shard(shard), {}});
    const MergeResult merged = merge(parse(serialize(*result.base)), written, merge_options());
    REQUIRE(merged.merged.has_value());
    for (const ShardOutcome& outcome : merged.report.shards) {
        CAPTURE(outcome.volume);
        CHECK(outcome.status == "merged");
    }
    CHECK(loads(parse(serialize(*merged.merged))));
    return result;
}

}  // namespace

// fuzz-split, seed 040-pool-duplicate-name: qubesd keeps the last of two
// pools with one name; split put both into one shard, which merge froze.
TEST_CASE("split writes only the pool qubesd keeps of several with one name") {
    const Document whole = parse_file(conformance + "040-pool-duplicate-name/qubes.xml");
    REQUIRE(loads(whole));
    const SplitResult result = split_then_merge(whole);
    std::size_t pools = 0;
    for (const Shard& shard : result.shards) pools += shard.content.pools.size();
    CHECK(pools + result.base->pools.size() == whole.pools.size() - 1);
}

// fuzz-split, seed 064-uuid-duplicate: qubesd loads two qubes with one uuid;
// merge refuses a shard qube that takes a uuid the base has, so the shard
// split wrote was frozen at the next boot. Now split leaves out what the next
// boot's merge would freeze, and the report says why.
TEST_CASE("split does not write a shard whose qube shares a uuid with a base qube") {
    const Document whole = parse_file(conformance + "064-uuid-duplicate/qubes.xml");
    REQUIRE(loads(whole));
    const SplitResult result = split_then_merge(whole);
    CHECK_FALSE(result.complete);
    bool refused = false;
    for (const ShardOutcome& outcome : result.report.shards)
        if (outcome.status == "error") {
            refused = true;
            CHECK(outcome.reasons.front() == "'mail' has a uuid the base or a lower volume already uses");
        }
    CHECK(refused);
}

// fuzz-split (a mutated corpus input): a qube renamed by hand kept the vid
// of its old name for its root volume in the base's lvm pool. merge now
// freezes a shard whose volumes outside its own pools are not the qube's own
// (confinement.h), so split must not write one: the report says why.
TEST_CASE("split does not write a shard that the next merge would freeze for its storage") {
    const std::string fixture = slurp(reliant::testing::test_data_dir() + "/fixtures/system-small.xml");
    const Document whole = parse(replace_all(fixture, "vid=\"qubes_dom0/vm-sys-vpn-root\"",
                                             "vid=\"qubes_dom0/vm-old-vpn-root\""));
    REQUIRE(loads(whole));
    const SplitResult result = split_then_merge(whole);
    CHECK_FALSE(result.complete);
    REQUIRE(result.shards.size() == 1);
    CHECK(result.shards.front().volume == v2);
    const ShardOutcome* refused = outcome_of(result.report, "sflc_0_1");
    REQUIRE(refused);
    CHECK(refused->status == "error");
    CHECK(refused->reasons.front() ==
          "confinement/name-space: 'sys-vpn' volume 'root' takes vid 'qubes_dom0/vm-old-vpn-root' in pool "
          "'vm-pool', which is not its own");
}

// fuzz-split, a 15-minute campaign: sflc_0_1 was left out (a qube's root is
// a snapshot of another template's volume than its chain gives: a
// hand-edited session), and a qube of sflc_0_2 keeps its volatile volume in
// sflc_0_1's pool, so the sflc_0_2 split wrote was frozen at the next boot
// (the pool was missing). Leaving one shard out now leaves out those that
// need it.
TEST_CASE("split leaves out a shard that needs one it left out") {
    std::string text = slurp(reliant::testing::test_data_dir() + "/fixtures/system-small.xml");
    text = replace_all(text,
                       "vid=\"qubes_dom0/vm-disp-fieldwork-root\" revisions_to_keep=\"2\" rw=\"True\" "
                       "save_on_stop=\"False\" snap_on_start=\"True\" size=\"21474836480\" "
                       "source=\"qubes_dom0/vm-debian-12-xfce-root\"",
                       "vid=\"qubes_dom0/vm-disp-fieldwork-root\" revisions_to_keep=\"2\" rw=\"True\" "
                       "save_on_stop=\"False\" snap_on_start=\"True\" size=\"21474836480\" "
                       "source=\"qubes_dom0/vm-fedora-41-xfce-root\"");
    text = replace_all(text, "<volume name=\"volatile\" pool=\"sflc_0_2\" vid=\"appvms/press/volatile\"",
                       "<volume name=\"volatile\" pool=\"sflc_0_1\" vid=\"appvms/press/volatile\"");
    const Document whole = parse(text);
    REQUIRE(loads(whole));
    const SplitResult result = split_then_merge(whole);
    CHECK(result.shards.empty());
    CHECK_FALSE(result.complete);
    const ShardOutcome* first = outcome_of(result.report, "sflc_0_1");
    const ShardOutcome* second = outcome_of(result.report, "sflc_0_2");
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->status == "error");
    CHECK(first->reasons.front().find("which its template chain does not give") != std::string::npos);
    CHECK(second->status == "error");
    CHECK(second->reasons.front().find("pool 'sflc_0_1'") != std::string::npos);
}

// fuzz-shard: a UTF-16 document with a lone surrogate made libxml2's
// default error handler print "encoding error ... bytes 0x00 0xD8 0x61 0x00"
// on stderr, i.e. bytes of the shard, whatever the parser options.
TEST_CASE("libxml2 prints nothing, not even on an input encoding error") {
    TempDir dir;
    const std::string bytes = std::string("\xff\xfe<\x00q\x00\x00\xd8" "a\x00", 10);
    spit(dir / "qubes.xml", bytes);
    const auto check = run_process({healer_path, "check", (dir / "qubes.xml").string()});
    REQUIRE(check.ok());
    CHECK(check->exit_code == 1);
    CHECK(check->err == "");
    CHECK(check->out.find("error[V1]") != std::string::npos);

    // The same bytes as a shard: merge prints its count line only.
    Layout layout;
    spit(layout.shards / "sflc_0_1/qubes.xml", bytes);
    const Run merged = healer_run({"merge", "--base", layout.base.string(), "--shard-root", layout.shards.string(),
                                   "--out", (layout.run / "qubes.xml").string()});
    CHECK(merged.status == 0);
    CHECK(merged.out == "reliant-healer merge: 1 shard(s) merged, 1 frozen\n");
    CHECK(merged.err == "");
}

// UBSan (fuzz-merge): a base label with the highest index there is
// (label-9223372036854775807, which qubesd loads: Python ints are unbounded)
// made merge compute the next index for a shard's new label as ++LLONG_MAX,
// a signed overflow. The new label now takes the lowest free index above
// the standard eight.
TEST_CASE("a shard's new label after a base label with the largest index takes a free index") {
    std::string text = slurp(reliant::testing::test_data_dir() + "/fixtures/system-small.xml");
    text = replace_all(text, "<label id=\"label-8\" color=\"0x000000\">black</label>",
                       "<label id=\"label-8\" color=\"0x000000\">black</label>\n"
                       "    <label id=\"label-9\" color=\"0x00aaaa\">teal</label>\n"
                       "    <label id=\"label-9223372036854775807\" color=\"0x112233\">ultra</label>");
    text = replace_all(text,
                       "<property name=\"label\">yellow</property>\n"
                       "        <property name=\"name\">personal</property>",
                       "<property name=\"label\">ultra</property>\n"
                       "        <property name=\"name\">personal</property>");
    text = replace_all(text,
                       "<property name=\"label\">green</property>\n"
                       "        <property name=\"name\">press</property>",
                       "<property name=\"label\">teal</property>\n"
                       "        <property name=\"name\">press</property>");
    const Document whole = parse(text);
    REQUIRE(loads(whole));
    const System system = split_system(whole);
    // The base keeps 'ultra' (a base qube uses it), the shard of press brings 'teal'.
    REQUIRE(system.base.labels.size() == 9);
    const MergeResult merged = merge(system.base, system.all(), merge_options());
    REQUIRE(merged.merged.has_value());
    for (const ShardOutcome& outcome : merged.report.shards) {
        CAPTURE(outcome.volume);
        CHECK(outcome.status == "merged");
    }
    std::map<std::string, std::string> ids;
    for (const Label& label : merged.merged->labels)
        if (label.name && label.id()) ids[*label.name] = *label.id();
    CHECK(ids["ultra"] == "label-9223372036854775807");
    CHECK(ids["teal"] == "label-9");
    CHECK(loads(parse(serialize(*merged.merged))));
}
