// reliant's stand-in for Qubes' /usr/lib/qubes/create-snapshot, bound over
// it in the running system by `reliant-overlay loops` (the base keeps the
// original). docs/overlay.md explains why this is the least invasive place.
//
// Qubes' file driver calls `create-snapshot FINAL BASE COW [COW2]`:
//   4 arguments (an AppVM or DispVM volume with snap_on_start):
//     snapshot-<BASE>-<COW> = snapshot(BASE, COW)        shared by the template's AppVMs
//     FINAL                 = snapshot(that, COW2)
//   3 arguments (a volume with save_on_stop, e.g. a TemplateVM's root):
//     snapshot-<BASE>-<COW> and FINAL = snapshot-origin(BASE)
// where <X> is "<st_dev in hex>:<st_ino>" of the path as given, and a file is
// attached with `losetup --find --nooverlap`, writable. The writable attach is
// what copies a base template into the tmpfs.
//
// When BASE is an image `loops` attached, the shim uses that read-only loop
// device instead and builds the same device-mapper names and tables (the
// snapshot target opens its origin read-only, so a read-only loop suffices).
// For every other BASE it runs the base's own create-snapshot unchanged.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "overlay/overlay_root.h"

namespace reliant::overlay {

struct DmTable {
    std::string name;   // without /dev/mapper/
    std::string table;  // one line, "0 <sectors> <target> <args>"
};

struct SnapshotPlan {
    bool delegate = false;  // BASE is not reliant's: run the original script
    std::filesystem::path base_loop;
    std::vector<std::filesystem::path> cow_loops;  // COW, then COW2 when given
    std::vector<DmTable> tables;                   // in creation order; existing names are skipped
};

// Attaches what the tables need (the read-only base loop, writable loops for
// the COW files) and returns the tables. Needs no device-mapper, so it runs
// on a host without it.
Result<SnapshotPlan> plan_snapshot(const RootLayout& layout, const std::vector<std::string>& args);

// Creates the tables not present yet (dmsetup, so udev gets its cookie).
Status create_tables(const std::vector<DmTable>& tables);

// The whole command: plan, then create or delegate. Returns the exit status.
int create_snapshot_main(const RootLayout& layout, const std::vector<std::string>& args);

// The device-mapper name fragment Qubes derives from a path: "-<st_dev hex>:<st_ino>".
Result<std::string> snapshot_name_part(const std::filesystem::path& path);

// `loops` calls this: copies `binary` (the running reliant-overlay, which the
// initramfs takes away at switch-root) to /run/reliant/bin and binds it
// read-only over <sysroot>/usr/lib/qubes/create-snapshot; run under that name
// it acts as create-snapshot. Returns false (and changes nothing) when the
// Qubes script is not there.
Result<bool> install_snapshot_shim(const RootLayout& layout, const std::filesystem::path& sysroot,
                                   const std::filesystem::path& binary = "/proc/self/exe");

}  // namespace reliant::overlay
