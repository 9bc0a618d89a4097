// Where a Shufflecake volume keeps the qrexec policy lines that name its
// qubes. A policy line that names a hidden qube must never reach the base
// (/etc/qubes/policy.d is on the base, or on the RAM overlay that a decoy
// boot shows): such lines live in the volume itself, in this one file at the
// top of the volume's mount point (/run/shufflecake/sflc_M_N/qrexec.policy),
// next to its shard. The boot materializes it into qrexec's policy
// directories when the volume is open (issue 22); reliant-syncconfig-dom0
// writes SyncConfig's lines into it (docs/syncconfig.md). Defined once, here.
#pragma once

#include <filesystem>
#include <string_view>

namespace reliant {

inline constexpr std::string_view volume_policy_file_name = "qrexec.policy";

// `volume_directory` is the volume's mount point, e.g. /run/shufflecake/sflc_0_1.
inline std::filesystem::path volume_policy_path(const std::filesystem::path& volume_directory) {
    return volume_directory / volume_policy_file_name;
}

}  // namespace reliant
