// What unlock does to an opened volume: recognise its filesystem, check it,
// mount it. Behind an interface so the unlock logic is tested without
// device-mapper; SystemFilesystem is the real one.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "shufflecake-glue/command_runner.h"

namespace reliant::unlock {

enum class FsType { ext4, xfs, btrfs };

std::string_view fs_type_name(FsType type);

class Filesystem {
public:
    virtual ~Filesystem() = default;
    virtual Result<FsType> probe(const std::string& device) = 0;
    virtual Status check(const std::string& device, FsType type) = 0;
    virtual Status mount(const std::string& device, const std::filesystem::path& target, FsType type,
                         bool discard) = 0;
    // Creates the directory (mode 0700); true when it was created, false when
    // an empty one was already there.
    virtual Result<bool> make_directory(const std::filesystem::path& path) = 0;
    virtual void remove_directory(const std::filesystem::path& path) = 0;
};

// Recognises ext2/3/4, XFS and btrfs from their superblock magic.
Result<FsType> identify_filesystem(std::string_view head);
// How many bytes of the device identify_filesystem needs.
constexpr std::size_t filesystem_probe_size = 65536 + 4096;

// mount(2) flags and data for a volume. Deniability: noatime (fewer writes
// that differ between two snapshots), nodev/nosuid, and discard only when
// asked (TRIM tells the device which blocks are free).
struct MountRequest {
    unsigned long flags;
    std::string data;
};
MountRequest mount_request(FsType type, bool discard);

// The checker's argv and its success test, per filesystem.
std::vector<std::string> fsck_command(FsType type, const std::string& device);
bool fsck_succeeded(FsType type, int exit_code);

class SystemFilesystem final : public Filesystem {
public:
    explicit SystemFilesystem(shufflecake::CommandRunner& runner) : runner_(runner) {}
    Result<FsType> probe(const std::string& device) override;
    Status check(const std::string& device, FsType type) override;
    Status mount(const std::string& device, const std::filesystem::path& target, FsType type,
                 bool discard) override;
    Result<bool> make_directory(const std::filesystem::path& path) override;
    void remove_directory(const std::filesystem::path& path) override;

private:
    shufflecake::CommandRunner& runner_;
};

}  // namespace reliant::unlock
