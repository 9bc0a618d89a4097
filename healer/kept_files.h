// Giving the qubes of merged shards the files dom0 keeps for them (their
// firewall, their notes: qube-files/), before qubesd starts, and holding
// back a qube whose firewall cannot be given back: to qubesd a missing
// firewall.xml means "accept all" (qubes/firewall.py, load_defaults).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "healer/model.h"
#include "healer/report.h"

namespace reliant::healer {

struct KeptFilesRestored {
    std::size_t placed = 0;  // files written into the root
    std::size_t held = 0;    // qubes given prohibit-start for a firewall not restored
};

// For every merged shard of `report`: makes each merged qube's directory
// under `root` (qvm-firewall needs it), loads its volume's stored files
// (shard_root/sflc_M_N, beside the shard) for the qubes it merged, writes them under `root`
// (var/lib/qubes/appvms/NAME/...), and records in the shard's outcome what
// could not be restored. A firewall that was recorded but cannot be read,
// checked or written gives its qube prohibit-start in `merged`; so does any
// firewall of a volume whose manifest cannot be read.
KeptFilesRestored restore_kept_files(Document& merged, HealReport& report, const std::filesystem::path& shard_root,
                                     const std::filesystem::path& root);

// Whether qubesd can load `bytes` as a firewall.xml (qubes/firewall.py
// Firewall.load: version 1 with a policy, or version 2 with <rules> of
// <rule> elements), read as hostile XML. The rules' values are qubesd's to
// check: one it refuses fails the qube's start, it never opens it.
Status firewall_loadable(std::string_view bytes);

}  // namespace reliant::healer
