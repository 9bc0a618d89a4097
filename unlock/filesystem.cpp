#include "unlock/filesystem.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/unique_fd.h"

namespace reliant::unlock {
namespace {

bool has_bytes_at(std::string_view head, std::size_t offset, std::string_view magic) {
    return head.size() >= offset + magic.size() && head.substr(offset, magic.size()) == magic;
}

}  // namespace

std::string_view fs_type_name(FsType type) {
    switch (type) {
        case FsType::ext4:
            return "ext4";
        case FsType::xfs:
            return "xfs";
        case FsType::btrfs:
            return "btrfs";
    }
    return "unknown";
}

Result<FsType> identify_filesystem(std::string_view head) {
    // ext2/3/4: s_magic 0xEF53 (little endian) at 1024 + 56.
    if (has_bytes_at(head, 1080, std::string_view("\x53\xef", 2))) return FsType::ext4;
    if (has_bytes_at(head, 0, "XFSB")) return FsType::xfs;
    if (has_bytes_at(head, 65536 + 64, "_BHRfS_M")) return FsType::btrfs;
    return Error("the volume holds no filesystem reliant can mount (ext4, xfs, btrfs)", EMEDIUMTYPE)
        .advise("make one on it (mkfs.ext4 on the opened volume) before using it with reliant");
}

MountRequest mount_request(FsType type, bool discard) {
    MountRequest request{MS_NOATIME | MS_NODEV | MS_NOSUID, {}};
    // Explicit "nodiscard": ext4 and btrfs can default to discard from the
    // superblock or for SSDs.
    if (type == FsType::btrfs)
        request.data = discard ? "discard=async" : "nodiscard";
    else
        request.data = discard ? "discard" : "nodiscard";
    return request;
}

std::vector<std::string> fsck_command(FsType type, const std::string& device) {
    switch (type) {
        case FsType::ext4:
            return {"e2fsck", "-p", device};
        case FsType::xfs:
            return {"xfs_repair", "-n", device};
        case FsType::btrfs:
            return {"btrfs", "check", "--readonly", device};
    }
    return {};
}

bool fsck_succeeded(FsType type, int exit_code) {
    // e2fsck: 1 = errors corrected, 2 = corrected, reboot advised (for a
    // mounted root only); 4 and above = left uncorrected or failed.
    if (type == FsType::ext4) return exit_code >= 0 && exit_code < 4;
    return exit_code == 0;
}

// The messages here never name the volume's device (sflc_M_N): they reach
// the console and kmsg, and a volume's number would tell that hidden volumes
// exist (docs/shufflecake.md). "the volume" is the one being prepared; the
// reason is in words and the advice says what to do.
Result<FsType> SystemFilesystem::probe(const std::string& device) {
    UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("cannot open an opened volume's device to find its filesystem");
    std::string head(filesystem_probe_size, '\0');
    const ssize_t got = ::pread(fd.get(), head.data(), head.size(), 0);
    if (got < 0) return Error::from_errno("cannot read the start of an opened volume to find its filesystem");
    head.resize(static_cast<std::size_t>(got));
    return identify_filesystem(head);
}

Status SystemFilesystem::check(const std::string& device, FsType type) {
    // The checker's output names paths and labels inside the volume: not logged.
    auto ran = runner_.run(fsck_command(type, device), {});
    if (!ran) return std::move(ran).error().context("checking a volume");
    if (ran->exited && fsck_succeeded(type, ran->exit_code)) return success();
    // No errno: the checker's exit status is the reason ("Structure needs
    // cleaning" would add nothing).
    return Error("checking a volume's " + std::string(fs_type_name(type)) + " filesystem: " + ran->describe() +
                 ", so no volume is mounted")
        .advise("repair it by hand (open the volumes with shufflecake, then run fsck on the damaged one), or "
                "boot without rd.reliant.fsck=1");
}

Status SystemFilesystem::mount(const std::string& device, const std::filesystem::path& target, FsType type,
                               bool discard) {
    const auto request = mount_request(type, discard);
    if (::mount(device.c_str(), target.c_str(), std::string(fs_type_name(type)).c_str(), request.flags,
                request.data.c_str()) != 0)
        return Error::from_errno("cannot mount an opened volume (" + std::string(fs_type_name(type)) + ")");
    return success();
}

Result<bool> SystemFilesystem::make_directory(const std::filesystem::path& path) {
    if (::mkdir(path.c_str(), 0700) == 0) return true;
    if (errno != EEXIST)
        return Error::from_errno("cannot create a mount point in " + path.parent_path().string() + "/");
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec) && std::filesystem::is_empty(path, ec)) return false;
    return Error("a mount point in " + path.parent_path().string() + "/ is in use (not an empty directory)", EEXIST)
        .advise("unmount or remove what is there, then unlock again");
}

void SystemFilesystem::remove_directory(const std::filesystem::path& path) { ::rmdir(path.c_str()); }

}  // namespace reliant::unlock
