// Merging the base qubes.xml with the shards of the open volumes into one
// document qubesd will load (docs/shards.md). Precedence: the base over every
// shard, a lower volume over a higher one, so what a duress boot shows never
// depends on which higher volumes exist. A shard whose problems cannot be
// fixed safely is frozen: left out whole and listed in the report.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "healer/diagnostics.h"
#include "healer/model.h"
#include "healer/ownership.h"
#include "healer/report.h"
#include "healer/validator.h"
#include "healer/validator_cost.h"
#include "healer/xml_reader.h"

namespace reliant::healer {

// How a reference to a qube that is not there any more is fixed, in this
// order (docs/shards.md, "Broken references"); what none of them fixes
// freezes the shard.
struct FixPolicy {
    bool follow_renames = true;  // (1) the recorded uuid has another name now: follow it
    bool heuristics = true;      // (3) template of the same family, then default_template;
                                 //     netvm none; others their default; prohibit-start
    bool successors = true;      // (2) the successor stated in maintenance mode (healer/base_journal.h)
};

struct ShardInput {
    VolumeId volume;
    std::optional<std::string> bytes;  // nullopt: could not be read
    std::string read_error;
};

// Where qubes created without naming a pool land (docs/shards.md, "New
// qubes"): qubesd's default pools of the merged file point at a pool of the
// highest merged volume, so that a new qube and its data outlive the session
// (the base is RAM). Split gives the base its own values back.
enum class NewQubes { highest_volume, base };

struct MergeOptions {
    FixPolicy fixes;
    NewQubes new_qubes = NewQubes::highest_volume;
    std::filesystem::path volume_root = "/run/shufflecake";
    ValidationOptions validation;
    XmlLimits limits;
    LoadCostLimits load_cost;  // what a shard may cost qubesd's load (healer/validator_cost.h)
    // The base journal's successors: the uuid of a base qube that is gone ->
    // the uuid of the base qube the user stated in its place.
    std::map<std::string, std::string> successors;
};

struct MergeResult {
    std::optional<Document> merged;  // nullopt: no loadable output (the base itself fails)
    HealReport report;
};

MergeResult merge(const Document& base, std::vector<ShardInput> shards, const MergeOptions& options);

}  // namespace reliant::healer
