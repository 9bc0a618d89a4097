// protect's decisions, on made-up inventories and a fake sysfs tree.
#include <doctest/doctest.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "overlay/block_protect.h"
#include "test_support.h"

using reliant::overlay::BlockEntry;
using reliant::overlay::plan_protection;
using reliant::overlay::ProtectAction;
using reliant::overlay::ProtectDecision;
using reliant::overlay::read_block_inventory;
using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

BlockEntry disk(const std::string& name, unsigned minor_number) {
    return {name, name, makedev(254, minor_number), std::nullopt, {}, false, 1 << 20};
}

BlockEntry partition(const std::string& name, const std::string& parent, unsigned minor_number) {
    return {name, name, makedev(254, minor_number), parent, {}, false, 1 << 19};
}

ProtectAction action_for(const std::vector<ProtectDecision>& plan, const std::string& name) {
    const auto found = std::find_if(plan.begin(), plan.end(), [&](const auto& d) { return d.name == name; });
    REQUIRE(found != plan.end());
    return found->action;
}

// vda: ESP, base, Shufflecake; vdb: a second disk.
std::vector<BlockEntry> two_disks() {
    return {disk("vda", 0),
            partition("vda1", "vda", 1),
            partition("vda2", "vda", 2),
            partition("vda3", "vda", 3),
            disk("vdb", 16),
            partition("vdb1", "vdb", 17)};
}

}  // namespace

TEST_CASE("the Shufflecake partition and its disk stay writable, every other partition becomes read-only") {
    const auto plan = plan_protection(two_disks(), makedev(254, 3));
    CHECK(action_for(plan, "vda3") == ProtectAction::keep_writable);
    // Its disk must stay writable: a read-only disk makes every partition on it read-only.
    CHECK(action_for(plan, "vda") == ProtectAction::keep_writable);
    CHECK(action_for(plan, "vda1") == ProtectAction::make_read_only);
    CHECK(action_for(plan, "vda2") == ProtectAction::make_read_only);
    CHECK(action_for(plan, "vdb") == ProtectAction::make_read_only);
    CHECK(action_for(plan, "vdb1") == ProtectAction::make_read_only);
}

TEST_CASE("without a Shufflecake device everything with data becomes read-only") {
    for (const auto& decision : plan_protection(two_disks(), std::nullopt)) {
        CAPTURE(decision.name);
        CHECK(decision.action == ProtectAction::make_read_only);
    }
}

TEST_CASE("what a Shufflecake device is built on stays writable, transitively") {
    auto inventory = two_disks();
    BlockEntry mapped = disk("dm-0", 64);
    mapped.slaves = {"vdb1"};
    inventory.push_back(mapped);
    const auto plan = plan_protection(inventory, makedev(254, 64));
    CHECK(action_for(plan, "dm-0") == ProtectAction::keep_writable);
    CHECK(action_for(plan, "vdb1") == ProtectAction::keep_writable);
    CHECK(action_for(plan, "vdb") == ProtectAction::keep_writable);
    CHECK(action_for(plan, "vda") == ProtectAction::make_read_only);
}

TEST_CASE("RAM devices, empty devices and read-only devices are left alone") {
    std::vector<BlockEntry> inventory = {disk("zram0", 0), disk("ram1", 1), disk("loop7", 7), disk("sr0", 8),
                                         disk("ramdisk", 9)};
    inventory[2].size_sectors = 0;  // an unattached loop device
    inventory[3].read_only = true;
    const auto plan = plan_protection(inventory, std::nullopt);
    CHECK(action_for(plan, "zram0") == ProtectAction::skip_ram);
    CHECK(action_for(plan, "ram1") == ProtectAction::skip_ram);
    CHECK(action_for(plan, "loop7") == ProtectAction::skip_empty);
    CHECK(action_for(plan, "sr0") == ProtectAction::already_read_only);
    // Only ram<N> is brd; a name that merely starts with "ram" is protected.
    CHECK(action_for(plan, "ramdisk") == ProtectAction::make_read_only);
}

TEST_CASE("the inventory is read from sysfs: numbers, partitions, slaves, names") {
    TempDir sys;
    const fs::path devices = sys / "devices/virtual/block";
    auto write = [](const fs::path& path, const std::string& text) {
        fs::create_directories(path.parent_path());
        reliant::testing::spit(path, text);
    };
    write(devices / "vda/dev", "254:0\n");
    write(devices / "vda/ro", "0\n");
    write(devices / "vda/size", "2048\n");
    write(devices / "vda/uevent", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n");
    fs::create_directories(devices / "vda/slaves");
    write(devices / "vda/vda1/dev", "254:1\n");
    write(devices / "vda/vda1/ro", "1\n");
    write(devices / "vda/vda1/size", "1024\n");
    write(devices / "vda/vda1/partition", "1\n");
    write(devices / "vda/vda1/uevent", "DEVNAME=vda1\n");
    write(devices / "dm-3/dev", "253:3\n");
    write(devices / "dm-3/size", "8\n");
    write(devices / "dm-3/uevent", "DEVNAME=dm-3\n");
    fs::create_directories(devices / "dm-3/slaves");
    fs::create_symlink("../../vda/vda1", devices / "dm-3/slaves/vda1");
    write(devices / "cciss!c0d0/dev", "104:0\n");
    write(devices / "cciss!c0d0/size", "8\n");
    fs::create_directories(sys / "class/block");
    fs::create_symlink(devices / "vda", sys / "class/block/vda");
    fs::create_symlink(devices / "vda/vda1", sys / "class/block/vda1");
    fs::create_symlink(devices / "dm-3", sys / "class/block/dm-3");
    fs::create_symlink(devices / "cciss!c0d0", sys / "class/block/cciss!c0d0");

    const auto inventory = read_block_inventory(sys.path());
    REQUIRE(inventory.ok());
    REQUIRE(inventory->size() == 4);
    const auto& cciss = (*inventory)[0];
    CHECK(cciss.name == "cciss!c0d0");
    CHECK(cciss.devname == "cciss/c0d0");  // no uevent: '!' stands for '/'
    const auto& mapped = (*inventory)[1];
    CHECK(mapped.number == makedev(253, 3));
    CHECK(mapped.slaves == std::vector<std::string>{"vda1"});
    CHECK_FALSE(mapped.disk.has_value());
    const auto& whole = (*inventory)[2];
    CHECK(whole.name == "vda");
    CHECK_FALSE(whole.read_only);
    CHECK(whole.size_sectors == 2048);
    const auto& part = (*inventory)[3];
    CHECK(part.disk == "vda");
    CHECK(part.read_only);
    CHECK(part.number == makedev(254, 1));
}

TEST_CASE("a malformed device number is an error that names the file") {
    TempDir sys;
    fs::create_directories(sys / "devices/x");
    reliant::testing::spit(sys / "devices/x/dev", "not-a-number\n");
    fs::create_directories(sys / "class/block");
    fs::create_symlink(sys / "devices/x", sys / "class/block/x");
    const auto inventory = read_block_inventory(sys.path());
    REQUIRE_FALSE(inventory.ok());
    CHECK(inventory.error().message().find("devices/x/dev") != std::string::npos);
}
