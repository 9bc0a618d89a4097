// The units of a reliant boot, decided from the kernel command line alone
// (docs/boot.md). The static units ship in the initramfs without [Install]
// sections, so they are inert; this generator pulls them in only when
// rd.reliant=1, and chooses between a normal boot (overlay root, unlock,
// heal) and maintenance mode (the base mounted writable, nothing else).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/kernel_cmdline.h"

namespace reliant::boot {

// The static units of the module (dracut/modules.d/50reliant).
inline constexpr const char* protect_unit = "reliant-protect.service";
inline constexpr const char* unlock_unit = "reliant-unlock.service";
inline constexpr const char* verify_unit = "reliant-verify.service";
inline constexpr const char* prepare_unit = "reliant-prepare.service";
inline constexpr const char* heal_unit = "reliant-heal.service";
inline constexpr const char* loops_unit = "reliant-loops.service";
inline constexpr const char* failed_template = "reliant-failed@.service";
// Closes the volumes once, before any failure message (reliant-failed@ wants it).
inline constexpr const char* close_unit = "reliant-close.service";
// The instance of reliant-failed@ the generator starts when the command line
// is unusable.
inline constexpr const char* generator_instance = "reliant-generator";

struct GeneratedFile {
    std::filesystem::path path;  // relative to its output directory
    std::string content;         // the file's text, or the target of a symlink
    bool symlink = false;
};

enum class BootPlan { off, normal, maintenance, failed };

struct GeneratorPlan {
    BootPlan kind = BootPlan::off;
    std::vector<GeneratedFile> normal;  // systemd's first generator directory
    std::vector<GeneratedFile> early;   // the second: wins over fstab-generator's sysroot.mount
    std::vector<std::string> problems;  // why the plan is `failed` (option names, never secrets)
};

// Nothing unless rd.reliant is on. `unit_dir` is where the static units are
// installed (the target of the .wants symlinks; systemd reads only the names).
GeneratorPlan plan_boot_units(const KernelCmdline& cmdline,
                              const std::string& unit_dir = "/usr/lib/systemd/system");

// Writes the plan below the two directories, creating subdirectories.
Status write_plan(const GeneratorPlan& plan, const std::filesystem::path& normal,
                  const std::filesystem::path& early);

}  // namespace reliant::boot
