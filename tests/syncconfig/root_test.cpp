// Destination cases that need root: a device node where a file would go.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

#include "syncconfig_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using namespace reliant::syncconfig::testing;
namespace fs = std::filesystem;

TEST_CASE("a device node at the destination is refused and left alone") {
    REQUIRE_MESSAGE(::geteuid() == 0, "the integration label needs root (mknod)");
    Target t;
    REQUIRE(::mknod((t.home() / ".bashrc").c_str(), S_IFCHR | 0644, makedev(1, 3)) == 0);
    const auto before = snapshot(t.home(), ".local/state/syncconfig");
    REQUIRE(t.receive(Stream({{".bashrc", 0644, "x\n"}}).bytes()).exit_code == 0);
    TtyRun review = run_on_tty({tool(), "review", "--home", t.home().string(), "--qubesdb-read", t.qubesdb_read()},
                               "yes\n");
    CHECK(review.output.find("[REFUSED] .bashrc") != std::string::npos);
    CHECK(review.output.find("device node") != std::string::npos);
    CHECK(snapshot(t.home(), ".local/state/syncconfig") == before);
}
