#include "overlay/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <sstream>

#include "common/file_io.h"
#include "common/unique_fd.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t probe_bytes = 65536 + 4096;  // btrfs keeps its superblock at 64 KiB

std::uint32_t le32(const unsigned char* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

Result<std::string> read_head(const fs::path& device, std::size_t bytes) {
    UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return Error::from_errno("cannot open " + device.string());
    std::string head(bytes, '\0');
    std::size_t done = 0;
    while (done < bytes) {
        const ssize_t n = ::pread(fd.get(), head.data() + done, bytes - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("cannot read " + device.string());
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    head.resize(done);
    return head;
}

bool has_bytes(const std::string& head, std::size_t offset, std::string_view magic) {
    return head.size() >= offset + magic.size() && head.compare(offset, magic.size(), magic) == 0;
}

constexpr std::size_t ext4_superblock = 1024;
constexpr std::uint32_t ext4_feature_recover = 0x4;
constexpr std::uint32_t ext4_feature_64bit = 0x80;

bool is_ext4(const std::string& head) { return has_bytes(head, ext4_superblock + 0x38, "\x53\xef"); }

Status mount_call(const char* source, const fs::path& target, const char* type, unsigned long flags,
                  const std::string& data) {
    if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0)
        return Error::from_errno(std::string("cannot mount ") + (type ? type : "bind") + " on " +
                                 target.string());
    return success();
}

}  // namespace

const char* filesystem_name(Filesystem filesystem) {
    switch (filesystem) {
        case Filesystem::ext4:
            return "ext4";
        case Filesystem::xfs:
            return "xfs";
        case Filesystem::btrfs:
            return "btrfs";
        case Filesystem::squashfs:
            return "squashfs";
        case Filesystem::erofs:
            return "erofs";
        case Filesystem::unknown:
            return "unknown";
    }
    return "unknown";
}

Result<Filesystem> probe_filesystem(const fs::path& device) {
    auto head = read_head(device, probe_bytes);
    if (!head) return std::move(head).error();
    if (is_ext4(*head)) return Filesystem::ext4;
    if (has_bytes(*head, 0, "XFSB")) return Filesystem::xfs;
    if (has_bytes(*head, 65536 + 64, "_BHRfS_M")) return Filesystem::btrfs;
    if (has_bytes(*head, 0, "hsqs")) return Filesystem::squashfs;
    if (has_bytes(*head, 1024, "\xe2\xe1\xf5\xe0")) return Filesystem::erofs;
    return Filesystem::unknown;
}

std::string no_write_mount_options(Filesystem filesystem) {
    switch (filesystem) {
        case Filesystem::ext4:
            return "noload";
        case Filesystem::xfs:
            return "norecovery";
        case Filesystem::btrfs:
            return "nologreplay";
        case Filesystem::squashfs:
        case Filesystem::erofs:
        case Filesystem::unknown:
            return "";
    }
    return "";
}

Status mount_base_read_only(const fs::path& device, const fs::path& target) {
    auto filesystem = probe_filesystem(device);
    if (!filesystem) return std::move(filesystem).error();
    if (*filesystem == Filesystem::unknown)
        return Error("no known filesystem on " + device.string() + " (ext4, xfs, btrfs, squashfs or erofs)",
                     EINVAL);
    return mount_call(device.c_str(), target, filesystem_name(*filesystem), MS_RDONLY,
                      no_write_mount_options(*filesystem));
}

Status mount_tmpfs(const fs::path& target, const std::string& size, mode_t mode) {
    if (size.empty()) return Error("refusing a tmpfs without a size limit on " + target.string(), EINVAL);
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(mode & 07777));
    return mount_call("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=" + size + ",mode=" + mode_text);
}

Status mount_overlay(const std::string& options, const fs::path& target) {
    return mount_call("overlay", target, "overlay", 0, options);
}

Status bind_read_only(const fs::path& source, const fs::path& target) {
    if (auto status = mount_call(source.c_str(), target, nullptr, MS_BIND, ""); !status) return status;
    // A bind mount takes its flags only from a remount.
    auto status = mount_call(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, "");
    if (!status) ::umount2(target.c_str(), MNT_DETACH);
    return status;
}

Status unmount(const fs::path& target) {
    if (::umount2(target.c_str(), 0) != 0) return Error::from_errno("cannot unmount " + target.string());
    return success();
}

Result<bool> is_mount_root(const fs::path& path) {
    struct statx info {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &info) != 0)
        return Error::from_errno("cannot stat " + path.string());
    if (!(info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return Error("the kernel does not report mount roots for " + path.string(), ENOTSUP);
    return (info.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

Result<bool> mounted_read_write(dev_t device, const fs::path& mountinfo) {
    auto text = read_file(mountinfo, 4 << 20);
    if (!text) return std::move(text).error();
    std::istringstream lines(*text);
    std::string line;
    const std::string wanted = std::to_string(major(device)) + ":" + std::to_string(minor(device));
    while (std::getline(lines, line)) {
        // "36 35 98:0 /root /mnt options ... - fstype source superoptions"
        std::istringstream fields(line);
        std::string id, parent, number;
        fields >> id >> parent >> number;
        if (number != wanted) continue;
        const auto separator = line.find(" - ");
        if (separator == std::string::npos) continue;
        std::istringstream tail(line.substr(separator + 3));
        std::string type, source, super_options;
        tail >> type >> source >> super_options;
        if (super_options == "rw" || super_options.starts_with("rw,")) return true;
    }
    return false;
}

Result<Ext4State> read_ext4_state(const fs::path& device) {
    auto head = read_head(device, ext4_superblock + 1024);
    if (!head) return std::move(head).error();
    if (!is_ext4(*head)) return Error(device.string() + " holds no ext2/3/4 filesystem", EINVAL);
    const auto* sb = reinterpret_cast<const unsigned char*>(head->data()) + ext4_superblock;
    const std::uint32_t incompat = le32(sb + 0x60);
    std::uint64_t blocks = le32(sb + 0x4);
    if (incompat & ext4_feature_64bit) blocks |= static_cast<std::uint64_t>(le32(sb + 0x150)) << 32;
    const std::uint32_t log_block_size = le32(sb + 0x18);
    if (log_block_size > 6) return Error(device.string() + ": implausible ext4 block size", EINVAL);
    return Ext4State{(incompat & ext4_feature_recover) != 0, blocks * (1024ull << log_block_size)};
}

}  // namespace reliant::overlay
