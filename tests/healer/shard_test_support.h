// Systems split into base and shards, in memory, for merge and split tests.
#pragma once

#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <set>
#include <string>

#include "healer/document_reader.h"
#include "healer/merge.h"
#include "healer/references.h"
#include "healer/serializer.h"
#include "healer/shard.h"
#include "healer/shard_files.h"
#include "healer/split.h"
#include "test_support.h"

namespace reliant::healer::testing {

inline ValidationOptions test_validation() {
    ValidationOptions options;
    options.pci_root_buses = std::vector<std::string>{"0000:00"};
    options.root = "/nonexistent-root";
    return options;
}

inline Document parse(const std::string& xml) {
    Diagnostics diagnostics("test");
    auto document = read_document(xml, diagnostics);
    REQUIRE_MESSAGE(document.has_value(), "unparseable test document");
    return std::move(*document);
}

inline Document parse_file(const std::string& path) { return parse(reliant::testing::slurp(path)); }

struct System {
    Document base;
    std::map<VolumeId, std::string> shards;  // serialized shard files

    std::vector<ShardInput> inputs(const std::set<VolumeId>& open) const {
        std::vector<ShardInput> result;
        for (const auto& [volume, bytes] : shards)
            if (open.contains(volume)) result.push_back({volume, bytes, {}});
        return result;
    }
    std::vector<ShardInput> all() const {
        std::set<VolumeId> every;
        for (const auto& [volume, bytes] : shards) every.insert(volume);
        return inputs(every);
    }
};

// What a boot's merge report says: the volumes merged and frozen.
inline BootMerge boot_merge(std::set<VolumeId> merged, std::set<VolumeId> frozen = {}) {
    BootMerge boot;
    boot.merged = std::move(merged);
    boot.frozen = std::move(frozen);
    return boot;
}

inline SplitOptions split_options() {
    SplitOptions options;
    options.validation = test_validation();
    return options;
}

inline MergeOptions merge_options() {
    MergeOptions options;
    options.validation = test_validation();
    return options;
}

// Splits a whole system as a first split would (no shard files yet).
inline System split_system(const Document& whole) {
    const SplitResult result = split(whole, {}, std::nullopt, split_options());
    std::string problems;
    for (const auto& problem : result.report.base_problems) problems += problem + "\n";
    REQUIRE_MESSAGE(result.base.has_value(), "split could not make the base load:\n" << problems);
    System system{*result.base, {}};
    for (const Shard& shard : result.shards) system.shards[shard.volume] = serialize_shard(shard);
    return system;
}

inline bool loads(const Document& document) {
    Diagnostics diagnostics("merged");
    validate(document, diagnostics, test_validation());
    return !diagnostics.has_errors();
}

inline const ShardOutcome* outcome_of(const HealReport& report, const std::string& volume) {
    for (const auto& shard : report.shards)
        if (shard.volume == volume) return &shard;
    return nullptr;
}

inline std::set<std::string> qube_names(const Document& document) {
    std::set<std::string> names;
    for (const Domain& domain : document.domains)
        if (const auto name = domain.qube_name()) names.insert(*name);
    return names;
}

inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

// Names as whole tokens of qube-name characters.
inline std::set<std::string> name_tokens(const std::string& text) {
    std::set<std::string> found;
    std::string current;
    for (const char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') {
            current += c;
        } else if (!current.empty()) {
            found.insert(current);
            current.clear();
        }
    }
    return found;
}

// What a qube says of other qubes, in a form to compare.
struct Mentions {
    std::map<std::string, std::optional<std::string>> properties;  // restorable ones; absent: not listed
    std::set<std::string> tags;
    std::map<std::string, std::string> features;
    std::set<std::string> devices;  // class:backend:id
    bool operator==(const Mentions&) const = default;
};

inline Mentions mentions_of(const Domain& domain) {
    Mentions m;
    for (const Property& property : domain.properties)
        if (property.name && is_restorable_property(*property.name)) m.properties[*property.name] = property.value();
    for (const Tag& tag : domain.tags)
        if (tag.name) m.tags.insert(*tag.name);
    for (const Feature& feature : domain.features)
        if (feature.name && is_name_feature(*feature.name)) m.features[*feature.name] = feature.value;
    for (const DeviceGroup& group : domain.devices)
        for (const Device& device : group.devices) {
            const std::string* backend = device.attributes.get("backend-domain");
            const std::string* id = device.attributes.get("id");
            m.devices.insert(group.device_class.value_or("") + ":" + (backend ? *backend : "") + ":" +
                             (id ? *id : ""));
        }
    return m;
}

inline std::string describe(const Mentions& m) {
    std::string text;
    for (const auto& [name, value] : m.properties) text += name + "=" + value.value_or("(none)") + " ";
    for (const auto& tag : m.tags) text += "tag:" + tag + " ";
    for (const auto& [name, value] : m.features) text += name + "='" + value + "' ";
    for (const auto& device : m.devices) text += "device:" + device + " ";
    return text;
}

inline const VolumeId v1{0, 1};
inline const VolumeId v2{0, 2};

// The small fixture: base templates debian-12-xfce, fedora-41-xfce, ...;
// volume sflc_0_1 holds sys-vpn, scratch, dvm-hidden, kicksecure-17, intake,
// disp-fieldwork; sflc_0_2 holds sys-proton and press.
inline const std::string small_fixture_path = reliant::testing::test_data_dir() + "/fixtures/system-small.xml";

inline System small_system() { return split_system(parse_file(small_fixture_path)); }

inline MergeResult merge_all(const System& system, const MergeOptions& options = merge_options()) {
    return merge(system.base, system.all(), options);
}

// Edits one shard's file text.
inline void edit_shard(System& system, const VolumeId& volume, const std::string& from, const std::string& to) {
    std::string& text = system.shards.at(volume);
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "not in the shard: " << from);
    text.replace(at, from.size(), to);
}

// Edits the base through its serialized form.
inline void edit_base(System& system, const std::string& from, const std::string& to) {
    std::string text = serialize(system.base);
    REQUIRE_MESSAGE(text.find(from) != std::string::npos, "not in the base: " << from);
    system.base = parse(replace_all(text, from, to));
}

// The boot's merge report, as split reads it from /run/reliant.
inline BootMerge through_report(const MergeResult& merged) {
    const reliant::testing::TempDir dir;
    const auto path = dir.path() / "heal-report.json";
    reliant::testing::spit(path, merged.report.to_json());
    auto boot = read_boot_merge(path);
    REQUIRE(boot.ok());
    return *boot;
}

// The system's shards as split finds them on the open volumes.
inline std::vector<ExistingShard> existing(const System& system) {
    std::vector<ExistingShard> shards;
    for (const auto& entry : system.shards)
        shards.push_back({entry.first, true, read_shard(entry.second, entry.first).shard, {}});
    return shards;
}

inline const Change* change_for(const ShardOutcome& outcome, const std::string& qube, const std::string& field) {
    for (const Change& change : outcome.changes)
        if (change.qube == qube && change.field == field) return &change;
    return nullptr;
}

}  // namespace reliant::healer::testing
