// Loop devices through the kernel's ioctls (no losetup): attach a file with
// LOOP_CONFIGURE in one step, find the device that already backs a file, and
// read or set a block device's read-only flag (BLKROGET/BLKROSET).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include "common/error.h"

namespace reliant::overlay {

enum class LoopAccess { read_only, read_write };

struct LoopOptions {
    LoopAccess access = LoopAccess::read_only;
    // Reads bypass the page cache of the backing file, so dom0 does not cache
    // the same template twice (once for the file, once for the loop device).
    bool direct_io = false;
    bool partition_scan = false;
};

struct LoopDevice {
    std::filesystem::path path;  // /dev/loopN
    dev_t number = 0;
    // The backing file's identity as the kernel recorded it at attach time.
    dev_t backing_device = 0;
    ino_t backing_inode = 0;
    std::uint32_t flags = 0;  // LO_FLAGS_*

    bool read_only() const;
};

// Attaches `file` to a free loop device. The file is opened read-only for
// LoopAccess::read_only, so not even the loop driver can write through it.
Result<LoopDevice> attach_loop(const std::filesystem::path& file, const LoopOptions& options);

// The state of an attached loop device (ENXIO if nothing is attached).
Result<LoopDevice> loop_status(const std::filesystem::path& device);

// The attached loop device whose backing file is (device, inode), if any.
Result<std::optional<LoopDevice>> find_loop_backed_by(dev_t device, ino_t inode,
                                                      const std::filesystem::path& dev_root = "/dev");

Status detach_loop(const std::filesystem::path& device);

// BLKROGET / BLKROSET on a block device node.
Result<bool> block_device_read_only(const std::filesystem::path& device);
Status set_block_device_read_only(const std::filesystem::path& device, bool read_only);

// Size in bytes (BLKGETSIZE64).
Result<std::uint64_t> block_device_size(const std::filesystem::path& device);

}  // namespace reliant::overlay
