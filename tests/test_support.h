// Helpers shared by the test executables.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace reliant::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base ? base : "/tmp") + "/reliant-test-XXXXXX";
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
