// Naming block devices the way the kernel command line does: a path, or
// UUID=, PARTUUID=, LABEL=, PARTLABEL= resolved through udev's /dev/disk/by-*
// links (which exist in every dracut initramfs).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "common/error.h"

namespace reliant {

struct BlockDevice {
    std::filesystem::path path;  // canonical, e.g. /dev/vdb2
    dev_t number = 0;            // major:minor
};

// The /dev path a spec names, without checking that it exists.
// Relative to `dev_root` (default "/dev") so tests can use a fake tree.
Result<std::filesystem::path> device_spec_path(const std::string& spec,
                                               const std::filesystem::path& dev_root = "/dev");

// Resolves a spec to an existing block device, or fails (ENOENT if absent,
// ENOTBLK if it is not a block device).
Result<BlockDevice> resolve_block_device(const std::string& spec,
                                         const std::filesystem::path& dev_root = "/dev");

// Polls until the device appears or `timeout` passes (zero: wait forever).
Result<BlockDevice> wait_for_block_device(const std::string& spec, std::chrono::milliseconds timeout,
                                          const std::filesystem::path& dev_root = "/dev");

}  // namespace reliant
