// Where a device is mounted, and unmounting it: behind an interface so the
// close logic is tested without mounts. The real one reads
// /proc/self/mountinfo and calls umount2.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace reliant::shufflecake {

class MountTable {
public:
    virtual ~MountTable() = default;
    // Mount points of `device`, most recent mount first (the order to unmount).
    virtual Result<std::vector<std::string>> mount_points(dev_t device) = 0;
    virtual Status unmount(const std::string& mount_point) = 0;
};

class SystemMountTable final : public MountTable {
public:
    explicit SystemMountTable(std::string mountinfo = "/proc/self/mountinfo")
        : mountinfo_(std::move(mountinfo)) {}
    Result<std::vector<std::string>> mount_points(dev_t device) override;
    Status unmount(const std::string& mount_point) override;

private:
    std::string mountinfo_;
};

// Mount points of `device` in mountinfo text, most recent first; octal
// escapes (\040 for a space) are decoded.
std::vector<std::string> parse_mount_points(std::string_view mountinfo, dev_t device);

}  // namespace reliant::shufflecake
