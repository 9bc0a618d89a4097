// Helpers for the overlay tests: images built with mke2fs, commands, mounts.
#pragma once

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/process.h"
#include "overlay/loop_device.h"
#include "overlay/overlay_root.h"

namespace reliant::testing {

// Integration tests need root and fail, never skip, without it.
inline void require_root() { REQUIRE_MESSAGE(::geteuid() == 0, "integration tests must run as root"); }

inline std::string run_ok(const std::vector<std::string>& argv) {
    auto result = run_process(argv);
    REQUIRE_MESSAGE(result.ok(), argv[0]);
    INFO(argv[0], ": ", result->err);
    REQUIRE(result->succeeded());
    return result->out;
}

// An ext4 image of `size` (mke2fs syntax, "64M") holding the files of `tree`.
inline void make_ext4(const std::filesystem::path& image, const std::filesystem::path& tree,
                      const std::string& size) {
    run_ok({"mkfs.ext4", "-q", "-F", "-d", tree.string(), image.string(), size});
}

// A writable loop device, detached at the end of the scope.
class ScopedLoop {
public:
    explicit ScopedLoop(const std::filesystem::path& file,
                        overlay::LoopOptions options = {.access = overlay::LoopAccess::read_write}) {
        auto loop = overlay::attach_loop(file, options);
        REQUIRE_MESSAGE(loop.ok(), (loop.ok() ? "" : loop.error().describe()));
        device_ = loop->path;
    }
    // BLKROSET outlives a detach (the flag belongs to the loop device, not to
    // the file), so the flag is cleared before the device goes back to the pool.
    ~ScopedLoop() {
        (void)overlay::set_block_device_read_only(device_, false);
        (void)overlay::detach_loop(device_);
    }
    ScopedLoop(const ScopedLoop&) = delete;
    ScopedLoop& operator=(const ScopedLoop&) = delete;
    const std::filesystem::path& path() const { return device_; }

private:
    std::filesystem::path device_;
};

// Unmounts (lazily, so a failing test does not leave a busy mount) at the end of the scope.
class ScopedUnmount {
public:
    explicit ScopedUnmount(std::filesystem::path target) : target_(std::move(target)) {}
    ~ScopedUnmount() { ::umount2(target_.c_str(), MNT_DETACH); }
    ScopedUnmount(const ScopedUnmount&) = delete;
    ScopedUnmount& operator=(const ScopedUnmount&) = delete;

private:
    std::filesystem::path target_;
};

// A base image on a loop device, "verified" with mode none, and the overlay
// mounted on <dir>/sysroot as mount-root would; everything undone at the end.
class MountedRoot {
public:
    MountedRoot(const std::filesystem::path& dir, const std::filesystem::path& image, const std::string& size)
        : loop_(image), layout_{dir / "run"}, sysroot_(dir / "sysroot") {
        std::filesystem::create_directories(sysroot_);
        REQUIRE(overlay::record_verified_base(layout_, {"none", loop_.path()}).ok());
        const auto status = overlay::mount_root(layout_, size, sysroot_);
        REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().describe()));
    }
    ~MountedRoot() {
        for (const auto& target : {sysroot_, layout_.rw(), layout_.lower()})
            ::umount2(target.c_str(), MNT_DETACH);
    }
    MountedRoot(const MountedRoot&) = delete;
    MountedRoot& operator=(const MountedRoot&) = delete;

    const overlay::RootLayout& layout() const { return layout_; }
    const std::filesystem::path& sysroot() const { return sysroot_; }
    const std::filesystem::path& base_device() const { return loop_.path(); }

private:
    ScopedLoop loop_;
    overlay::RootLayout layout_;
    std::filesystem::path sysroot_;
};

inline std::uint64_t used_bytes(const std::filesystem::path& mount) {
    struct statfs info {};
    REQUIRE(::statfs(mount.c_str(), &info) == 0);
    return static_cast<std::uint64_t>(info.f_blocks - info.f_bfree) *
           static_cast<std::uint64_t>(info.f_bsize);
}

}  // namespace reliant::testing
