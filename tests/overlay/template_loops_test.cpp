// Template images on read-only loop devices (root). The base holds a 512 MiB
// template image full of data; a VM start through reliant's create-snapshot
// must copy none of it into the tmpfs upper, and the image must refuse writes.
#include "overlay/template_loops.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "common/unique_fd.h"
#include "overlay/loop_device.h"
#include "overlay/mounts.h"
#include "overlay/snapshot_shim.h"
#include "overlay_support.h"
#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::MountedRoot;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t mib = 1 << 20;
constexpr std::uint64_t template_size = 512 * mib;
const fs::path template_path = "/var/lib/qubes/vm-templates/tpl/root.img";
const fs::path template_cow = "/var/lib/qubes/vm-templates/tpl/root-cow.img";
const fs::path control_path = "/var/lib/qubes/vm-templates/ctl/root.img";

// Incompressible, non-zero bytes: a copy-up of this file cannot hide in holes.
void write_data_file(const fs::path& path, std::uint64_t bytes) {
    fs::create_directories(path.parent_path());
    reliant::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(fd);
    std::vector<std::uint64_t> chunk(mib / sizeof(std::uint64_t));
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    for (std::uint64_t done = 0; done < bytes; done += mib) {
        for (auto& word : chunk) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            word = state | 1;
        }
        REQUIRE(::write(fd.get(), chunk.data(), mib) == static_cast<ssize_t>(mib));
    }
}

// The base as Qubes' file pool leaves it: a template image, its empty sparse
// COW file, a second template (the control), and the create-snapshot script.
// Built once per process: the tests never change its bytes (that is the point).
fs::path make_base(const TempDir&) {
    static TempDir dir;
    const fs::path image = dir / "base.img";
    if (fs::exists(image)) return image;
    const fs::path tree = dir / "tree";
    write_data_file(tree / template_path.relative_path(), template_size);
    write_data_file(tree / control_path.relative_path(), 8 * mib);
    reliant::testing::spit(tree / template_cow.relative_path(), "");
    fs::resize_file(tree / template_cow.relative_path(), template_size);
    fs::create_directories(tree / "usr/lib/qubes");
    reliant::testing::spit(tree / "usr/lib/qubes/create-snapshot",
                           "#!/bin/sh\necho \"qubes create-snapshot $*\"\n");
    fs::permissions(tree / "usr/lib/qubes/create-snapshot", fs::perms(0755));
    fs::create_directories(tree / "var/lib/qubes/appvms/app");
    reliant::testing::make_ext4(image, tree, "600M");
    fs::remove_all(tree);  // 520 MiB of scratch space back
    return image;
}

// Detaches the loop devices a test attached (template images, COW files).
struct DetachAll {
    std::vector<fs::path> loops;
    ~DetachAll() {
        for (const auto& loop : loops) (void)detach_loop(loop);
    }
};

struct stat stat_of(const fs::path& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info;
}

std::string number(dev_t device) {
    return std::to_string(major(device)) + ":" + std::to_string(minor(device));
}

// Reads a whole device, as a VM booting from it would (at most).
std::uint64_t read_all(const fs::path& device) {
    reliant::UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    std::vector<char> buffer(4 * mib);
    std::uint64_t total = 0;
    for (ssize_t n; (n = ::read(fd.get(), buffer.data(), buffer.size())) > 0;)
        total += static_cast<std::uint64_t>(n);
    return total;
}

}  // namespace

TEST_CASE(
    "a template image on a read-only loop device: no copy-up, no writes, and a VM start copies nothing") {
    reliant::testing::require_root();
    TempDir dir;
    MountedRoot root(dir.path(), make_base(dir), "256M");
    const fs::path merged = root.sysroot() / template_path.relative_path();
    DetachAll cleanup;
    reliant::testing::ScopedUnmount unbind(merged);
    const std::uint64_t used_before = reliant::testing::used_bytes(root.layout().rw());

    const auto report = attach_template_images(root.layout(), root.sysroot(), {{template_path}});
    REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().describe()));
    REQUIRE(report->attached.size() == 1);
    const AttachedImage image = report->attached[0];
    cleanup.loops.push_back(image.loop);

    SUBCASE("the loop device is read-only and backed by the lower file") {
        CHECK(block_device_read_only(image.loop).value());
        const auto status = loop_status(image.loop);
        REQUIRE(status.ok());
        CHECK(status->read_only());
        const auto lower = stat_of(root.layout().lower() / template_path.relative_path());
        CHECK(status->backing_device == lower.st_dev);
        CHECK(status->backing_inode == lower.st_ino);
        CHECK(block_device_size(image.loop).value() == template_size);

        reliant::UniqueFd fd(::open(image.loop.c_str(), O_WRONLY | O_CLOEXEC));
        REQUIRE(fd);
        const std::string sector(512, 'w');
        CHECK(::pwrite(fd.get(), sector.data(), sector.size(), 0) == -1);
        CHECK(errno == EPERM);
    }
    SUBCASE("the merged path refuses writes instead of copying up, and shows the lower file") {
        errno = 0;
        CHECK(::open(merged.c_str(), O_RDWR | O_CLOEXEC) == -1);
        CHECK(errno == EROFS);
        const auto seen = stat_of(merged);
        CHECK(seen.st_dev == image.backing_device);
        CHECK(seen.st_ino == image.backing_inode);
        // losetup as Qubes' script calls it fails cleanly; with -r it finds reliant's device.
        const auto writable =
            reliant::run_process({"losetup", "--find", "--nooverlap", "--show", merged.string()});
        CHECK_FALSE(writable->succeeded());
        const auto read_only =
            reliant::run_process({"losetup", "-r", "--find", "--nooverlap", "--show", merged.string()});
        CHECK(read_only->out == image.loop.string() + "\n");
        CHECK_FALSE(fs::exists(root.layout().upper() / template_path.relative_path()));
    }
    SUBCASE("a second run reuses the same loop device and bind mount") {
        const auto again = attach_template_images(root.layout(), root.sysroot(), {{template_path}});
        REQUIRE(again.ok());
        REQUIRE(again->attached.size() == 1);
        CHECK(again->attached[0].loop == image.loop);
        const auto map = read_loop_map(root.layout().loop_map());
        REQUIRE(map.ok());
        REQUIRE(map->size() == 1);
        CHECK((*map)[0].path == template_path);
    }
    SUBCASE("a VM start through create-snapshot copies nothing up") {
        // What Qubes' file driver does before calling create-snapshot for an AppVM's root.
        const fs::path app_cow = root.sysroot() / "var/lib/qubes/appvms/app/root-cow.img";
        reliant::testing::spit(app_cow, "");
        fs::resize_file(app_cow, template_size);
        const fs::path source_cow = root.sysroot() / template_cow.relative_path();
        const std::vector<std::string> args = {"snapshot-final", merged.string(), source_cow.string(),
                                               app_cow.string()};

        const auto plan = plan_snapshot(root.layout(), args);
        REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().describe()));
        for (const auto& loop : plan->cow_loops) cleanup.loops.push_back(loop);
        CHECK_FALSE(plan->delegate);
        CHECK(plan->base_loop == image.loop);
        REQUIRE(plan->cow_loops.size() == 2);
        CHECK_FALSE(block_device_read_only(plan->cow_loops[0]).value());

        // The same names and tables as the Qubes script, on reliant's read-only base.
        REQUIRE(plan->tables.size() == 2);
        const std::string shared =
            "snapshot" + snapshot_name_part(merged).value() + snapshot_name_part(source_cow).value();
        CHECK(plan->tables[0].name == shared);
        CHECK(plan->tables[0].table == "0 1048576 snapshot " + number(stat_of(image.loop).st_rdev) + " " +
                                           number(stat_of(plan->cow_loops[0]).st_rdev) + " P 256");
        CHECK(plan->tables[1].name == "snapshot-final");
        CHECK(plan->tables[1].table == "0 1048576 snapshot /dev/mapper/" + shared + " " +
                                           number(stat_of(plan->cow_loops[1]).st_rdev) + " P 256");

        // The VM reads its whole root and writes into its COW, as a boot would.
        CHECK(read_all(plan->base_loop) == template_size);
        reliant::UniqueFd cow(::open(plan->cow_loops[1].c_str(), O_WRONLY | O_CLOEXEC));
        const std::string chunk(64 * 1024, 'c');
        CHECK(::pwrite(cow.get(), chunk.data(), chunk.size(), 0) == static_cast<ssize_t>(chunk.size()));
        ::fsync(cow.get());

        const std::uint64_t grown = reliant::testing::used_bytes(root.layout().rw()) - used_before;
        INFO("tmpfs grew by ", grown, " bytes");
        CHECK(grown < mib);

        // Control: the same measurement sees a copy-up, so the check above can fail.
        const std::uint64_t before_control = reliant::testing::used_bytes(root.layout().rw());
        reliant::UniqueFd copied(
            ::open((root.sysroot() / control_path.relative_path()).c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(copied);
        CHECK(reliant::testing::used_bytes(root.layout().rw()) - before_control >= 8 * mib);
    }
    SUBCASE("a TemplateVM of the base cannot be started in a normal boot") {
        const auto plan = plan_snapshot(
            root.layout(),
            {"origin-x", merged.string(), (root.sysroot() / template_cow.relative_path()).string()});
        REQUIRE_FALSE(plan.ok());
        CHECK(plan.error().message().find("maintenance mode") != std::string::npos);
    }
    SUBCASE("a loop device someone detached is attached again") {
        REQUIRE(detach_loop(image.loop).ok());
        const auto loop = ensure_attached(root.layout(), image);
        REQUIRE(loop.ok());
        cleanup.loops.push_back(*loop);
        CHECK(loop_status(*loop)->read_only());
        CHECK(loop_status(*loop)->backing_inode == image.backing_inode);
    }
}

TEST_CASE("images outside the base or already replaced are skipped, not attached") {
    reliant::testing::require_root();
    TempDir dir;
    MountedRoot root(dir.path(), make_base(dir), "64M");
    // A qube created during this boot lives only in the upper layer.
    reliant::testing::spit(root.sysroot() / "var/lib/qubes/appvms/app/root.img", "new");
    // The control template was copied up (opened for writing) before `loops` ran.
    {
        reliant::UniqueFd fd(
            ::open((root.sysroot() / control_path.relative_path()).c_str(), O_RDWR | O_CLOEXEC));
    }
    const auto report = attach_template_images(root.layout(), root.sysroot(),
                                               {{"/var/lib/qubes/appvms/app/root.img"},
                                                {control_path},
                                                {"/run/shufflecake/sflc_0_1/pool/x/root.img"}});
    REQUIRE(report.ok());
    CHECK(report->attached.empty());
    CHECK(report->not_in_base == 2);
    CHECK(report->copied_up == 1);
    CHECK(read_loop_map(root.layout().loop_map())->empty());
    CHECK_FALSE(attach_template_images(root.layout(), root.sysroot(), {{"relative/root.img"}}).ok());
}

TEST_CASE("loops finds the template in the merged qubes.xml and puts create-snapshot over Qubes' script") {
    reliant::testing::require_root();
    TempDir dir;
    MountedRoot root(dir.path(), make_base(dir), "64M");
    const fs::path merged = root.sysroot() / template_path.relative_path();
    const fs::path script = root.sysroot() / "usr/lib/qubes/create-snapshot";
    DetachAll cleanup;
    reliant::testing::ScopedUnmount unbind_image(merged), unbind_script(script);

    std::vector<std::string> argv = {reliant::testing::binary_dir() + "/overlay/reliant-overlay", "--cmdline",
                                     (dir / "cmdline").string(), "--run-dir", root.layout().run_dir.string()};
    reliant::testing::spit(dir / "cmdline", "rd.reliant=1\n");
    // The merged qubes.xml (the healer writes it into the upper) names the template.
    fs::copy_file(fs::path(reliant::testing::source_dir()) / "tests/overlay/template-qubes.xml",
                  root.sysroot() / "var/lib/qubes/qubes.xml");
    auto loops_argv = argv;
    loops_argv.insert(loops_argv.end(), {"loops", "--sysroot", root.sysroot().string()});
    const auto loops = reliant::run_process(loops_argv);
    REQUIRE(loops.ok());
    INFO(loops->err);
    REQUIRE(loops->succeeded());
    const auto map = read_loop_map(root.layout().loop_map());
    REQUIRE(map.ok());
    REQUIRE(map->size() == 1);
    cleanup.loops.push_back((*map)[0].loop);

    CHECK(is_mount_root(script).value());
    CHECK(reliant::testing::slurp(script) == reliant::testing::slurp(argv[0]));
    // Under Qubes' name it is create-snapshot.
    const auto usage = reliant::run_process({script.string()});
    CHECK(usage->exit_code == 1);
    CHECK(usage->err.find("expected 3 or 4 arguments") != std::string::npos);
    // An image reliant did not attach: the base's own script runs, unchanged.
    const fs::path other = root.sysroot() / "var/lib/qubes/appvms/app/private.img";
    reliant::testing::spit(other, "");
    auto delegate_argv = argv;
    delegate_argv.insert(delegate_argv.end(),
                         {"create-snapshot", "origin-y", other.string(), other.string()});
    const auto delegated = reliant::run_process(delegate_argv);
    REQUIRE(delegated.ok());
    CHECK(delegated->out == "qubes create-snapshot origin-y " + other.string() + " " + other.string() + "\n");
}
