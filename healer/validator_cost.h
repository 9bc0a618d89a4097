// What a shard may cost qubesd's load (docs/shards.md, "What a shard may cost
// qubesd"). qubesd's loader looks qubes up by walking the whole collection,
// sorted, each time (VMCollection.__iter__ sorts, __getitem__ and
// __contains__ scan): every name it resolves costs a pass over all N qubes.
// At domain-load each qube with a netvm checks for loops with
// get_vms_connected_to, one pass per qube below it in the netvm tree, so a
// qube D hops deep costs D passes and a chain of L netvms L²/2 of them
// (measured: 600 chained netvms, 66 s; 1000, 361 s). A shard that merge
// writes is therefore bounded in qubes, netvm depth and lookups; one beyond
// the bound is frozen. This is a shard-only refusal: `check` and the base
// never apply it (qubesd loads such a file, slowly).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "healer/model.h"

namespace reliant::healer {

struct LoadCostLimits {
    // Qubes in one shard (a volume's qid block holds 512; the large fixture's
    // busiest volume has 248).
    std::size_t max_qubes = 256;
    // netvm hops from any qube of the shard to a qube without a netvm,
    // counting qubes of the base and of lower volumes, defaults included.
    std::size_t max_netvm_hops = 8;
    // Collection passes the shard's qubes cause: VM-reference properties,
    // device assignments, preload-dispvm names, and their netvm hops.
    std::size_t max_lookups = 4096;
};

struct LoadCost {
    std::size_t qubes = 0;
    std::size_t deepest_netvm = 0;  // hops; a loop counts as beyond any limit
    std::size_t lookups = 0;
};

// The cost the shard's qubes add to loading `system` (base and lower volumes)
// with them; their references are resolved in the shard first, then in the
// system (as merge resolves them).
LoadCost load_cost(const Document& shard, const Document& system, std::size_t hop_limit);

// Why merging `shard` would exceed the limits, in words; empty when within.
std::vector<std::string> load_cost_problems(const Document& shard, const Document& system,
                                            const LoadCostLimits& limits = {});

}  // namespace reliant::healer
