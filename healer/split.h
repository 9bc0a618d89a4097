// Splitting qubesd's qubes.xml back into the base and one shard per volume
// that owns a pool (docs/shards.md). The base must load alone, under duress:
// references from the base into a volume are reported and replaced by a valid
// default, and soft mentions of hidden qubes (tags, features, device
// backends) are removed. A volume whose shard could not be merged at boot is
// never overwritten.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "healer/model.h"
#include "healer/ownership.h"
#include "healer/report.h"
#include "healer/shard.h"
#include "healer/validator.h"

namespace reliant::healer {

// The shard file a volume holds now, before split replaces it.
struct ExistingShard {
    VolumeId volume;
    bool present = false;        // a file exists
    std::optional<Shard> shard;  // it could be read
    std::vector<std::string> problems;
};

// What the boot's merge did, from its report: which volumes were merged and
// which frozen. Without it, split judges from the files alone.
struct BootMerge {
    std::set<VolumeId> merged;
    std::set<VolumeId> frozen;
    // The base's own values of the default pools merge pointed at a volume
    // (nullopt: absent, the default), to be put back.
    std::map<std::string, std::optional<std::string>> base_pools;
    // The uuids of the base's qubes at boot (nullopt: an older report).
    std::optional<std::set<std::string>> base_qubes;
};

struct SplitOptions {
    std::filesystem::path volume_root = "/run/shufflecake";
    ValidationOptions validation;
};

struct SplitResult {
    std::optional<Document> base;  // nullopt: the base cannot be made to load alone
    std::vector<Shard> shards;     // to write
    HealReport report;
    bool complete = true;  // false: something was not written, see the report
};

SplitResult split(const Document& input, const std::vector<ExistingShard>& existing,
                  const std::optional<BootMerge>& boot, const SplitOptions& options);

}  // namespace reliant::healer
