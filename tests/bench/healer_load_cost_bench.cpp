// Merge of the worst shard the load-cost limits allow (healer/validator_cost.h,
// built by worst_shard.h from the small fixture), with the cost bound itself,
// and merge of the largest fixture (system-large.xml split into its 8 shards),
// each against libxml2 alone parsing the same bytes, in the same run.
//   build/static/tests/bench/bench-healer-load-cost [ROUNDS] [--write-worst FILE]
//                                                   [--limits QUBES,HOPS,LOOKUPS]
// --write-worst writes the merged worst case, for timing the real qubesd
// loader on it (docs/shards.md, "What a shard may cost qubesd"); --limits
// replaces the limits, to see how that time follows them.
#include <libxml/parser.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench.h"
#include "common/file_io.h"
#include "healer/document_reader.h"
#include "healer/merge.h"
#include "healer/serializer.h"
#include "worst_shard.h"

using namespace reliant;
using namespace reliant::healer;

namespace {

std::optional<Document> read_fixture(const char* name) {
    const std::string path = std::string(RELIANT_TEST_DATA_DIR) + "/fixtures/" + name;
    const auto bytes = read_file(path, 64u << 20);
    if (!bytes) return std::nullopt;
    Diagnostics diagnostics(path);
    return read_document(*bytes, diagnostics);
}

struct Inputs {
    std::string base;
    std::vector<ShardInput> shards;
};

Inputs to_inputs(const Document& base, const std::vector<Shard>& shards) {
    Inputs inputs{serialize(base), {}};
    for (const Shard& shard : shards) inputs.shards.push_back({shard.volume, serialize_shard(shard), {}});
    return inputs;
}

void parse_all(const Inputs& inputs) {
    auto parse = [](const std::string& text) {
        xmlFreeDoc(xmlReadMemory(text.data(), static_cast<int>(text.size()), nullptr, nullptr,
                                 XML_PARSE_NONET | XML_PARSE_BIG_LINES));
    };
    parse(inputs.base);
    for (const auto& shard : inputs.shards) parse(*shard.bytes);
}

std::size_t bytes_of(const Inputs& inputs) {
    std::size_t total = inputs.base.size();
    for (const auto& shard : inputs.shards) total += shard.bytes->size();
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 10;
    const char* write_worst = nullptr;
    MergeOptions options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--write-worst") == 0 && i + 1 < argc) {
            write_worst = argv[++i];
        } else if (std::strcmp(argv[i], "--limits") == 0 && i + 1 < argc) {
            std::size_t qubes = 0, hops = 0, lookups = 0;
            if (std::sscanf(argv[++i], "%zu,%zu,%zu", &qubes, &hops, &lookups) != 3) return 2;
            options.load_cost = {qubes, hops, lookups};
        } else {
            rounds = std::atoi(argv[i]);
        }
    }
    const auto small = read_fixture("system-small.xml");
    const auto large = read_fixture("system-large.xml");
    if (!small || !large) return 2;

    options.validation.pci_root_buses = std::vector<std::string>{"0000:00"};
    const auto worst = bench::worst_allowed_shard(*small, options.load_cost);
    if (!worst) {
        std::printf("cannot build the worst allowed shard from system-small.xml\n");
        return 1;
    }
    const Inputs worst_inputs = to_inputs(worst->base, worst->shards);

    SplitOptions split_options;
    split_options.validation = options.validation;
    const SplitResult large_parts = split(*large, {}, std::nullopt, split_options);
    if (!large_parts.base) return 2;
    const Inputs large_inputs = to_inputs(*large_parts.base, large_parts.shards);

    std::size_t worst_merged = 0, large_merged = 0;
    LoadCost cost;
    Document system = worst->base;
    for (std::size_t i = 0; i < worst->filled; ++i)
        for (const Domain& domain : worst->shards[i].content.domains) system.domains.push_back(domain);
    std::string worst_output;
    const auto merge_all = [&](const Inputs& inputs, std::size_t& merged, std::string* output) {
        Diagnostics diagnostics("base");
        const auto base = read_document(inputs.base, diagnostics);
        const MergeResult result = merge(*base, inputs.shards, options);
        merged = 0;
        for (const ShardOutcome& outcome : result.report.shards) merged += outcome.status == "merged" ? 1 : 0;
        const std::string out = serialize(*result.merged);
        if (output) *output = out;
    };
    const auto results =
        bench::run({{"worst shard: libxml2 parse (baseline)", [&] { parse_all(worst_inputs); }},
                    {"worst shard: merge (with the cost bound)",
                     [&] { merge_all(worst_inputs, worst_merged, &worst_output); }},
                    {"worst shard: cost bound alone",
                     [&] {
                         cost = load_cost(worst->shards[worst->filled].content, system,
                                          options.load_cost.max_netvm_hops);
                     }},
                    {"system-large: libxml2 parse (baseline)", [&] { parse_all(large_inputs); }},
                    {"system-large: merge (with the cost bound)",
                     [&] { merge_all(large_inputs, large_merged, nullptr); }}},
                   rounds);

    std::printf(
        "worst allowed shard: %zu qubes, netvm depth %zu, %zu lookups (limits %zu, %zu, %zu); "
        "%zu bytes in, %zu of %zu shards merged\n",
        cost.qubes, cost.deepest_netvm, cost.lookups, options.load_cost.max_qubes,
        options.load_cost.max_netvm_hops, options.load_cost.max_lookups, bytes_of(worst_inputs), worst_merged,
        worst_inputs.shards.size());
    std::printf("system-large: %zu bytes in, %zu of %zu shards merged\n", bytes_of(large_inputs),
                large_merged, large_inputs.shards.size());
    bench::print(results);
    std::printf("merge / parse ratio (median): worst shard %.2f, system-large %.2f\n",
                results[1].median() / results[0].median(), results[4].median() / results[3].median());
    if (write_worst && !write_file_atomically(write_worst, worst_output, 0600).ok()) return 2;
    const bool at_limits = cost.qubes == options.load_cost.max_qubes &&
                           cost.deepest_netvm == options.load_cost.max_netvm_hops &&
                           cost.lookups == options.load_cost.max_lookups;
    return at_limits && worst_merged == worst_inputs.shards.size() &&
                   large_merged == large_inputs.shards.size()
               ? 0
               : 1;
}
