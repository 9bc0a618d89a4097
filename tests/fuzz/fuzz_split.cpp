// split: qubesd's qubes.xml and the shards the volumes hold now (the input
// format is in fuzz_support.h; an odd input size also passes the boot's
// merge report: the volumes whose shard read merged, the others frozen).
// What shutdown relies on:
//   * an input that does not load is refused: nothing to write;
//   * a base that is written loads on its own (duress boot), as written;
//   * every shard that is written reads back, and the next boot's merge of
//     the written base and the shards then on disk (written or kept) loads
//     and merges every written one.
#include <cstddef>
#include <cstdint>
#include <set>

#include "healer/document_reader.h"
#include "healer/merge.h"
#include "healer/serializer.h"
#include "healer/split.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const fuzz::MultiInput input = fuzz::split_input({reinterpret_cast<const char*>(data), size});
    healer::Diagnostics read("input");
    const auto session = healer::read_document(input.first, read);
    if (!session) return 0;  // split is not run on unreadable input (run_split)

    std::vector<healer::ExistingShard> existing;
    healer::BootMerge boot;
    for (const fuzz::Part& part : input.parts) {
        healer::ShardRead shard = healer::read_shard(part.bytes, part.volume);
        (shard.shard ? boot.merged : boot.frozen).insert(part.volume);
        existing.push_back({part.volume, true, std::move(shard.shard), std::move(shard.problems)});
    }
    healer::SplitOptions options;
    options.validation = fuzz::validation();
    const healer::SplitResult result =
        healer::split(*session, existing, size % 2 ? std::optional(boot) : std::nullopt, options);

    if (!fuzz::loads(*session)) {
        if (result.base || !result.shards.empty()) fuzz::violated("split wrote from an input that does not load");
        return 0;
    }
    if (!result.base) return 0;  // reported: the base cannot be made to load alone
    fuzz::require_written_file_loads(*result.base, "split base");

    // The next boot merges what is then on disk: the shards written now and
    // the ones kept.
    std::vector<healer::ShardInput> next_boot;
    std::set<healer::VolumeId> written;
    for (const healer::Shard& shard : result.shards) written.insert(shard.volume);
    for (const fuzz::Part& part : input.parts)
        if (!written.contains(part.volume)) next_boot.push_back({part.volume, std::string(part.bytes), {}});
    for (const healer::Shard& shard : result.shards) {
        const std::string bytes = healer::serialize_shard(shard);
        const healer::ShardRead reread = healer::read_shard(bytes, shard.volume);
        if (!reread.shard) {
            std::string problems;
            for (const auto& problem : reread.problems) problems += problem + "\n";
            fuzz::violated("a written shard does not read", problems + bytes);
        }
        next_boot.push_back({shard.volume, bytes, {}});
    }
    healer::Diagnostics base_read("base");
    const auto base = healer::read_document(healer::serialize(*result.base), base_read);
    healer::MergeOptions merge_options;
    merge_options.validation = fuzz::validation();
    const healer::MergeResult merged = healer::merge(*base, next_boot, merge_options);
    if (!merged.merged) fuzz::violated("the next boot's merge has no output");
    for (const healer::ShardOutcome& outcome : merged.report.shards)
        if (outcome.status != "merged" && written.contains(*healer::parse_volume_name(outcome.volume))) {
            std::string reasons;
            for (const auto& reason : outcome.reasons) reasons += reason + "\n";
            fuzz::violated("a shard split wrote is frozen by the next merge", outcome.volume + ": " + reasons);
        }
    fuzz::require_written_file_loads(*merged.merged, "merge after split");
    return 0;
}
