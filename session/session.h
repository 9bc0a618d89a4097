// reliant-session: what runs in the real root of a reliant boot.
//   split      qubesd's qubes.xml -> the shards on the open volumes (at
//              shutdown, and debounced whenever qubesd saves)
//   close      unmount and close the Shufflecake volumes (shutdown)
//   seal-arm   (maintenance boots) check the seal settings; arms the hook
//   seal       (maintenance boots, systemd-shutdown hook, base read-only)
//              reliant-overlay seal, then the record GRUB reads at the
//              next boot
//   journal    (maintenance boots) base qubes removed and created, and the
//   successor  successors the user states (healer/base_journal.h)
//   repair     a chosen fix for a volume frozen at this boot (healer/repair.h)
//   status, summary, notice: what merge did (session/status.h)
// Each does nothing, successfully, in a boot it does not belong to, so the
// units and the hook stay inert without rd.reliant=1. docs/install.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/block_device.h"
#include "common/boot_options.h"
#include "common/error.h"
#include "session/debounce.h"
#include "shufflecake-glue/command_runner.h"
#include "shufflecake-glue/device_mapper.h"
#include "shufflecake-glue/mount_table.h"

namespace reliant::session {

namespace fs = std::filesystem;

// Every path the commands touch; the defaults are the installed system's,
// tests point them into a temporary directory.
struct Paths {
    fs::path cmdline = "/proc/cmdline";
    fs::path qubes_xml = "/var/lib/qubes/qubes.xml";
    fs::path run_dir = "/run/reliant";               // overlay and healer state (RAM)
    fs::path volume_root = "/run/shufflecake";       // where unlock mounted the volumes
    fs::path shard_root = "/run/shufflecake";        // where the shards are (the same, but for tests)
    fs::path healer = "/usr/libexec/reliant/reliant-healer";
    fs::path overlay = "/usr/libexec/reliant/reliant-overlay";
    fs::path settings = "/etc/default/reliant";
    fs::path dev_root = "/dev";
    // In the base: written in maintenance boots only, read by the boot's merge.
    fs::path base_journal = "/var/lib/reliant/base-journal.json";
    // Appended to the healer's command line (tests: --root, --pci-root-buses).
    std::vector<std::string> healer_options;

    fs::path merge_report() const { return run_dir / "heal-report.json"; }
    fs::path split_report() const { return run_dir / "split-report.json"; }
    // Counts only, readable by all: the desktop notice (session/status.h).
    fs::path summary() const { return run_dir / "summary"; }
    // In normal boots the base is read-only: base changes go to RAM only.
    fs::path split_base_out() const { return run_dir / "split" / "qubes.xml"; }
    fs::path split_lock() const { return run_dir / "split.lock"; }
    fs::path seal_armed() const { return run_dir / "seal-armed"; }
    fs::path seal_args() const { return run_dir / "seal.args"; }
    fs::path record_mount() const { return run_dir / "record"; }
};

// Which boot this is, from the kernel command line.
enum class BootKind { other, normal, maintenance };
Result<BootKind> boot_kind(const fs::path& cmdline);

// ---- split ----

// The healer command line of a split (docs/shards.md).
std::vector<std::string> split_command(const Paths& paths);

// One split under the lock (so the save-triggered and the shutdown split
// never overlap). Refuses when this boot did not merge (no merge report):
// without it the healer could not tell which shards were frozen at boot.
Status split_once(const Paths& paths, shufflecake::CommandRunner& runner, std::ostream& out);

// ---- the base journal (maintenance boots) ----

// The healer command line of a journal action: record, show,
// successor OLD NEW, forget OLD (reliant-healer journal).
std::vector<std::string> journal_command(const Paths& paths, const std::vector<std::string>& action);

// Runs a journal action in a maintenance boot. In any other boot the base is
// read-only (or not reliant's): `record` does nothing, successfully; every
// other action is refused with what to do.
Status run_journal_action(const Paths& paths, shufflecake::CommandRunner& runner,
                          const std::vector<std::string>& action, std::ostream& out);

// ---- repair (normal boots) ----

// The healer command line of a repair: VOLUME rename QUBE NEW | VOLUME drop QUBE.
std::vector<std::string> repair_command(const Paths& paths, const std::vector<std::string>& action);

// A chosen fix for a shard frozen at this boot, on its volume (healer/repair.h).
// Only in a normal boot that merged (the merge report says which were frozen).
Status run_repair(const Paths& paths, shufflecake::CommandRunner& runner, const std::vector<std::string>& action,
                  std::ostream& out);

// ---- close ----

// Resolves a device spec (rd.reliant.device, the record device) to an
// existing block device; tests substitute their own.
using DeviceResolver = std::function<Result<BlockDevice>(const std::string& spec)>;
DeviceResolver system_device_resolver(const fs::path& dev_root);

// Unmounts and removes every Shufflecake volume open on rd.reliant.device,
// most secret first (shufflecake-glue's close_device).
Status close_volumes(const Paths& paths, const DeviceResolver& resolve, shufflecake::DeviceMapper& dm,
                     shufflecake::MountTable& mounts, const std::vector<std::string>& volume_targets,
                     std::ostream& out);

// ---- seal ----

class Mounter {
public:
    virtual ~Mounter() = default;
    virtual Status mount(const fs::path& device, const fs::path& target, const std::string& fstype) = 0;
    virtual Status unmount(const fs::path& target) = 0;
};

class SystemMounter final : public Mounter {
public:
    Status mount(const fs::path& device, const fs::path& target, const std::string& fstype) override;
    Status unmount(const fs::path& target) override;
};

// Checks the settings and the record device, then writes the armed marker.
Status arm_seal(const Paths& paths, const DeviceResolver& resolve, std::ostream& out);

// Seals the base with reliant-overlay and records the arguments in the GRUB
// environment block on the record filesystem: reliant_seal=<arguments> and
// reliant_seal_status=sealed. When sealing fails the previous reliant_seal is
// kept (the next normal boot stops at verify, as it must after a change of
// the base) and reliant_seal_status=failed is recorded.
struct SealSettings {
    // systemd-shutdown gives its hooks 90 s; the seal stops before that so
    // that the failure is still recorded and the record unmounted cleanly.
    std::chrono::milliseconds timeout{75000};
};
// Whether this is a maintenance boot whose seal was armed at boot.
Result<bool> seal_is_armed(const Paths& paths);

Status seal_and_record(const Paths& paths, const DeviceResolver& resolve, shufflecake::CommandRunner& runner,
                       Mounter& mounter, const SealSettings& settings, std::ostream& out);

// The kernel arguments reliant-overlay seal printed, checked before they go
// into GRUB's environment: one line of rd.reliant.* words from a narrow
// character set.
Result<std::string> checked_seal_arguments(std::string_view printed);

}  // namespace reliant::session
