// Which deniable volume a pool or a qube belongs to, and the qid range each
// volume owns. Contract (docs/shards.md): a pool belongs to volume sflc_M_N
// when its dir_path lies under <volume-root>/sflc_M_N/; a qube belongs to the
// volume of the pool of its private volume (its root volume when it has no
// private one); everything else belongs to the base.
#pragma once

#include <compare>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "healer/model.h"

namespace reliant::healer {

struct VolumeId {
    int device = 0;  // M: the Shufflecake device
    int index = 0;   // N: the volume; 0 is the least secret

    std::string name() const { return "sflc_" + std::to_string(device) + "_" + std::to_string(index); }
    auto operator<=>(const VolumeId&) const = default;
};

// "sflc_M_N" -> {M, N}; nullopt for anything else.
std::optional<VolumeId> parse_volume_name(std::string_view name);

std::optional<VolumeId> pool_volume(const Pool& pool, const std::filesystem::path& volume_root);
std::optional<VolumeId> qube_volume(const Domain& qube, const Document& document,
                                    const std::filesystem::path& volume_root);

// qubesd gives a new qube the lowest free qid, so the low qids are where the
// base grows; each volume owns a fixed block above them, the same whatever
// other volumes exist. Disposable ids (dispid) use the same blocks.
struct QidRange {
    long long first = 0;
    long long last = 0;
    bool contains(long long qid) const { return qid >= first && qid <= last; }
    bool operator==(const QidRange&) const = default;
};

inline constexpr QidRange base_qid_range{1, 2047};
inline constexpr long long shard_qid_block = 512;
// Volume N of any device: 2048 + 512 N ... + 511 (N = 0..14 ends at 9727).
QidRange shard_qid_range(const VolumeId& volume);

}  // namespace reliant::healer
