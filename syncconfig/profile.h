// Profiles: what dom0 allows a target to receive, and where that is read.
//
// dom0 enables profiles per target with qvm-features, which Qubes copies into
// the target's QubesDB under /vm-config/ (core-admin's vm_config extension):
//   vm-config.syncconfig.profiles      = "git shell"          (names, space-separated)
//   vm-config.syncconfig.profile.git   = "allow=.gitconfig allow=.config/git/** secret=.git-credentials ..."
// The patterns live in dom0, not in the template and not in the stream, so a
// compromised config-mgmt cannot widen what a target accepts. A value that
// does not parse disables the profile (fail closed).
//
// Profile tokens (space-separated; patterns follow syncconfig/paths.h):
//   allow=P     paths the profile accepts (at least one)
//   deny=P      paths it refuses even when allowed
//   secret=P    paths reviewed as size and hash only, never content
//   exec=P      paths that may carry an executable mode (0700/0755)
//   max-file=N, max-total=N, max-entries=N   lower the compiled-in limits
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "syncconfig/wire.h"

namespace reliant::syncconfig {

inline constexpr std::string_view qubesdb_profiles_key = "/vm-config/syncconfig.profiles";
inline constexpr std::string_view qubesdb_profile_prefix = "/vm-config/syncconfig.profile.";
inline constexpr std::size_t qubesdb_max_value = 3072;  // QDB_MAX_DATA (qubes-core-qubesdb)

struct Profile {
    std::string name;
    std::vector<std::string> allow, deny, secret, exec;
    Limits limits;

    bool allows(std::string_view path) const;
    bool is_secret(std::string_view path) const;
    bool may_execute(std::string_view path) const;
};

// Paths no profile can open: SyncConfig's own state, where a pushed file
// would let the sender forge pending transactions or undo records.
bool hard_denied(std::string_view path);

bool valid_profile_name(std::string_view name);
Result<Profile> parse_profile(std::string_view name, std::string_view value);

// Read access to the target's QubesDB.
class QubesDb {
public:
    virtual ~QubesDb() = default;
    // nullopt when the key does not exist; an Error when QubesDB cannot be asked.
    virtual Result<std::optional<std::string>> read(std::string_view key) = 0;
};

// Runs `qubesdb-read -r KEY` (qubes-core-qubesdb: client/qubesdb-cmd.c, which
// prints the raw value and a newline, or exits 1 for a missing key).
class ExecQubesDb : public QubesDb {
public:
    explicit ExecQubesDb(std::string program = "/usr/bin/qubesdb-read") : program_(std::move(program)) {}
    Result<std::optional<std::string>> read(std::string_view key) override;

private:
    std::string program_;
};

// The profile named `name` if dom0 enabled it for this qube, else nullopt.
Result<std::optional<Profile>> enabled_profile(QubesDb& db, std::string_view name);

}  // namespace reliant::syncconfig
