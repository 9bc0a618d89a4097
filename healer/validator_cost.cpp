#include "healer/validator_cost.h"

#include <optional>
#include <sstream>
#include <unordered_map>

#include "healer/qubes_schema.h"
#include "healer/references.h"

namespace reliant::healer {
namespace {

class NetvmWalk {
public:
    NetvmWalk(const Document& shard, const Document& system) {
        // The shard's names win: merge has already refused a shard that takes a
        // name the system holds, and resolves the shard's references the same way.
        for (const Document* document : {&system, &shard})
            for (const Domain& domain : document->domains)
                if (const auto name = domain.qube_name()) by_name_[*name] = &domain;
        if (const auto value = system.value("default_netvm")) default_netvm_ = *value;
    }

    // Hops from `domain` until a qube without a netvm; limit + 1 when longer
    // (a loop never ends, so it is always longer).
    std::size_t hops(const Domain& domain, std::size_t limit) const {
        std::size_t count = 0;
        for (const Domain* at = &domain; at; at = netvm_of(*at))
            if (count++ > limit) return limit + 1;
        return count - 1;
    }

private:
    // VM-reference netvm as qubesd resolves it: explicit, else default_netvm
    // (None for templates), none for classes without a netvm.
    const Domain* netvm_of(const Domain& domain) const {
        const auto klass = domain.klass ? vm_class_named(*domain.klass) : std::nullopt;
        if (!klass || !has_netvm(*klass)) return nullptr;
        std::optional<std::string> target;
        if (const Property* own = domain.property("netvm"))
            target = own->value();
        else if (*klass != VmClass::template_vm)
            target = default_netvm_;
        if (!target || target->empty()) return nullptr;
        const auto found = by_name_.find(*target);
        return found == by_name_.end() ? nullptr : found->second;
    }

    std::unordered_map<std::string, const Domain*> by_name_;
    std::optional<std::string> default_netvm_;
};

std::size_t word_count(const std::string& text) {
    std::istringstream words(text);
    std::size_t count = 0;
    for (std::string word; words >> word;) ++count;
    return count;
}

}  // namespace

LoadCost load_cost(const Document& shard, const Document& system, std::size_t hop_limit) {
    const NetvmWalk walk(shard, system);
    LoadCost cost;
    cost.qubes = shard.domains.size();
    for (const Domain& domain : shard.domains) {
        const std::size_t hops = walk.hops(domain, hop_limit);
        cost.deepest_netvm = std::max(cost.deepest_netvm, hops);
        cost.lookups += hops + hard_references(domain).size();
        for (const DeviceGroup& group : domain.devices) cost.lookups += group.devices.size();
        if (const Feature* preload = domain.feature("preload-dispvm"))
            cost.lookups += word_count(preload->value);
    }
    return cost;
}

std::vector<std::string> load_cost_problems(const Document& shard, const Document& system,
                                            const LoadCostLimits& limits) {
    const LoadCost cost = load_cost(shard, system, limits.max_netvm_hops);
    std::vector<std::string> problems;
    if (cost.qubes > limits.max_qubes)
        problems.push_back("it holds " + std::to_string(cost.qubes) + " qubes, more than the " +
                           std::to_string(limits.max_qubes) +
                           " a shard may hold (qubesd's load time grows with the square of the qubes)");
    if (cost.deepest_netvm > limits.max_netvm_hops)
        problems.push_back("a netvm chain of its qubes is longer than " +
                           std::to_string(limits.max_netvm_hops) +
                           " hops or loops (qubesd's load time grows with the square of a chain)");
    if (cost.lookups > limits.max_lookups)
        problems.push_back("its qubes make qubesd look qubes up " + std::to_string(cost.lookups) +
                           " times at load, more than the " + std::to_string(limits.max_lookups) +
                           " allowed");
    return problems;
}

}  // namespace reliant::healer
