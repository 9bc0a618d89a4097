// Helpers shared by the test executables.
#pragma once

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace reliant::testing {

inline std::string default_temp_base() {
    const char* base = std::getenv("TMPDIR");
    return base ? base : "/tmp";
}

// A fresh directory under $TMPDIR (or /tmp), or under BASE, removed with everything in it.
class TempDir {
public:
    TempDir() : TempDir(default_temp_base()) {}
    explicit TempDir(const std::string& base) {
        std::string pattern = base + "/reliant-test-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// /dev/shm when it is a tmpfs, else TempDir's default: for a test whose
// subject syncs at every step (the installer's `sync -f`) and that checks
// states, not durability.
// On a disk that a parallel build writes to, each sync waits for the build's
// dirty pages (the installer's rollback test took 166 s in CI, 9 s alone);
// on tmpfs a sync has nothing to write. The steps are the same.
inline std::string memory_temp_base() {
    struct statfs info {};
    if (::statfs("/dev/shm", &info) == 0 && info.f_type == TMPFS_MAGIC && ::access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    return default_temp_base();
}

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

inline void spit(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

inline std::string test_data_dir() { return RELIANT_TEST_DATA_DIR; }
inline std::string source_dir() { return RELIANT_SOURCE_DIR; }
inline std::string binary_dir() { return RELIANT_BINARY_DIR; }

// The argv prefix that runs a command under tests/kill-at: killed (SIGKILL,
// exit status 137) as it enters its n-th call of `syscall`, before the call.
// The test's target needs `DEPENDS kill-at`.
inline std::vector<std::string> kill_at(const std::string& syscall, int n) {
    return {binary_dir() + "/tests/kill-at/kill-at", syscall, std::to_string(n)};
}

}  // namespace reliant::testing
