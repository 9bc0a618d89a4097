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

#include "healer/heal_common.h"
#include "healer/ownership.h"
#include "healer/shard.h"
#include "healer/snapshots.h"
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

// Moves random AppVMs of the base onto random volumes: their private and
// volatile volumes go to that volume's file-reflink pool, on one of
// `devices` Shufflecake devices.
Document generate(Document whole, std::mt19937& random, int devices = 1) {
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
        const int device = devices > 1 ? static_cast<int>(random() % static_cast<unsigned>(devices)) : 0;
        const std::string pool = "sflc_" + std::to_string(device) + "_" + std::to_string(index);
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
        const auto written = name_tokens(serialize(*result.merged) + result.report.to_json());
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

namespace {

// Random qubes name random other qubes: a netvm (when the other provides
// network), a disposable template, a GUI or audio qube, tags qubesd
// maintains, a name-bearing feature, a device assignment. Across the base,
// volumes of one device and of another: up, down and sideways.
void add_references(Document& whole, std::mt19937& random) {
    const auto volume_of = [&](const Domain& domain) {
        return domain.is_admin() ? std::nullopt : qube_volume(domain, whole, "/run/shufflecake");
    };
    std::vector<std::string> names;
    for (Domain& domain : whole.domains) {
        if (domain.is_admin() || !domain.qube_name()) continue;
        names.push_back(*domain.qube_name());
        // A qube moved onto a volume leaves dom0's devices behind (a shard
        // may not hold them: confinement, rule `device`).
        if (volume_of(domain)) domain.devices.clear();
    }
    const int count = 4 + static_cast<int>(random() % 16);
    for (int i = 0; i < count; ++i) {
        const std::string from = names[random() % names.size()];
        const std::string to = names[random() % names.size()];
        Domain* a = whole.domain(from);
        const Domain* b = whole.domain(to);
        if (from == to || a->klass == "TemplateVM") continue;
        switch (random() % 8) {
            case 0: a->tags.push_back(Tag{"created-by-" + to, 0}); break;
            case 1: a->tags.push_back(Tag{"disp-created-by-" + to, 0}); break;
            case 2: {
                // A shard's qube uses no device of the base or of a lower
                // volume (confinement, rule `device`): not generated.
                const auto home = volume_of(*a), there = volume_of(*b);
                if (home && (!there || (there->device == home->device && there->index < home->index))) break;
                Device device;
                device.attributes.set("backend-domain", to);
                device.attributes.set("id", "1-" + std::to_string(i));
                device.attributes.set("mode", "auto-attach");
                device.attributes.set("identity", "*");
                a->devices.push_back(DeviceGroup{"usb", {device}, 0});
                break;
            }
            case 3: a->set_property("guivm", to); break;
            case 4: a->set_property("audiovm", to); break;
            case 5:
                if (bool_property(*b, "provides_network") && !bool_property(*a, "provides_network")) a->set_property("netvm", to);
                break;
            case 6:
                if (bool_property(*b, "template_for_dispvms") && a->klass != "DispVM") a->set_property("default_dispvm", to);
                break;
            default: a->set_feature("deferred-netvm-original", to); break;
        }
    }
}

// What `mentions` becomes once split and merged with every volume open: a
// mention of a qube that is neither always open with the qube nor on a
// higher volume of its device (whose shard keeps it) is gone for good; a
// netvm or default_dispvm is then none, anything else its default.
using Placement = std::map<std::string, std::optional<VolumeId>>;  // qube -> volume (nullopt: the base)

Mentions expected_after(const Mentions& mentions, const std::optional<VolumeId>& home, const Placement& volumes) {
    const auto kept = [&](const std::string& target) {
        const auto found = volumes.find(target);
        const auto there = found == volumes.end() ? std::nullopt : found->second;
        if (!there) return true;
        if (!home || there->device != home->device) return false;
        return true;  // lower: always open with it; higher: its shard keeps it
    };
    Mentions result;
    for (const auto& [name, value] : mentions.properties) {
        if (!value || kept(*value))
            result.properties[name] = value;
        else if (name == "netvm" || name == "default_dispvm")
            result.properties[name] = std::nullopt;
    }
    for (const std::string& tag : mentions.tags)
        if (const auto target = tag_target(tag); !target || kept(*target)) result.tags.insert(tag);
    for (const auto& [name, value] : mentions.features) {
        std::string words;
        for (const std::string& word : feature_names(value))
            if (kept(word)) words += (words.empty() ? "" : " ") + word;
        result.features[name] = words;
    }
    for (const std::string& device : mentions.devices) {
        const auto first = device.find(':'), second = device.find(':', first + 1);
        if (kept(device.substr(first + 1, second - first - 1))) result.devices.insert(device);
    }
    return result;
}

}  // namespace

TEST_CASE("references in every direction: no shard names a qube not always open with it, all come back") {
    const auto sources = source_systems();
    const std::filesystem::path volume_root = "/run/shufflecake";
    int runs = 0, restored = 0;
    for (unsigned seed = 1; seed <= 150; ++seed) {
        CAPTURE(seed);
        std::mt19937 random(seed);
        Document whole = generate(parse_file(sources[seed % sources.size()]), random, 2);
        add_references(whole, random);
        if (!loads(whole)) continue;  // the generated session itself would not load
        const SplitResult result = split(whole, {}, std::nullopt, split_options());
        if (!result.base || !result.complete) continue;  // refused: tested rule by rule
        ++runs;

        Placement volumes;
        for (const Domain& domain : whole.domains)
            if (const auto name = domain.qube_name(); name && !domain.is_admin())
                volumes[*name] = qube_volume(domain, whole, volume_root);

        // No byte of the base names a volume's qube; no byte of a shard a
        // qube of a higher volume or of another device.
        const auto base_tokens = name_tokens(serialize(*result.base));
        System system{*result.base, {}};
        for (const Shard& shard : result.shards) system.shards[shard.volume] = serialize_shard(shard);
        // (Loops without structured bindings: the CHECKs' lambdas take them, clang.)
        for (const auto& placed : volumes) {
            const std::string& name = placed.first;
            const auto& volume = placed.second;
            if (!volume) continue;
            CHECK_MESSAGE(!base_tokens.contains(name), name << " (" << volume->name() << ") in the base");
            for (const auto& shard : system.shards) {
                const bool visible = volume->device == shard.first.device && volume->index <= shard.first.index;
                if (!visible)
                    CHECK_MESSAGE(!name_tokens(shard.second).contains(name),
                                  name << " (" << volume->name() << ") in the shard of " << shard.first.name());
            }
        }

        // Every volume open: each qube says of others what it said, less
        // what no shard may keep.
        const MergeResult merged = merge_all(system);
        REQUIRE(merged.merged);
        CHECK(loads(*merged.merged));
        for (const ShardOutcome& outcome : merged.report.shards) {
            CHECK_MESSAGE(outcome.status == "merged", outcome.volume);
            for (const Change& change : outcome.changes) restored += change.kind == "restored";
        }
        for (const auto& placed : volumes) {
            const std::string& name = placed.first;
            const auto& volume = placed.second;
            CAPTURE(name);
            const Domain* after = merged.merged->domain(name);
            REQUIRE(after);
            const Mentions expected = expected_after(mentions_of(*whole.domain(name)), volume, volumes);
            const Mentions actual = mentions_of(*after);
            CHECK_MESSAGE(actual == expected, describe(actual) << "\nexpected " << describe(expected));
        }
    }
    MESSAGE(runs << " systems split and merged, " << restored << " fields restored");
    CHECK(runs >= 100);
    CHECK(restored >= 50);
}

// A qube created this session the way qubesd creates one: a copy of
// `model` (an AppVM) with a new identity, its private and volatile volumes
// in `pool` (the default pool, or one named with -P), every volume id as
// qubesd derives it from the name.
Domain created_qube(const Domain& model, const Document& session, const std::string& name, long long qid,
                    const std::string& pool) {
    Domain qube = model;
    qube.set_property("name", name);
    qube.set_property("uuid", "c0ffee00-0000-4000-8000-" + std::string(12 - std::to_string(qid).size(), '0') +
                                  std::to_string(qid));
    qube.set_property("qid", std::to_string(qid));
    qube.id = "domain-" + std::to_string(qid);
    qube.tags.clear();
    qube.devices.clear();  // qvm-create assigns none
    for (Volume& volume : *qube.volume_config) {
        const std::string* volume_name = volume.name();
        if (!volume_name || !volume.pool() || *volume.pool() == "linux-kernel") continue;
        if (*volume_name == "private" || *volume_name == "volatile") volume.attributes.set("pool", pool);
        if (const Pool* in = session.pool(*volume.pool())) volume.attributes.set("vid", derived_vid(*in, qube, *volume_name));
    }
    return qube;
}

TEST_CASE("new qubes in every pool: each is kept in its volume's shard or reported lost at shutdown, never dropped silently") {
    const auto sources = source_systems();
    const std::filesystem::path volume_root = "/run/shufflecake";
    int runs = 0, kept = 0, lost = 0, unloadable = 0;
    for (unsigned seed = 1; seed <= 110; ++seed) {
        CAPTURE(seed);
        std::mt19937 random(seed);
        const Document whole = generate(parse_file(sources[seed % sources.size()]), random, 2);
        const SplitResult first = split(whole, {}, std::nullopt, split_options());
        if (!first.base || !first.complete) continue;  // refused: tested rule by rule
        System system{*first.base, {}};
        for (const Shard& shard : first.shards) system.shards[shard.volume] = serialize_shard(shard);
        const MergeResult merged = merge_all(system);
        REQUIRE(merged.merged);

        // The session creates 1..4 qubes, each in a random data pool: the
        // default one (a volume's), another open volume's, or a base pool.
        Document session = *merged.merged;
        std::vector<const Domain*> models;
        for (const Domain& domain : session.domains)
            if (domain.klass == "AppVM" && !domain.value("template_for_dispvms") && !domain.value("provides_network") &&
                domain.volume_config && !qube_volume(domain, session, volume_root))
                models.push_back(&domain);
        std::vector<std::string> pools;
        for (const Pool& pool : session.pools)
            if (pool.name() && !(pool.driver() && *pool.driver() == "linux-kernel")) pools.push_back(*pool.name());
        if (models.empty() || pools.empty()) continue;
        std::map<std::string, std::optional<VolumeId>> created;  // name -> its volume (none: the base)
        const int count = 1 + static_cast<int>(random() % 4);
        std::vector<Domain> additions;
        for (int i = 0; i < count; ++i) {
            const std::string name = "created-" + std::to_string(seed) + "-" + std::to_string(i);
            const std::string& pool = pools[random() % pools.size()];
            additions.push_back(created_qube(*models[random() % models.size()], session, name, 1900 + i, pool));
            created[name] = pool_volume(*session.pool(pool), volume_root);
        }
        for (Domain& domain : additions) session.domains.push_back(std::move(domain));
        if (!loads(session)) {  // qubesd would not have saved it
            ++unloadable;
            continue;
        }

        const SplitResult result = split(session, existing(system), through_report(merged), split_options());
        REQUIRE(result.base);
        ++runs;
        std::set<std::string> reported;
        for (const Change& change : result.report.base_changes)
            if (change.kind == "lost-at-shutdown") reported.insert(change.qube);
        for (const auto& entry : created) {
            const std::string& name = entry.first;
            const std::optional<VolumeId>& home = entry.second;
            CAPTURE(name);
            int in_shards = 0;
            for (const Shard& shard : result.shards)
                if (shard.content.domain(name)) {
                    ++in_shards;
                    CHECK(home);
                    if (home) CHECK(shard.volume == *home);
                }
            if (home) {
                CHECK(in_shards == 1);
                CHECK_FALSE(reported.contains(name));
                ++kept;
            } else {
                CHECK(in_shards == 0);
                CHECK(reported.contains(name));  // the session's end loses it: said before it happens
                ++lost;
            }
        }
    }
    MESSAGE(runs << " sessions split (" << unloadable << " would not load), " << kept
                 << " new qubes kept on their volume, " << lost << " reported lost");
    CHECK(runs >= 35);
    CHECK(kept >= 50);
    CHECK(lost >= 18);
}
