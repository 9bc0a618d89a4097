// Finding shard files under a shard root (/run/shufflecake by default):
// one qubes.xml at the top of each sflc_M_N directory. Symlinks are not
// followed: a volume's content is untrusted.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "healer/merge.h"
#include "healer/split.h"

namespace reliant::healer {

inline constexpr const char* shard_file_name = "qubes.xml";

// qubesd writes a few MB for thousands of qubes (2.8 MB for 2000), and merge
// holds every shard with its model and the output in memory, about four
// times their size: shards are bounded one by one and together. Volumes are
// read in order, so the lower ones get the budget first; a shard beyond it is
// unreadable (frozen by merge, never overwritten by split).
struct ShardBudget {
    std::size_t per_shard = 16u << 20;
    std::size_t total = 64u << 20;
};

// Every sflc_M_N directory of `root` that holds a shard file, for merge.
std::vector<ShardInput> collect_shards(const std::filesystem::path& root, const XmlLimits& limits,
                                       const ShardBudget& budget = {});

// The current shard of every sflc_M_N directory of `root`, for split.
std::vector<ExistingShard> existing_shards(const std::filesystem::path& root, const XmlLimits& limits,
                                           const ShardBudget& budget = {});

// Which volumes the boot's merge merged and froze, from its report.
Result<BootMerge> read_boot_merge(const std::filesystem::path& report);

}  // namespace reliant::healer
