// Where each qube of a SyncConfig configuration lives on a reliant system: in
// the base, or in the shard of one open Shufflecake volume
// (/run/shufflecake/sflc_M_N/qubes.xml, read with healer's shard reader:
// regular files only, no links, bounded; hostile input). A policy line that
// names a qube of a volume belongs in that volume (common/volume_policy.h),
// never in the base.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "healer/ownership.h"
#include "healer/shard_files.h"

namespace reliant::syncconfig {

struct QubePlaces {
    std::vector<healer::VolumeId> open_volumes;                    // every sflc_M_N directory, in order
    std::map<std::string, std::optional<healer::VolumeId>> where;  // nullopt: the base
};

// Reads every shard under `volume_root` (a missing root: no volume is open)
// and places `names`. Refused when a shard is there but cannot be read (a
// link, a FIFO, too large, malformed): a qube it holds would otherwise be
// taken for a base qube and named in the base. Refused when a name is in two
// shards.
Result<QubePlaces> locate_qubes(const std::filesystem::path& volume_root, const std::vector<std::string>& names,
                                const healer::ShardBudget& budget = {});

}  // namespace reliant::syncconfig
