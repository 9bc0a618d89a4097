// Property-based: random systems (the fixtures, the corpus's generated
// systems, and new ones made by moving random qubes onto random volumes),
// split, then changed like a maintenance session would (base templates
// renamed, replaced by a newer version, removed), then merged with a random
// subset of shards open. Whatever happens:
//   - the output loads (the validator agrees with qubesd, see conformance);
//   - it holds exactly the base and the shards reported merged;
//   - no name of a closed volume's qubes or pools appears in any output byte.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "healer/shard.h"
#include "shard_test_support.h"

using namespace reliant::healer;
using namespace reliant::healer::testing;

namespace {

const std::string data = reliant::testing::test_data_dir();

std::vector<std::string> source_systems() {
    return {data + "/fixtures/system-small.xml",
            data + "/conformance/qubes-xml/002-valid-small-lvm/qubes.xml",
            data + "/conformance/qubes-xml/003-valid-reflink-base/qubes.xml",
            data + "/conformance/qubes-xml/004-valid-file-base/qubes.xml",
            data + "/conformance/qubes-xml/005-valid-medium/qubes.xml"};
}

// Names as whole tokens of qube-name characters.
std::set<std::string> tokens(const std::string& text) {
    std::set<std::string> found;
    std::string current;
    for (const char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') {
            current += c;
        } else if (!current.empty()) {
            found.insert(current);
            current.clear();
        }
    }
    if (!current.empty()) found.insert(current);
    return found;
}

// Moves random AppVMs of the base onto random volumes: their private and
// volatile volumes go to that volume's file-reflink pool.
Document generate(Document whole, std::mt19937& random) {
    std::vector<Domain*> movable;
    for (Domain& domain : whole.domains)
        // Not network or disposable templates: base qubes depending on them
        // could not be confined (split refuses such a base, tested apart).
        if (domain.klass == "AppVM" && !domain.value("provides_network") && !domain.value("template_for_dispvms") &&
            domain.volume_config) {
            const auto name = domain.value("name").value_or("");
            bool on_base = true;
            for (const Volume& volume : *domain.volume_config)
                if (volume.pool() && volume.pool()->starts_with("sflc_")) on_base = false;
            if (on_base && !name.starts_with("sys-")) movable.push_back(&domain);
        }
    std::shuffle(movable.begin(), movable.end(), random);
    const std::size_t count = std::min<std::size_t>(movable.size(), 1 + random() % 4);
    for (std::size_t i = 0; i < count; ++i) {
        const int index = 3 + static_cast<int>(random() % 3);  // volumes 3..5 are new to every source system
        const std::string pool = "sflc_0_" + std::to_string(index);
        if (!whole.pool(pool)) {
            Pool added;
            added.attributes.set("name", pool);
            added.attributes.set("dir_path", "/run/shufflecake/" + pool + "/pool");
            added.attributes.set("driver", "file-reflink");
            added.attributes.set("revisions_to_keep", "1");
            added.attributes.set("ephemeral_volatile", "False");
            whole.pools.push_back(added);
        }
        const std::string name = movable[i]->value("name").value_or("");
        for (Volume& volume : *movable[i]->volume_config) {
            const std::string* volume_name = volume.name();
            if (!volume_name || (*volume_name != "private" && *volume_name != "volatile")) continue;
            volume.attributes.set("pool", pool);
            volume.attributes.set("vid", "appvms/" + name + "/" + *volume_name);
            volume.attributes.set("revisions_to_keep", *volume_name == "private" ? "1" : "0");
        }
    }
    return whole;
}

// A maintenance session on the base: a template renamed (same uuid), or
// replaced by a newer version of its family (new name, new uuid), or, when
// no base qube uses it, removed.
void change_templates(System& system, std::mt19937& random) {
    std::vector<std::string> templates;
    for (const Domain& domain : system.base.domains)
        if (domain.klass == "TemplateVM") templates.push_back(domain.value("name").value_or(""));
    if (templates.empty()) return;
    const std::string chosen = templates[random() % templates.size()];
    std::string base = serialize(system.base);
    switch (random() % 3) {
        case 0:  // rename
            base = replace_all(base, ">" + chosen + "<", ">" + chosen + "-renamed<");
            break;
        case 1: {  // a newer version replaces it
            std::string newer = chosen;
            bool bumped = false;
            for (std::size_t i = 0; i < newer.size() && !bumped; ++i)
                if (std::isdigit(static_cast<unsigned char>(newer[i]))) {
                    std::size_t end = i;
                    while (end < newer.size() && std::isdigit(static_cast<unsigned char>(newer[end]))) ++end;
                    newer.replace(i, end - i, std::to_string(std::stoi(newer.substr(i, end - i)) + 1));
                    bumped = true;
                }
            if (!bumped) return;
            const Domain* old = system.base.domain(chosen);
            const std::string uuid = old->value("uuid").value_or("");
            base = replace_all(base, chosen, newer);
            if (!uuid.empty())
                base = replace_all(
                    base, uuid,
                    "abcdef01-2345-4678-89ab-" + std::to_string(100000000000 + random() % 899999999999));
            break;
        }
        default:  // removed, if the base does not use it
            for (const Domain& domain : system.base.domains)
                if (domain.value("template") == chosen || domain.value("default_template") == chosen) return;
            if (system.base.value("default_template") == chosen) return;
            std::erase_if(system.base.domains, [&](const Domain& d) { return d.value("name") == chosen; });
            return;
    }
    system.base = parse(base);
}

}  // namespace

TEST_CASE("random systems, random open subsets, changed base templates: every merge is sound") {
    const auto sources = source_systems();
    int runs = 0, fixed = 0;
    for (unsigned seed = 1; seed <= 200; ++seed) {
        CAPTURE(seed);
        std::mt19937 random(seed);
        Document whole = parse_file(sources[seed % sources.size()]);
        if (seed % 2 == 0) whole = generate(std::move(whole), random);
        const System clean = split_system(whole);
        REQUIRE(loads(clean.base));
        System system = clean;
        if (random() % 3 != 0) change_templates(system, random);
        if (!loads(system.base)) continue;  // the session itself would not have been possible

        std::set<VolumeId> open, closed;
        for (const auto& [volume, bytes] : system.shards) (random() % 2 ? open : closed).insert(volume);

        const MergeResult result = merge(system.base, system.inputs(open), merge_options());
        REQUIRE(result.merged);
        ++runs;
        CHECK(loads(*result.merged));

        // Exactly the base and the merged shards.
        std::set<std::string> expected = qube_names(system.base);
        for (const VolumeId& volume : open) {
            const ShardOutcome* outcome = outcome_of(result.report, volume.name());
            REQUIRE(outcome);
            // A shard split from a loadable system is never frozen: a base
            // template renamed, replaced or removed is fixed in the shard.
            std::string reasons;
            for (const auto& reason : outcome->reasons) reasons += "; " + reason;
            CHECK_MESSAGE(outcome->status == "merged", volume.name() << " " << outcome->status << reasons);
            if (outcome->status != "merged") continue;
            fixed += static_cast<int>(outcome->changes.size());
            for (const auto& name : qube_names(read_shard(system.shards.at(volume), volume).shard->content))
                expected.insert(name);
        }
        CHECK(qube_names(*result.merged) == expected);

        // Nothing of a closed volume in any byte written.
        const auto written = tokens(serialize(*result.merged) + result.report.to_json());
        const std::set<std::string> visible = qube_names(*result.merged);
        for (const VolumeId& volume : closed) {
            CHECK(!written.contains(volume.name()));
            const ShardRead read = read_shard(system.shards.at(volume), volume);
            REQUIRE(read.shard);
            for (const auto& name : qube_names(read.shard->content)) {
                if (visible.contains(name)) continue;  // the same name is also a visible qube's
                CHECK_MESSAGE(!written.contains(name), "closed qube " << name << " in the output");
            }
            for (const Pool& pool : read.shard->content.pools) CHECK(!written.contains(*pool.name()));
        }
    }
    MESSAGE(runs << " merges, " << fixed << " fixes or renumberings");
    CHECK(runs >= 150);
}
