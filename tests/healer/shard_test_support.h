// Systems split into base and shards, in memory, for merge and split tests.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "healer/document_reader.h"
#include "healer/merge.h"
#include "healer/serializer.h"
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

inline const VolumeId v1{0, 1};
inline const VolumeId v2{0, 2};

}  // namespace reliant::healer::testing
