// write_file_atomically next to a device node: only root can make one, so
// this is an integration test (it fails, never skips, without root).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/file_io.h"
#include "test_support.h"

namespace fs = std::filesystem;

// `reliant-healer merge --out /dev/null` run as root replaced /dev/null
// with a regular file: the rename went over the device node. The same
// nodes, made with mknod in a temporary directory, must stay as they are.
TEST_CASE("write_file_atomically refuses to replace a character or block device node") {
    REQUIRE_MESSAGE(::geteuid() == 0, "integration tests run as root");
    reliant::testing::TempDir dir;
    struct Node {
        const char* name;
        mode_t type;
    };
    for (const Node node : {Node{"null", S_IFCHR}, Node{"loop", S_IFBLK}}) {
        CAPTURE(node.name);
        const fs::path path = dir / node.name;
        // 1:3 is /dev/null's number, 7:0 a loop device's; nothing is opened.
        const dev_t number = node.type == S_IFCHR ? makedev(1, 3) : makedev(7, 0);
        REQUIRE(::mknod(path.c_str(), node.type | 0600, number) == 0);
        const auto status = reliant::write_file_atomically(path, "replaced", 0600);
        REQUIRE_FALSE(status.ok());
        CHECK(status.error().code() == EEXIST);
        CHECK(status.error().message().find("device") != std::string::npos);
        struct stat info {};
        REQUIRE(::lstat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & S_IFMT) == node.type);
        CHECK(info.st_rdev == number);
    }
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 2);  // no temporary left
}
