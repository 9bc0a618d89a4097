#include "common/block_device.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>

#include "test_support.h"

using reliant::device_spec_path;
using reliant::resolve_block_device;
using reliant::wait_for_block_device;
using reliant::testing::TempDir;
using namespace std::chrono_literals;

namespace fs = std::filesystem;

TEST_CASE("specs map to udev's by-* links") {
    CHECK(device_spec_path("/dev/vdb2").value() == "/dev/vdb2");
    CHECK(device_spec_path("UUID=1234-ABCD").value() == "/dev/disk/by-uuid/1234-ABCD");
    CHECK(device_spec_path("PARTUUID=AB12CD-03").value() == "/dev/disk/by-partuuid/ab12cd-03");
    CHECK(device_spec_path("LABEL=my disk").value() == "/dev/disk/by-label/my\\x20disk");
    CHECK(device_spec_path("LABEL=a/b").value() == "/dev/disk/by-label/a\\x2fb");
    CHECK(device_spec_path("PARTLABEL=\"data\"").value() == "/dev/disk/by-partlabel/data");
}

TEST_CASE("malformed specs are refused") {
    for (const char* spec : {"", "vdb", "UUID=", "LABEL=..", "LABEL=."}) {
        CAPTURE(spec);
        const auto path = device_spec_path(spec);
        REQUIRE_FALSE(path.ok());
        CHECK(path.error().code() == EINVAL);
    }
}

TEST_CASE("resolution follows links and insists on a block device") {
    TempDir dev;
    fs::create_directories(dev / "disk/by-label");
    // /dev/loop-control is a character device, /dev/null too: neither is a block device.
    fs::create_symlink("/dev/null", dev / "disk/by-label/chr");
    const auto not_block = resolve_block_device("LABEL=chr", dev.path());
    REQUIRE_FALSE(not_block.ok());
    CHECK(not_block.error().code() == ENOTBLK);

    const auto missing = resolve_block_device("LABEL=absent", dev.path());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code() == ENOENT);
}

TEST_CASE("resolution finds a real block device through a link") {
    // Any block device the machine has (the root disk) will do.
    struct stat info {};
    std::string found;
    for (const char* candidate : {"/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0"})
        if (::stat(candidate, &info) == 0 && S_ISBLK(info.st_mode)) {
            found = candidate;
            break;
        }
    REQUIRE_MESSAGE(!found.empty(), "this machine has no block device to test with");
    TempDir dev;
    fs::create_directories(dev / "disk/by-uuid");
    fs::create_symlink(found, dev / "disk/by-uuid/abcd");
    const auto device = resolve_block_device("UUID=abcd", dev.path());
    REQUIRE(device.ok());
    CHECK(device->path == found);
    CHECK(device->number == info.st_rdev);
}

TEST_CASE("waiting times out with a clear error") {
    TempDir dev;
    const auto device = wait_for_block_device("LABEL=never", 300ms, dev.path());
    REQUIRE_FALSE(device.ok());
    CHECK(device.error().code() == ETIMEDOUT);
    CHECK(device.error().message().find("LABEL=never") != std::string::npos);
}
