// merge: a base qubes.xml and the shards found next to it (the input format
// is in fuzz_support.h). What the boot relies on:
//   * a base that does not load gives no output;
//   * otherwise the output, as written to disk and read back, loads in
//     qubesd (every shard is merged or frozen, never half merged: the output
//     holds the base's qubes plus exactly those of the merged shards).
#include <cstddef>
#include <cstdint>

#include "healer/document_reader.h"
#include "healer/merge.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::MultiInput input = fuzz::split_input({reinterpret_cast<const char*>(data), size});
    healer::Diagnostics read("base");
    const auto base = healer::read_document(input.first, read);
    if (!base) return 0;  // merge is not run without a readable base (run_merge)

    std::vector<healer::ShardInput> shards;
    for (const fuzz::Part& part : input.parts) shards.push_back({part.volume, std::string(part.bytes), {}});
    healer::MergeOptions options;
    options.validation = fuzz::validation();
    const healer::MergeResult result = healer::merge(*base, shards, options);

    const bool base_loads = fuzz::loads(*base);
    if (!result.merged) {
        if (base_loads) fuzz::violated("no output although the base loads");
        return 0;
    }
    if (!base_loads) fuzz::violated("an output although the base does not load");
    std::size_t expected = base->domains.size();
    for (const healer::ShardOutcome& outcome : result.report.shards) {
        if (outcome.status == "merged")
            expected += outcome.qubes;
        else if (outcome.status != "frozen")
            fuzz::violated("a shard neither merged nor frozen", outcome.status);
        else if (outcome.reasons.empty())
            fuzz::violated("a shard frozen without a reason", outcome.volume);
    }
    if (result.report.shards.size() != shards.size()) fuzz::violated("a shard missing from the report");
    if (result.merged->domains.size() != expected) fuzz::violated("the output does not hold base + merged shards");
    fuzz::require_written_file_loads(*result.merged, "merge");
    return 0;
}
