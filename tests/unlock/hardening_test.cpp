#include "unlock/hardening.h"

#include <doctest/doctest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

long locked_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmLck:")) return std::stol(line.substr(6));
    return -1;
}

// Runs in a forked child, so the test process itself stays as it was.
int child_checks() {
    if (!reliant::unlock::harden_process().ok()) return 10;
    if (::prctl(PR_GET_DUMPABLE) != 0) return 11;
    rlimit core{};
    if (::getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) return 12;
    std::vector<char> touched(1 << 20);
    std::memset(touched.data(), 1, touched.size());
    if (locked_kib() < 1024) return 13;  // pages faulted in after hardening are locked
    return 0;
}

}  // namespace

TEST_CASE("hardening: not dumpable, no core size, memory locked (needs root)") {
    REQUIRE_MESSAGE(::geteuid() == 0, "integration tests run as root");
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(child_checks());
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
