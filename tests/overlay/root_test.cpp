// The volatile root on real mounts (root): writes land in the tmpfs, the
// base's bytes never change, not even for a journal that wants replaying, the
// tmpfs is bounded, and the command line drives verify and mount-root.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "overlay/integrity.h"
#include "overlay/mounts.h"
#include "overlay/overlay_root.h"
#include "overlay_support.h"
#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::MountedRoot;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

fs::path make_base(const TempDir& dir, const std::string& name = "base.img") {
    fs::create_directories(dir / "tree/etc");
    fs::create_directories(dir / "tree/var/lib/qubes");
    reliant::testing::spit(dir / "tree/etc/os-release", "ID=reliant-test\n");
    reliant::testing::spit(dir / "tree/var/lib/qubes/qubes.xml", "<qubes/>\n");
    reliant::testing::make_ext4(dir / name, dir / "tree", "32M");
    return dir / name;
}

std::string digest(const fs::path& file) { return sha256_of_device(file).value(); }

std::string reliant_overlay() { return reliant::testing::binary_dir() + "/overlay/reliant-overlay"; }

}  // namespace

TEST_CASE("writes through the overlay land in the tmpfs and the base's bytes stay the same") {
    reliant::testing::require_root();
    TempDir dir;
    const fs::path image = make_base(dir);
    const std::string before = digest(image);
    {
        MountedRoot root(dir.path(), image, "16M");
        const fs::path sysroot = root.sysroot();
        reliant::testing::spit(sysroot / "etc/new-file", "volatile\n");
        reliant::testing::spit(sysroot / "var/lib/qubes/qubes.xml", "<qubes merged='yes'/>\n");
        fs::remove(sysroot / "etc/os-release");

        CHECK(reliant::testing::slurp(root.layout().upper() / "etc/new-file") == "volatile\n");
        CHECK(reliant::testing::slurp(root.layout().upper() / "var/lib/qubes/qubes.xml") ==
              "<qubes merged='yes'/>\n");
        CHECK_FALSE(fs::exists(root.layout().lower() / "etc/new-file"));
        CHECK(reliant::testing::slurp(root.layout().lower() / "var/lib/qubes/qubes.xml") == "<qubes/>\n");
        CHECK(fs::exists(root.layout().lower() / "etc/os-release"));

        struct statfs upper {};
        REQUIRE(::statfs(root.layout().rw().c_str(), &upper) == 0);
        CHECK(upper.f_type == TMPFS_MAGIC);
        CHECK(static_cast<std::uint64_t>(upper.f_blocks) * upper.f_bsize == 16u << 20);
        CHECK(block_device_read_only(root.base_device()).value());
        // prepare again: everything is in place already, nothing changes.
        CHECK(prepare_root(root.layout(), "16M").ok());
        CHECK(reliant::testing::slurp(root.layout().upper() / "etc/new-file") == "volatile\n");
    }
    CHECK(digest(image) == before);
}

TEST_CASE("the tmpfs upper is bounded: writing past its size fails") {
    reliant::testing::require_root();
    TempDir dir;
    MountedRoot root(dir.path(), make_base(dir), "8M");
    const int fd = ::open((root.sysroot() / "big").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    const std::string chunk(1 << 20, 'x');
    int written = 0;
    while (written < 16 && ::write(fd, chunk.data(), chunk.size()) == static_cast<ssize_t>(chunk.size()))
        ++written;
    const int error = errno;
    ::close(fd);
    CHECK(written <= 8);
    CHECK(error == ENOSPC);
}

TEST_CASE("a journal that needs replaying is not replayed into the base") {
    reliant::testing::require_root();
    TempDir dir;
    const fs::path image = make_base(dir);
    reliant::testing::run_ok({"debugfs", "-w", "-R", "feature needs_recovery", image.string()});
    fs::copy_file(image, dir / "control.img");

    SUBCASE("control: a plain read-only mount replays it and changes the bytes") {
        const std::string before = digest(dir / "control.img");
        reliant::testing::ScopedLoop loop(dir / "control.img");
        fs::create_directories(dir / "plain");
        reliant::testing::run_ok({"mount", "-o", "ro", loop.path().string(), (dir / "plain").string()});
        reliant::testing::run_ok({"umount", (dir / "plain").string()});
        CHECK(digest(dir / "control.img") != before);
    }
    SUBCASE("mount-root leaves every byte as it was") {
        const std::string before = digest(image);
        {
            MountedRoot root(dir.path(), image, "8M");
            CHECK(fs::exists(root.sysroot() / "etc/os-release"));
        }
        CHECK(digest(image) == before);
        CHECK(read_ext4_state(image)->needs_recovery);
    }
}

TEST_CASE("the command line: verify checks the seal, mount-root builds the root, a mismatch stops") {
    reliant::testing::require_root();
    TempDir dir;
    const fs::path image = make_base(dir);
    reliant::testing::ScopedLoop base(image);
    const std::string sealed = digest(image);
    const fs::path run = dir / "run";
    const fs::path sysroot = dir / "sysroot";
    fs::create_directories(sysroot);
    reliant::testing::ScopedUnmount unmount_sysroot(sysroot), unmount_rw(run / "rw"),
        unmount_lower(run / "lower");

    auto run_tool = [&](const std::string& cmdline, std::vector<std::string> args) {
        reliant::testing::spit(dir / "cmdline", cmdline + "\n");
        std::vector<std::string> argv = {reliant_overlay(), "--cmdline", (dir / "cmdline").string(),
                                         "--run-dir", run.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return reliant::run_process(argv).value();
    };
    const std::string common = "rd.reliant=1 rd.reliant.base=" + base.path().string();

    const auto unset = run_tool(common, {"verify"});
    CHECK(unset.exit_code == 1);
    CHECK(unset.err.find("rd.reliant.integrity= is not set") != std::string::npos);

    std::string wrong = sealed;
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    const auto mismatch =
        run_tool(common + " rd.reliant.integrity=hash rd.reliant.hash.sha256=" + wrong, {"verify"});
    CHECK(mismatch.exit_code == 1);
    CHECK(mismatch.err.find("does not match its seal") != std::string::npos);
    CHECK_FALSE(fs::exists(run / "verified-base"));
    const auto refused = run_tool(common, {"mount-root", sysroot.string()});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("has not been verified") != std::string::npos);

    const std::string good = common + " rd.reliant.integrity=hash rd.reliant.hash.sha256=" + sealed +
                             " rd.reliant.overlay.size=8M";
    const auto verified = run_tool(good, {"verify"});
    INFO(verified.err);
    REQUIRE(verified.succeeded());
    const auto mounted = run_tool(good, {"mount-root", sysroot.string()});
    INFO(mounted.err);
    REQUIRE(mounted.succeeded());
    CHECK(reliant::testing::slurp(sysroot / "etc/os-release") == "ID=reliant-test\n");
    CHECK(is_mount_root(sysroot).value());

    const auto options = run_tool(good, {"mount-options"});
    CHECK(options.out == overlay_mount_options(RootLayout{run}) + "\n");
}
