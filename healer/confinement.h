// What a shard may reach besides its own volume (docs/shards.md,
// "Confinement"). A shard is untrusted: whoever could write its volume could
// make one of its qubes use a base qube's disk (a volume in a base pool with
// that qube's vid, or a snapshot of its private volume), or make a pool on
// the volume a symlink into the base. merge freezes such a shard.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "healer/shard.h"

namespace reliant::healer {

// Why the shard's pools and volumes reach outside its volume; empty when they
// do not. `outside` holds what was merged before it (the base, lower volumes).
// A pool's dir_path is resolved on the running system (symlinks followed as
// far as the path exists).
std::vector<std::string> storage_escapes(const Shard& shard, const Document& outside,
                                         const std::filesystem::path& volume_root);

}  // namespace reliant::healer
