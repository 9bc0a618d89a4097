// A shard: the qubes, pools and custom labels of one deniable volume, kept
// in the file qubes.xml at the root of that volume (docs/shards.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "healer/model.h"
#include "healer/ownership.h"
#include "healer/xml_reader.h"

namespace reliant::healer {

inline constexpr std::string_view shard_format_version = "1";

struct ShardReference {
    std::string name;  // a qube outside the shard, as named when the shard was written
    std::string uuid;  // its identity, to follow renames
};

struct Shard {
    VolumeId volume;
    QidRange qid_range;
    Document content;  // labels, pools and domains; never global properties
    std::vector<ShardReference> references;
};

struct ShardRead {
    std::optional<Shard> shard;         // nullopt: unusable
    std::vector<std::string> problems;  // why (shard content: never log these)
};

// Reads a shard found in the directory of `volume`. Untrusted input: any
// problem with its form makes it unusable rather than partly used.
ShardRead read_shard(std::string_view bytes, const VolumeId& volume, const XmlLimits& limits = {});

std::string serialize_shard(const Shard& shard);

}  // namespace reliant::healer
