// The overlay component's files and formats, without root: the overlay
// options, the verified-base record, the loop map, filesystem probing, the
// mountinfo check, and create-snapshot's names and argument checks.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "overlay/mounts.h"
#include "overlay/overlay_root.h"
#include "overlay/snapshot_shim.h"
#include "overlay/template_loops.h"
#include "overlay_support.h"
#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

TEST_CASE("the overlay options name lower, upper and work under the run directory") {
    CHECK(overlay_mount_options(RootLayout{}) ==
          "lowerdir=/run/reliant/lower,upperdir=/run/reliant/rw/upper,workdir=/run/reliant/rw/work");
    RootLayout layout{"/tmp/x"};
    CHECK(overlay_mount_options(layout) ==
          "lowerdir=/tmp/x/lower,upperdir=/tmp/x/rw/upper,workdir=/tmp/x/rw/work");
}

TEST_CASE("the verified-base record round-trips and prepare cannot skip verify") {
    TempDir dir;
    RootLayout layout{dir / "run"};
    const auto missing = read_verified_base(layout);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message().find("verify") != std::string::npos);
    // prepare refuses for the same reason, before touching anything.
    CHECK_FALSE(prepare_root(layout, "16M").ok());
    CHECK_FALSE(fs::exists(layout.lower()));

    REQUIRE(record_verified_base(layout, {"verity", "/dev/mapper/reliant-base"}).ok());
    const auto base = read_verified_base(layout);
    REQUIRE(base.ok());
    CHECK(base->mode == "verity");
    CHECK(base->device == "/dev/mapper/reliant-base");

    reliant::testing::spit(layout.verified_base(), "mode=hash\ndevice=relative\n");
    CHECK_FALSE(read_verified_base(layout).ok());
}

TEST_CASE("the loop map round-trips and refuses paths that could forge lines") {
    TempDir dir;
    const fs::path map = dir / "loops";
    const std::vector<AttachedImage> images = {
        {"/var/lib/qubes/vm-templates/fedora/root.img", "/dev/loop3", makedev(254, 2), 131073,
         ImageKind::template_root},
        {"/var/lib/qubes/appvms/x/data.img", "/dev/loop4", makedev(7, 0), 12, ImageKind::read_only_volume}};
    REQUIRE(write_loop_map(map, images).ok());
    const auto read = read_loop_map(map);
    REQUIRE(read.ok());
    REQUIRE(read->size() == 2);
    for (std::size_t i = 0; i < images.size(); ++i) {
        CHECK((*read)[i].path == images[i].path);
        CHECK((*read)[i].loop == images[i].loop);
        CHECK((*read)[i].backing_device == images[i].backing_device);
        CHECK((*read)[i].backing_inode == images[i].backing_inode);
        CHECK((*read)[i].kind == images[i].kind);
    }
    CHECK(read_loop_map(dir / "absent")->empty());
    for (const char* bad : {"/a/b\n/c.img", "relative.img", "/a/../etc/shadow", "/a/./b.img"}) {
        CAPTURE(bad);
        CHECK_FALSE(write_loop_map(map, {{bad, "/dev/loop0", 0, 0, ImageKind::template_root}}).ok());
    }
    reliant::testing::spit(map, "template-root\t/dev/loop0\tx\t1\t/a.img\n");
    CHECK_FALSE(read_loop_map(map).ok());
}

TEST_CASE("filesystems are recognised by their superblock, unknown ones are refused") {
    TempDir dir;
    fs::create_directories(dir / "tree");
    reliant::testing::make_ext4(dir / "ext4.img", dir / "tree", "8M");
    CHECK(probe_filesystem(dir / "ext4.img").value() == Filesystem::ext4);
    CHECK(no_write_mount_options(Filesystem::ext4) == "noload");
    CHECK(no_write_mount_options(Filesystem::xfs) == "norecovery");
    CHECK(no_write_mount_options(Filesystem::btrfs) == "nologreplay");

    reliant::testing::spit(dir / "zeros.img", std::string(1 << 17, '\0'));
    CHECK(probe_filesystem(dir / "zeros.img").value() == Filesystem::unknown);
    CHECK_FALSE(mount_base_read_only(dir / "zeros.img", dir / "tree").ok());
    std::string squash(4096, '\0');
    squash.replace(0, 4, "hsqs");
    reliant::testing::spit(dir / "squash.img", squash);
    CHECK(probe_filesystem(dir / "squash.img").value() == Filesystem::squashfs);
}

TEST_CASE("the ext4 state shows a journal that needs replaying and the filesystem's size") {
    TempDir dir;
    fs::create_directories(dir / "tree");
    reliant::testing::make_ext4(dir / "fs.img", dir / "tree", "8M");
    auto clean = read_ext4_state(dir / "fs.img");
    REQUIRE(clean.ok());
    CHECK_FALSE(clean->needs_recovery);
    CHECK(clean->size_bytes == 8u << 20);
    reliant::testing::run_ok({"debugfs", "-w", "-R", "feature needs_recovery", (dir / "fs.img").string()});
    CHECK(read_ext4_state(dir / "fs.img")->needs_recovery);
}

TEST_CASE("a filesystem counts as writable when its superblock is mounted read-write") {
    TempDir dir;
    reliant::testing::spit(dir / "mountinfo",
                           "22 1 254:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw\n"
                           "23 1 254:3 / /boot ro,relatime - ext4 /dev/vda3 ro\n"
                           "24 1 254:4 / /a ro,relatime - ext4 /dev/vda4 rw,errors=remount-ro\n");
    CHECK(mounted_read_write(makedev(254, 2), dir / "mountinfo").value());
    CHECK_FALSE(mounted_read_write(makedev(254, 3), dir / "mountinfo").value());
    // A read-only bind of a filesystem still mounted read-write elsewhere is writable.
    CHECK(mounted_read_write(makedev(254, 4), dir / "mountinfo").value());
    CHECK_FALSE(mounted_read_write(makedev(254, 9), dir / "mountinfo").value());
}

TEST_CASE("create-snapshot names parts as Qubes does and checks its arguments") {
    TempDir dir;
    reliant::testing::spit(dir / "root.img", "x");
    struct stat info {};
    REQUIRE(::lstat((dir / "root.img").c_str(), &info) == 0);
    char expected[64];
    std::snprintf(expected, sizeof expected, "-%lx:%lu", static_cast<unsigned long>(info.st_dev),
                  static_cast<unsigned long>(info.st_ino));
    CHECK(snapshot_name_part(dir / "root.img").value() == expected);

    RootLayout layout{dir / "run"};
    const std::string img = (dir / "root.img").string();
    CHECK_FALSE(plan_snapshot(layout, {"a", img}).ok());
    CHECK_FALSE(plan_snapshot(layout, {"a", img, img, img, img}).ok());
    CHECK_FALSE(plan_snapshot(layout, {"../x", img, img}).ok());
    CHECK_FALSE(plan_snapshot(layout, {"control", img, img}).ok());
    // An image reliant did not attach goes to the base's own script, untouched.
    const auto plan = plan_snapshot(layout, {"snapshot-x", img, img, img});
    REQUIRE(plan.ok());
    CHECK(plan->delegate);
    CHECK(plan->tables.empty());
}
