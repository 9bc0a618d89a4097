// What reliant-syncconfig-dom0 writes and runs for a configuration
// (dom0_config.h), decided before anything is touched:
//
//  * the qrexec policy: one line per (profile, sender, target),
//      qubes.SyncConfig +PROFILE SENDER TARGET ask default_target=TARGET   (or "allow")
//    explicit names only. Base pairs go into the tool's own file in
//    /etc/qubes/policy.d; a pair on a Shufflecake volume goes into a block of
//    that volume's policy file (common/volume_policy.h), never into the base.
//    Sender and target on different volumes, or one in the base and one on
//    a volume, are refused: a line in either place would name a qube of the
//    other.
//  * the features each target's receiver reads (syncconfig/profile.h):
//      vm-config.syncconfig.profiles, vm-config.syncconfig.profile.NAME
//    and for persistence outside /home on Qubes 4.3, custom-persist.KEY =
//    dir:root:root:0755:PATH (qubes-core-admin qubes/ext/custom_persist.py,
//    read by core-agent-linux vm-systemd/bind-dirs.sh); on 4.2 a bind-dirs
//    configuration text to install in the target.
//  * the checks that every named qube exists (qvm-features NAME), so that a
//    qube of a closed volume, which the shards cannot place, is never named;
//    their listings show the owned features (owned_feature_prefixes) a
//    target has but the configuration no longer asks for: those are unset.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "syncconfig/dom0_config.h"
#include "syncconfig/dom0_placement.h"
#include "syncconfig/policy_v5.h"

namespace reliant::syncconfig {

inline constexpr std::string_view dom0_policy_file_name = "30-reliant-syncconfig.policy";
inline constexpr std::string_view policy_block_begin = "# BEGIN reliant-syncconfig";
inline constexpr std::string_view policy_block_end = "# END reliant-syncconfig";

struct PolicyRules {
    std::vector<PolicyLine> base;
    std::map<healer::VolumeId, std::vector<PolicyLine>> volumes;
};

// The rules, placed; refuses pairs that cross a volume boundary.
Result<PolicyRules> policy_rules(const Dom0Config& config, const QubePlaces& places);

// The whole base file.
std::string base_policy_text(const std::vector<PolicyLine>& lines);

// A volume's policy file with SyncConfig's block replaced by `lines` (or
// removed when there are none); the rest of the file is kept as it is.
// nullopt: there is no file and nothing to put in one. A file with a
// broken block (a BEGIN without END, two blocks) is refused.
Result<std::optional<std::string>> volume_policy_text(const std::optional<std::string>& existing,
                                                      const std::vector<PolicyLine>& lines);

// The custom-persist feature name for a directory: stable per path.
std::string custom_persist_key(std::string_view path);

// The bind-dirs configuration for a target (Qubes 4.2), to install as
// /rw/config/qubes-bind-dirs.d/50_syncconfig.conf in it (or in its template,
// under /etc/qubes-bind-dirs.d/).
std::string bind_dirs_text(const Dom0Target& target);

struct Dom0Options {
    std::filesystem::path volume_root = "/run/shufflecake";
    std::filesystem::path policy_dir = "/etc/qubes/policy.d";
    std::string qvm_features = "qvm-features";
};

struct PlannedFile {
    std::filesystem::path path;
    std::string content;
};

// The feature names the tool owns on a target: what it sets, and what it
// unsets when the configuration no longer asks for it.
inline constexpr std::string_view owned_feature_prefixes[] = {"vm-config.syncconfig.profile.",
                                                              "custom-persist.syncconfig-"};

bool owned_feature(std::string_view name);

struct Dom0Plan {
    std::string qvm_features;
    std::vector<std::vector<std::string>> existence_checks;  // argv: qvm-features -- NAME (lists its features)
    std::map<std::string, std::set<std::string>> owned;      // target -> the owned features it keeps
    std::vector<std::vector<std::string>> feature_calls;     // argv
    std::vector<PlannedFile> files;                          // base file first
    std::map<std::string, std::string> bind_dirs;            // target -> text (4.2)
    std::vector<std::string> notes;
};

// Places the qubes, reads the open volumes' policy files (regular files only,
// no links, bounded) and decides everything. Writes nothing.
Result<Dom0Plan> plan_dom0(const Dom0Config& config, const Dom0Options& options);

}  // namespace reliant::syncconfig
