// Repairing a frozen shard on its volume (docs/shards.md, "Repairing a
// frozen volume"): the user chooses a fix for what merge named as the
// reason, reliant-session repair applies it to the shard file, atomically,
// and the next boot merges the shard (or says why not). Only a shard frozen
// this boot is repaired: a merged one is qubesd's, and the next split
// rewrites it from qubesd's state.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "healer/shard.h"

namespace reliant::healer {

struct RepairAction {
    enum class Kind { rename, drop } kind;
    std::string qube;
    std::string new_name;  // rename only
};

// A qube's directory in one of the shard's own (file) pools that follows a
// rename: <dir_path>/appvms/OLD -> <dir_path>/appvms/NEW. qubesd derives a
// new qube's volume paths from its name; a directory left under the old name
// would be where a later qube of that name creates its volumes.
struct DirectoryMove {
    std::string pool_dir;  // the pool's dir_path, as the shard names it
    std::string from, to;  // relative to it
};

struct Repaired {
    std::vector<std::string> lines;     // what changed, for the user
    std::vector<DirectoryMove> moves;   // done by the caller before the shard is written
};

// Applies `action` to `shard`. rename: the qube takes a name no qube of the
// shard has, and every mention within the shard follows (references, tags,
// features, devices, what the shard restores into lower qubes); its volume
// ids follow the name (in the shard's pools with the directory moves, in
// outside pools, where only snapshots made at start live, as qubesd derives
// them). drop: the qube leaves the shard (its data stays on the volume);
// refused while another qube of the shard refers to it, and restorations
// naming it are dropped (the lower qube keeps its safe value).
Result<Repaired> repair_shard(Shard& shard, const RepairAction& action);

}  // namespace reliant::healer
