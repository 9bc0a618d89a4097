// Keeping snapshot volumes consistent when a qube's template changes: an
// AppVM's root (and a DispVM's root and private) take their source, pool and
// size from the template chain, as qubesd's _update_volume_config_source does.
#pragma once

#include <functional>
#include <string_view>

#include "healer/model.h"

namespace reliant::healer {

using DomainLookup = std::function<const Domain*(std::string_view name)>;
using PoolLookup = std::function<const Pool*(std::string_view name)>;

// Re-derives source, pool and size of `qube`'s snap_on_start volumes from its
// template chain; a volume that moves to another pool gets the vid qubesd
// would give it there. Returns whether anything changed.
bool retarget_snapshots(Domain& qube, const DomainLookup& find_domain, const PoolLookup& find_pool);

// The volume called `name` a snapshot of `qube`'s is taken from: its
// template's, or further up the chain when that is a snapshot too.
const Volume* snapshot_origin(const Domain& qube, std::string_view name, const DomainLookup& find_domain);

// The vid qubesd gives `qube`'s volume `volume` in `pool`: <vg>/vm-<qube>-<volume>
// for lvm_thin, <appvms|vm-templates>/<qube>/<volume> for directory pools.
std::string derived_vid(const Pool& pool, const Domain& qube, std::string_view volume);

}  // namespace reliant::healer
