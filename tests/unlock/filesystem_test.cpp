#include "unlock/filesystem.h"

#include <doctest/doctest.h>
#include <sys/mount.h>

#include "shufflecake-glue/command_runner.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::unlock;

namespace {

std::string with_bytes_at(std::size_t offset, std::string_view magic) {
    std::string head(filesystem_probe_size, '\0');
    head.replace(offset, magic.size(), magic);
    return head;
}

}  // namespace

TEST_CASE("filesystems are recognised by their superblock magic") {
    CHECK(identify_filesystem(with_bytes_at(1080, std::string_view("\x53\xef", 2))).value() == FsType::ext4);
    CHECK(identify_filesystem(with_bytes_at(0, "XFSB")).value() == FsType::xfs);
    CHECK(identify_filesystem(with_bytes_at(65536 + 64, "_BHRfS_M")).value() == FsType::btrfs);
    const auto random = identify_filesystem(std::string(filesystem_probe_size, '\x5a'));
    REQUIRE_FALSE(random.ok());
    CHECK(random.error().code() == EMEDIUMTYPE);
    CHECK_FALSE(identify_filesystem("").ok());
}

TEST_CASE("a real ext4 image is probed as ext4") {
    reliant::testing::TempDir dir;
    const auto image = (dir / "vol.img").string();
    const auto made = run_process({"mkfs.ext4", "-q", "-F", image, "4M"});
    REQUIRE(made.ok());
    REQUIRE_MESSAGE(made->succeeded(), made->err);
    shufflecake::SystemCommandRunner runner;
    SystemFilesystem filesystem(runner);
    const auto type = filesystem.probe(image);
    REQUIRE(type.ok());
    CHECK(*type == FsType::ext4);
    CHECK(filesystem.check(image, *type).ok());  // e2fsck -p on a clean filesystem
}

TEST_CASE("mounts are noatime, nodev, nosuid, and nodiscard unless discard is asked for") {
    const auto plain = mount_request(FsType::ext4, false);
    CHECK((plain.flags & MS_NOATIME) != 0);
    CHECK((plain.flags & MS_NODEV) != 0);
    CHECK((plain.flags & MS_NOSUID) != 0);
    CHECK(plain.data == "nodiscard");
    CHECK(mount_request(FsType::ext4, true).data == "discard");
    CHECK(mount_request(FsType::xfs, false).data == "nodiscard");
    CHECK(mount_request(FsType::btrfs, false).data == "nodiscard");
    CHECK(mount_request(FsType::btrfs, true).data == "discard=async");
}

TEST_CASE("fsck commands and their verdicts per filesystem") {
    CHECK(fsck_command(FsType::ext4, "/dev/mapper/v") ==
          std::vector<std::string>{"e2fsck", "-p", "/dev/mapper/v"});
    CHECK(fsck_command(FsType::xfs, "/d") == std::vector<std::string>{"xfs_repair", "-n", "/d"});
    CHECK(fsck_command(FsType::btrfs, "/d") ==
          std::vector<std::string>{"btrfs", "check", "--readonly", "/d"});
    CHECK(fsck_succeeded(FsType::ext4, 0));
    CHECK(fsck_succeeded(FsType::ext4, 1));
    CHECK(fsck_succeeded(FsType::ext4, 2));
    CHECK_FALSE(fsck_succeeded(FsType::ext4, 4));
    CHECK_FALSE(fsck_succeeded(FsType::ext4, 8));
    CHECK_FALSE(fsck_succeeded(FsType::xfs, 1));
}
