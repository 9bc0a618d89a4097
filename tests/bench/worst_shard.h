// The worst shard merge still accepts under the load-cost limits
// (healer/validator_cost.h): built from tests/data/fixtures/system-small.xml
// by filling its second volume (sflc_0_2) up to every limit at once. Used by
// the load-cost benchmark, and written out by it for timing the real qubesd
// loader (docs/shards.md, "What a shard may cost qubesd").
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "healer/merge.h"
#include "healer/shard.h"
#include "healer/split.h"
#include "healer/validator_cost.h"

namespace reliant::bench {

struct WorstCase {
    healer::Document base;
    std::vector<healer::Shard> shards;  // the fixture's, the second one filled up
    std::size_t filled = 0;             // index of the filled shard in `shards`
};

namespace worst_detail {

inline void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
}

// A copy of `model` (a hidden qube of the shard) named `name`, with its own
// qid, uuid and volumes.
inline healer::Domain clone(const healer::Domain& model, const std::string& model_name,
                            const std::string& name, long long qid) {
    healer::Domain copy = model;
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012lld", qid);
    copy.set_property("name", name);
    copy.set_property("qid", std::to_string(qid));
    copy.set_property("uuid", std::string(uuid));
    copy.id = "domain-" + std::to_string(qid);
    if (copy.volume_config)
        for (healer::Volume& volume : *copy.volume_config)
            if (const std::string* vid = volume.attributes.get("vid")) {
                std::string renamed = *vid;
                replace_all(renamed, "/vm-" + model_name + "-", "/vm-" + name + "-");
                replace_all(renamed, "/" + model_name + "/", "/" + name + "/");
                volume.attributes.set("vid", renamed);
            }
    return copy;
}

}  // namespace worst_detail

// nullopt when the fixture is not the expected one (the bench then fails).
inline std::optional<WorstCase> worst_allowed_shard(const healer::Document& whole,
                                                    const healer::LoadCostLimits& limits) {
    using namespace healer;
    SplitOptions split_options;
    split_options.validation.pci_root_buses = std::vector<std::string>{"0000:00"};
    SplitResult parts = split(whole, {}, std::nullopt, split_options);
    if (!parts.base || parts.shards.size() < 2) return std::nullopt;
    WorstCase worst{std::move(*parts.base), std::move(parts.shards), 1};
    Shard& shard = worst.shards[worst.filled];
    const std::string model_name = "sys-proton";  // provides network, netvm sys-firewall: 2 hops
    const Domain* found = shard.content.domain(model_name);
    if (!found) return std::nullopt;
    const Domain model = *found;

    // What the rest of the system already holds (base and the lower volume).
    Document system = worst.base;
    for (std::size_t i = 0; i < worst.filled; ++i)
        for (const Domain& domain : worst.shards[i].content.domains) system.domains.push_back(domain);

    long long qid = shard.qid_range.last;
    // A chain of netvms inside the shard, as deep as allowed: c1 -> sys-proton
    // -> sys-firewall -> sys-net, then c2 -> c1, ...
    const std::size_t model_hops =
        load_cost(Document{{}, {}, {}, {model}}, system, limits.max_netvm_hops).deepest_netvm;
    std::string upstream = model_name;
    for (std::size_t hop = model_hops + 1; hop < limits.max_netvm_hops; ++hop) {
        const std::string name = "cost-net-" + std::to_string(hop);
        Domain link = worst_detail::clone(model, model_name, name, qid--);
        link.set_property("netvm", upstream);
        shard.content.domains.push_back(std::move(link));
        upstream = name;
    }
    // A disposable template, and qubes at the bottom of the chain naming it.
    Domain dvm = worst_detail::clone(model, model_name, "cost-dvm", qid--);
    dvm.remove_property("provides_network");
    dvm.set_property("template_for_dispvms", "True");
    dvm.set_property("netvm", upstream);
    shard.content.domains.push_back(std::move(dvm));
    for (std::size_t i = 0; shard.content.domains.size() < limits.max_qubes; ++i) {
        Domain app = worst_detail::clone(model, model_name, "cost-app-" + std::to_string(i), qid--);
        app.remove_property("provides_network");
        app.set_property("netvm", upstream);
        app.set_property("default_dispvm", "cost-dvm");
        app.set_property("management_dispvm", "cost-dvm");
        shard.content.domains.push_back(std::move(app));
    }
    // The remaining lookups: names in the disposable template's preload-dispvm
    // (existing qubes, so that qubesd keeps the list), one pass each.
    const std::size_t used = load_cost(shard.content, system, limits.max_netvm_hops).lookups;
    if (used > limits.max_lookups) return std::nullopt;
    std::string preload;
    for (std::size_t i = used; i < limits.max_lookups; ++i)
        preload += (preload.empty() ? "" : " ") + std::string("cost-app-0");
    if (!preload.empty()) shard.content.domain("cost-dvm")->set_feature("preload-dispvm", preload);
    return worst;
}

}  // namespace reliant::bench
