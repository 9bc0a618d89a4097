// The few mounts the volatile root needs, through mount(2): the base
// read-only with options that never write, a bounded tmpfs, the overlay, and
// read-only bind mounts of single files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/error.h"

namespace reliant::overlay {

enum class Filesystem { ext4, xfs, btrfs, squashfs, erofs, unknown };

const char* filesystem_name(Filesystem filesystem);

// Recognises the filesystem on a device or image by its superblock magic.
Result<Filesystem> probe_filesystem(const std::filesystem::path& device);

// Data options that keep a read-only mount from writing anything:
// ext4 `noload` (no journal replay), xfs `norecovery`, btrfs `nologreplay`.
std::string no_write_mount_options(Filesystem filesystem);

// Mounts `device` read-only on `target` with no_write_mount_options; refuses
// an unknown filesystem rather than guessing options that might still write.
Status mount_base_read_only(const std::filesystem::path& device, const std::filesystem::path& target);

// tmpfs with a size limit ("25%", "4G"); an empty size is refused.
Status mount_tmpfs(const std::filesystem::path& target, const std::string& size, mode_t mode = 0755);

Status mount_overlay(const std::string& options, const std::filesystem::path& target);

// Bind-mounts `source` on `target` and makes that mount read-only.
Status bind_read_only(const std::filesystem::path& source, const std::filesystem::path& target);

Status unmount(const std::filesystem::path& target);

// True when `path` is the root of a mount (works for files as well as directories).
Result<bool> is_mount_root(const std::filesystem::path& path);

// True when a filesystem on block device `device` is mounted read-write
// anywhere (read from /proc/self/mountinfo).
Result<bool> mounted_read_write(dev_t device,
                                const std::filesystem::path& mountinfo = "/proc/self/mountinfo");

// ext2/3/4 only: whether the journal needs replaying (the "recover" feature),
// and the filesystem's size in bytes.
struct Ext4State {
    bool needs_recovery = false;
    std::uint64_t size_bytes = 0;
};
Result<Ext4State> read_ext4_state(const std::filesystem::path& device);

}  // namespace reliant::overlay
