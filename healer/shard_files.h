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

// Every sflc_M_N directory of `root` that holds a shard file, for merge.
std::vector<ShardInput> collect_shards(const std::filesystem::path& root, const XmlLimits& limits);

// The current shard of every sflc_M_N directory of `root`, for split.
std::vector<ExistingShard> existing_shards(const std::filesystem::path& root, const XmlLimits& limits);

// Which volumes the boot's merge merged and froze, from its report.
Result<BootMerge> read_boot_merge(const std::filesystem::path& report);

}  // namespace reliant::healer
