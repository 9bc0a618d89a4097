// reliant's kernel command line options (rd.reliant.*), parsed once and shared
// by every tool in the boot path. docs/cmdline.md documents each option.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/kernel_cmdline.h"

namespace reliant {

enum class BootMode { normal, maintenance };

// How the read-only base is checked before a normal boot uses it.
enum class IntegrityMode { verity, hash, none };

struct BootOptions {
    bool enabled = false;              // rd.reliant=1
    BootMode mode = BootMode::normal;  // rd.reliant.mode=normal|maintenance
    std::string device;                // rd.reliant.device= path, UUID=, PARTUUID=, LABEL=
    unsigned tries = 3;                // rd.reliant.tries= 1..100
    unsigned timeout_seconds = 0;      // rd.reliant.timeout= prompt timeout, 0 = none
    bool fsck = false;                 // rd.reliant.fsck=1
    std::optional<unsigned> dvl;       // rd.reliant.dvl=N: open at most up to volume N
    bool discard = false;              // rd.reliant.discard=1: mount volumes with discard
    std::string overlay_size;          // rd.reliant.overlay.size= "25%" or "4G"; empty = default

    // The read-only base system and its seal (docs/overlay.md).
    std::string base;                        // rd.reliant.base= device spec; falls back to root=
    std::optional<IntegrityMode> integrity;  // rd.reliant.integrity=verity|hash|none; unset = refuse
    std::string verity_hash;                 // rd.reliant.verity.hash= spec or file; empty = the base itself
    std::uint64_t verity_offset = 0;         // rd.reliant.verity.offset= bytes into the hash device
    std::string verity_root_hash;            // rd.reliant.verity.roothash= lower-case hex
    std::string hash_sha256;                 // rd.reliant.hash.sha256= lower-case hex

    // rd.reliant.* keys this version does not know; reported, never fatal,
    // so that a newer command line still boots an older initramfs.
    std::vector<std::string> unknown_keys;
};

// Fails with a message naming the option when a value is malformed.
Result<BootOptions> parse_boot_options(const KernelCmdline& cmdline);

}  // namespace reliant
