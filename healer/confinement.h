// What a shard may reach besides its own volume (docs/shards.md,
// "Confinement"; docs/security.md, guarantee G-confine). A shard is
// untrusted: whoever could write its volume could make one of its qubes use
// a base qube's disk or hardware. Every check goes through one place:
// confinement_violations derives, with footprint.h, everything qubesd and
// libvirt will touch for each qube of the shard, and accepts the shard only
// when each of these is the qube's own or an explicitly shared read-only
// object (a template chain's volume as a snapshot source, a kernel).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "healer/shard.h"

namespace reliant::healer {

// The rules, as named in the report ("confinement/<rule>: ...").
namespace confinement_rule {
inline constexpr const char* pool = "pool";                  // own pools: directory pools inside the volume
inline constexpr const char* volume_name = "volume-name";    // a plain name: letters, digits, _
inline constexpr const char* volume_listed = "volume-listed";  // root, private, volatile written with a pool
inline constexpr const char* volume_pool = "volume-pool";    // an existing pool of a driver a shard may use
inline constexpr const char* own_pool = "own-pool";          // inside its pool, regular files only
inline constexpr const char* name_space = "name-space";      // in a pool outside: the qube's own name space
inline constexpr const char* snapshot = "snapshot";          // sources outside: the template chain's
inline constexpr const char* kernel = "kernel";              // a kernel directory of a kernel pool
inline constexpr const char* device = "device";              // backends: qubes of the shard only
inline constexpr const char* reference = "reference";        // named qubes exist
}  // namespace confinement_rule

// Why the shard reaches outside its volume; empty when it does not.
// `outside` holds what was merged before it (the base, lower volumes). Pool
// directories and the files a driver opens in the shard's own pools are
// looked at on the running system (symlinks followed, file types checked).
std::vector<std::string> confinement_violations(const Shard& shard, const Document& outside,
                                                const std::filesystem::path& volume_root);

}  // namespace reliant::healer
