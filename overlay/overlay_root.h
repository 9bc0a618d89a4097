// The volatile root: the base mounted read-only at /run/reliant/lower, a
// size-limited tmpfs at /run/reliant/rw holding upper/ and work/, and an
// overlay of the two on /sysroot. Everything lives under /run, so the lower
// and upper layers stay reachable after switch-root (the healer and the
// maintenance tools read them there).
#pragma once

#include <filesystem>
#include <string>

#include "common/error.h"

namespace reliant::overlay {

// Used when rd.reliant.overlay.size= is absent: a quarter of RAM, never unbounded.
inline constexpr const char* default_overlay_size = "25%";

struct RootLayout {
    std::filesystem::path run_dir = "/run/reliant";

    std::filesystem::path lower() const { return run_dir / "lower"; }
    std::filesystem::path rw() const { return run_dir / "rw"; }
    std::filesystem::path upper() const { return rw() / "upper"; }
    std::filesystem::path work() const { return rw() / "work"; }
    // Written by `verify`, read by `prepare`: which device holds the verified base.
    std::filesystem::path verified_base() const { return run_dir / "verified-base"; }
    // Written by `loops`: the read-only loop devices and the images they back.
    std::filesystem::path loop_map() const { return run_dir / "loops"; }
    std::filesystem::path bin_dir() const { return run_dir / "bin"; }
};

// The exact options of the overlay mount on /sysroot, for a generator that
// writes sysroot.mount (Type=overlay, What=overlay) itself.
std::string overlay_mount_options(const RootLayout& layout);

// The device `verify` checked ("/dev/mapper/reliant-base" for dm-verity, the
// base itself for the whole-device hash or `none`) and how.
struct VerifiedBase {
    std::string mode;  // verity, hash, none
    std::filesystem::path device;
};
Status record_verified_base(const RootLayout& layout, const VerifiedBase& base);
Result<VerifiedBase> read_verified_base(const RootLayout& layout);

// Mounts the verified base read-only at lower() (after setting its block
// device read-only) and a tmpfs of `size` at rw() with empty upper/ and
// work/. Parts already in place are kept, so a repeated call is harmless.
Status prepare_root(const RootLayout& layout, const std::string& size);

// prepare_root, then the overlay on `target`.
Status mount_root(const RootLayout& layout, const std::string& size, const std::filesystem::path& target);

}  // namespace reliant::overlay
