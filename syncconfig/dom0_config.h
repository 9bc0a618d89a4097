// The dom0 configuration of SyncConfig (reliant-syncconfig-dom0,
// docs/syncconfig.md "Setup"): one small text file in dom0, one statement a
// line, "#" comments:
//
//   release 4.3                          Qubes release: 4.3 (custom-persist) or 4.2 (bind-dirs); default 4.3
//   sender config-mgmt                   the qube that pushes (exactly one)
//   profile git allow=.gitconfig ...     a profile: the value the target reads (syncconfig/profile.h)
//   target work git shell:allow          a target and the profiles it accepts; :ask (default) or :allow
//   persist work /etc/NetworkManager     a directory outside /home the target keeps across restarts
//
// Everything is checked before anything is written or run: qube names by
// Qubes' rule, profiles by the receiver's own parser, persistence paths by
// persist_path_problem. Bounded: the file, the counts, every value.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace reliant::syncconfig {

enum class PolicyAction { ask, allow };
enum class QubesRelease { r4_2, r4_3 };

struct TargetProfile {
    std::string profile;
    PolicyAction action = PolicyAction::ask;
};

struct Dom0Target {
    std::string name;
    std::vector<TargetProfile> profiles;
    std::vector<std::string> persist;  // absolute directories
};

struct Dom0Config {
    QubesRelease release = QubesRelease::r4_3;
    std::string sender;
    std::map<std::string, std::string> profiles;  // name -> value, as the target reads it
    std::vector<Dom0Target> targets;              // in the file's order
};

inline constexpr std::size_t dom0_config_max_bytes = 64 * 1024;
inline constexpr std::size_t dom0_max_targets = 64;
inline constexpr std::size_t dom0_max_profiles = 32;
inline constexpr std::size_t dom0_max_persist = 16;  // per target
inline constexpr std::size_t persist_path_max = 255;
inline constexpr std::size_t persist_path_max_depth = 16;

// Why `name` cannot be a sender or target: Qubes' validate_name
// (qubes-core-admin qubes/vm/__init__.py), and not dom0. Empty when it can.
std::string qube_name_problem(std::string_view name);

// Why `path` cannot be persisted: it must be absolute, normalized (no empty,
// "." or ".." component, no trailing "/"), of [A-Za-z0-9._+@-] components,
// at most 255 bytes and 16 components deep, and not /, nor under /home,
// /usr/local (Qubes persists them already), /rw, /proc, /sys, /dev, /run or
// /tmp. The byte set keeps it one word for bind-dirs' bash and one field for
// custom-persist's ":" syntax. Empty when it can.
std::string persist_path_problem(std::string_view path);

// Parses and checks the whole file; errors carry the line ("config", N).
Result<Dom0Config> parse_dom0_config(std::string_view text);

}  // namespace reliant::syncconfig
