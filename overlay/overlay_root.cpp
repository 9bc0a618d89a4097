#include "overlay/overlay_root.h"

#include <sys/stat.h>

#include <sstream>

#include "common/file_io.h"
#include "common/log.h"
#include "overlay/loop_device.h"
#include "overlay/mounts.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

Status make_directory(const fs::path& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) {
        struct stat info {};
        if (::stat(path.c_str(), &info) != 0) return Error::from_errno("cannot stat " + path.string());
        if (!S_ISDIR(info.st_mode)) return Error(path.string() + " exists and is not a directory", ENOTDIR);
        return success();
    }
    return Error::from_errno("cannot create " + path.string());
}

Result<bool> mounted_here(const fs::path& path) { return is_mount_root(path); }

Status mount_lower(const RootLayout& layout, const fs::path& device) {
    auto mounted = mounted_here(layout.lower());
    if (!mounted) return std::move(mounted).error();
    if (*mounted) return success();
    // Read-only at the block layer first: then not even a journal replay the
    // mount options failed to prevent could reach the disk.
    if (auto status = set_block_device_read_only(device, true); !status)
        return std::move(status).error().context("protecting the base");
    return mount_base_read_only(device, layout.lower());
}

Status mount_upper(const RootLayout& layout, const std::string& size) {
    auto mounted = mounted_here(layout.rw());
    if (!mounted) return std::move(mounted).error();
    if (!*mounted) {
        if (auto status = mount_tmpfs(layout.rw(), size); !status) return status;
    }
    // upper and work must be on the same filesystem: both on this tmpfs.
    if (auto status = make_directory(layout.upper(), 0755); !status) return status;
    return make_directory(layout.work(), 0755);
}

}  // namespace

std::string overlay_mount_options(const RootLayout& layout) {
    return "lowerdir=" + layout.lower().string() + ",upperdir=" + layout.upper().string() +
           ",workdir=" + layout.work().string();
}

Status record_verified_base(const RootLayout& layout, const VerifiedBase& base) {
    if (auto status = make_directory(layout.run_dir, 0755); !status) return status;
    return write_file_atomically(layout.verified_base(),
                                 "mode=" + base.mode + "\ndevice=" + base.device.string() + "\n", 0644);
}

Result<VerifiedBase> read_verified_base(const RootLayout& layout) {
    auto text = read_file(layout.verified_base(), 4096);
    if (!text) {
        if (text.error().code() == ENOENT)
            return Error("the base has not been verified (run `reliant-overlay verify` first)", ENOENT);
        return std::move(text).error();
    }
    VerifiedBase base;
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with("mode=")) base.mode = line.substr(5);
        if (line.starts_with("device=")) base.device = line.substr(7);
    }
    if (base.mode.empty() || base.device.empty() || !base.device.is_absolute())
        return Error(layout.verified_base().string() + " is malformed", EINVAL);
    return base;
}

Status prepare_root(const RootLayout& layout, const std::string& size) {
    auto base = read_verified_base(layout);
    if (!base) return std::move(base).error();
    for (const fs::path& directory : {layout.run_dir, layout.lower(), layout.rw()})
        if (auto status = make_directory(directory, 0755); !status) return status;
    if (auto status = mount_lower(layout, base->device); !status) return status;
    if (auto status = mount_upper(layout, size); !status) return status;
    log::info("prepare: base (", base->mode, ") read-only at ", layout.lower().string(), ", tmpfs of ", size,
              " at ", layout.rw().string());
    return success();
}

Status mount_root(const RootLayout& layout, const std::string& size, const fs::path& target) {
    if (auto status = prepare_root(layout, size); !status) return status;
    auto mounted = mounted_here(target);
    if (!mounted) return std::move(mounted).error();
    if (*mounted) return Error(target.string() + " is already a mount point", EBUSY);
    return mount_overlay(overlay_mount_options(layout), target);
}

}  // namespace reliant::overlay
