// What qubesd and libvirt will touch for each qube of a shard, derived the
// way qubes-core-admin derives it at load (docs/shards.md, "Confinement"):
//
// * storage: every volume's effective pool and vid. qubesd merges repeated
//   <volume> elements of one name attribute by attribute (the last wins),
//   fills in the class's default volumes, takes a snapshot's pool and source
//   from the template chain when the source is not written
//   (Storage._update_volume_config_source), and derives an absent vid from
//   the qube's name (file/file-reflink: <appvms|vm-templates>/<qube>/<volume>;
//   lvm_thin: <vg>/vm-<qube>-<volume>; linux-kernel: the qube's kernel). The
//   object is then a file stem os.path.join(dir_path, vid) (the driver adds
//   .img, -cow.img, -dirty.img, ...), a logical volume <vg>/<lv> (plus -snap,
//   -import, -<n>-back), or a kernel directory <dir_path>/<kernel>;
// * every device assignment (any class) and the backend qube it names;
// * every qube it names in a VM-reference property.
//
// This is derivation only; confinement.h judges it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "healer/model.h"
#include "healer/shard.h"

namespace reliant::healer {

enum class StorageRole {
    image,     // the volume's own data: written (unless rw is False)
    source,    // what a snapshot volume is taken from: read
    kernel,    // a volume in a linux-kernel pool: <dir>/<kernel>, read-only
    defaulted  // a class volume the qube does not list: qubesd puts it in a default pool
};

struct StorageTouch {
    std::string volume;          // its name in volume-config
    StorageRole role = StorageRole::image;
    std::string pool;            // effective pool name ("" when none)
    const Pool* pool_def = nullptr;  // nullptr: no such pool
    bool own_pool = false;       // one of the shard's own pools
    bool pool_from_chain = false;  // the pool came from the template chain (no source written)
    std::string vid;             // effective vid (the kernel's name for a kernel)
    bool vid_derived = false;    // no vid written: derived from the qube's name
    std::string object;          // absolute, lexically normal path stem; "vg/lv"; kernel directory
    const Domain* origin_owner = nullptr;  // role source: the chain's qube holding the source
    bool origin_matches = false;           // role source: (pool, vid) is what the chain gives
};

struct DeviceTouch {
    std::string device_class;
    std::optional<std::string> backend;  // nullopt: no backend-domain attribute
    std::string port;                    // id ("*" when absent, as qubesd reads it)
};

struct NameTouch {
    std::string property;
    std::string target;
};

struct QubeFootprint {
    const Domain* qube = nullptr;
    std::string name;
    std::vector<StorageTouch> storage;
    std::vector<DeviceTouch> devices;
    std::vector<NameTouch> names;
    std::optional<std::string> kernel_property;  // the qube's own kernel property, when set (None = "")
};

// The effective attributes of a qube's volume `volume`, as qubesd builds
// them: repeated elements merged in order; nullopt when none is written.
std::optional<Attributes> effective_volume(const Domain& qube, const std::string& volume);

// The object `vid` resolves to in `pool`: os.path.join(dir_path, vid)
// lexically normalized for directory pools, the vid itself for lvm_thin, ""
// when the pool has neither.
std::string resolve_object(const Pool& pool, const std::string& vid);

// The footprint of every qube of `shard`, resolving names and pools in the
// shard first, then in `outside` (the base and lower volumes merged so far).
std::vector<QubeFootprint> shard_footprint(const Shard& shard, const Document& outside);

}  // namespace reliant::healer
