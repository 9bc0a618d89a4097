// `protect`: before anything is mounted, every block device that holds data
// becomes read-only (BLKROSET), except the Shufflecake device and what it is
// built on. docs/overlay.md says what this covers and what it cannot.
//
// The kernel treats a partition as read-only when its whole disk is
// (bdev_read_only checks both), so the disk holding the Shufflecake partition
// stays writable and each of its other partitions is made read-only instead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace reliant::overlay {

// One entry of /sys/class/block.
struct BlockEntry {
    std::string name;                 // sysfs name: vda, vda2, dm-0, loop3
    std::string devname;              // node under /dev, from uevent DEVNAME (cciss/c0d0 for cciss!c0d0)
    dev_t number = 0;                 // major:minor
    std::optional<std::string> disk;  // the whole disk of a partition
    std::vector<std::string> slaves;  // what a dm/md device is built on
    bool read_only = false;
    std::uint64_t size_sectors = 0;
};

// Reads every block device the kernel knows (`sysfs_root` is "/sys" outside tests).
Result<std::vector<BlockEntry>> read_block_inventory(const std::filesystem::path& sysfs_root = "/sys");

enum class ProtectAction {
    make_read_only,
    already_read_only,
    keep_writable,  // the Shufflecake device, its disk, and what it is built on
    skip_empty,     // no medium, or an unattached loop device: whatever comes later decides
    skip_ram,       // zram, brd: RAM, so writing there leaves no trace
};

struct ProtectDecision {
    std::string name;
    std::string devname;
    ProtectAction action;
};

// Pure: what protect will do with each device. `writable` is the Shufflecake
// device (absent when none is configured or it has not appeared).
std::vector<ProtectDecision> plan_protection(const std::vector<BlockEntry>& inventory,
                                             std::optional<dev_t> writable);

// Carries out make_read_only decisions and checks each with BLKROGET. A
// device that vanished meanwhile is skipped; any other failure is an error
// (the base could otherwise be written).
Status apply_protection(const std::vector<ProtectDecision>& plan,
                        const std::filesystem::path& dev_root = "/dev");

const char* describe(ProtectAction action);

}  // namespace reliant::overlay
