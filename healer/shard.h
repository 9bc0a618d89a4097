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

// <reference name=… uuid=… [default-of=…]/>: a qube outside the shard its
// qubes refer to, by name and identity. Merge binds the name only to the qube
// with that uuid (docs/shards.md, "References are by identity").
struct ShardReference {
    std::string name;  // a qube outside the shard, as named when the shard was written
    std::string uuid;  // its identity, to follow renames and to see a replacement
    // "": named by a property of a shard qube. A global (default_netvm,
    // default_dispvm): the qube that global named, which shard qubes leaving
    // the property at its default used. Older readers key references by
    // name only and ignore this attribute.
    std::string default_of;
};

// <restore qube=… uuid=…>: what split took out of a qube of a lower volume of
// the same device because it named one of this shard's qubes. The lower shard
// holds the safe value (netvm none, ...), this one the user's, so that a boot
// that opens both gives it back and one that opens only the lower volume
// shows nothing of this one (docs/shards.md, "References up"). Checked when
// read: it names only this shard's qubes, in the fields split confines.
struct Restoration {
    std::string qube;  // the lower qube's name when split wrote this
    std::string uuid;  // canonical: merge applies it only to the qube with this uuid
    // Restorable properties, name-bearing features, tags and device
    // assignments, as the user had them.
    Domain original;
    // The same properties and features as the lower shard holds them (a
    // property absent here is absent there, i.e. its default). Merge puts
    // the original back only where the lower qube still holds this value.
    Domain confined;
};

struct Shard {
    VolumeId volume;
    QidRange qid_range;
    Document content;  // labels, pools and domains; never global properties
    std::vector<ShardReference> references;
    std::vector<Restoration> restorations;
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
