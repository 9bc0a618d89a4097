// protect on real block devices (root): two loop "disks", one partitioned
// with the Shufflecake partition on it. Only these test devices are planned,
// so the host's own disks are never touched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/unique_fd.h"
#include "overlay/block_protect.h"
#include "overlay/loop_device.h"
#include "overlay_support.h"
#include "test_support.h"

using namespace reliant::overlay;
using reliant::testing::ScopedLoop;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

// A 24 MiB GPT disk with three 4 MiB partitions: ESP, base, Shufflecake.
fs::path make_disk(const TempDir& dir) {
    const fs::path image = dir / "disk.img";
    reliant::testing::spit(image, "");
    fs::resize_file(image, 24 << 20);
    constexpr std::string_view table = "label: gpt\n,4M\n,4M\n,4M\n";
    auto result =
        reliant::run_process({"sfdisk", "-q", image.string()}, {.input = std::as_bytes(std::span(table))});
    REQUIRE(result.ok());
    INFO(result->err);
    REQUIRE(result->succeeded());
    return image;
}

std::string name_of(const fs::path& device) { return device.filename().string(); }

// Partitions of a freshly attached loop device can show up a moment later.
// A kernel built without partition table parsers (this CI host's) shows none:
// then partx reads the table and adds them with BLKPG.
void wait_for_partitions(const ScopedLoop& disk, int count) {
    const std::string last = "/sys/class/block/" + name_of(disk.path()) + "p" + std::to_string(count);
    for (int attempt = 0; attempt < 100 && !fs::exists(last); ++attempt) {
        if (attempt == 10) reliant::testing::run_ok({"partx", "--add", disk.path().string()});
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE_MESSAGE(fs::exists(last), "no partitions on " << disk.path());
}

std::vector<BlockEntry> test_devices(const std::vector<std::string>& disks) {
    auto inventory = read_block_inventory();
    REQUIRE(inventory.ok());
    std::vector<BlockEntry> mine;
    for (const auto& entry : *inventory)
        for (const auto& disk : disks)
            if (entry.name == disk || entry.disk == disk) mine.push_back(entry);
    return mine;
}

bool read_only(const fs::path& device) { return block_device_read_only(device).value(); }

// A write of one sector; EPERM is the block layer refusing a read-only device.
int write_error(const fs::path& device) {
    reliant::UniqueFd fd(::open(device.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return errno;
    const std::string sector(512, 'w');
    return ::pwrite(fd.get(), sector.data(), sector.size(), 0) == 512 ? 0 : errno;
}

// Undoes BLKROSET on the partitions (the disks are reset by ScopedLoop).
struct ClearReadOnly {
    std::vector<fs::path> devices;
    ~ClearReadOnly() {
        for (const auto& device : devices) (void)set_block_device_read_only(device, false);
    }
};

}  // namespace

TEST_CASE("protect keeps the Shufflecake partition and its disk writable and everything else read-only") {
    reliant::testing::require_root();
    TempDir dir;
    ScopedLoop disk(make_disk(dir), {.access = LoopAccess::read_write, .partition_scan = true});
    reliant::testing::spit(dir / "other.img", std::string(4 << 20, '\0'));
    ScopedLoop other(dir / "other.img");
    wait_for_partitions(disk, 3);
    const fs::path p1 = disk.path().string() + "p1", p2 = disk.path().string() + "p2",
                   p3 = disk.path().string() + "p3";
    ClearReadOnly clear{{p1, p2, p3}};

    const auto inventory = test_devices({name_of(disk.path()), name_of(other.path())});
    REQUIRE(inventory.size() == 5);
    struct stat shufflecake {};
    REQUIRE(::stat(p3.c_str(), &shufflecake) == 0);
    const auto plan = plan_protection(inventory, shufflecake.st_rdev);
    REQUIRE(apply_protection(plan).ok());

    CHECK_FALSE(read_only(disk.path()));
    CHECK(read_only(p1));
    CHECK(read_only(p2));
    CHECK_FALSE(read_only(p3));
    CHECK(read_only(other.path()));
    // The kernel enforces it: the base partition refuses a write, Shufflecake takes one.
    CHECK(write_error(p2) == EPERM);
    CHECK(write_error(other.path()) == EPERM);
    CHECK(write_error(p3) == 0);

    // A second run finds them read-only already and changes nothing.
    const auto again =
        plan_protection(test_devices({name_of(disk.path()), name_of(other.path())}), shufflecake.st_rdev);
    for (const auto& decision : again) CHECK(decision.action != ProtectAction::make_read_only);
}

TEST_CASE("without a Shufflecake device protect makes the whole disk read-only, and so its partitions") {
    reliant::testing::require_root();
    TempDir dir;
    ScopedLoop disk(make_disk(dir), {.access = LoopAccess::read_write, .partition_scan = true});
    wait_for_partitions(disk, 3);
    const fs::path p3 = disk.path().string() + "p3";
    ClearReadOnly clear{{disk.path().string() + "p1", disk.path().string() + "p2", p3}};
    REQUIRE(apply_protection(plan_protection(test_devices({name_of(disk.path())}), std::nullopt)).ok());
    CHECK(read_only(disk.path()));
    CHECK(read_only(p3));
    CHECK(write_error(p3) == EPERM);
}
