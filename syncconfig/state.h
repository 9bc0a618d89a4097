// The target user's SyncConfig state, on the persistent volume (in an app
// qube /home is a bind mount of /rw/home, while /tmp is not persistent):
//
//   ~/.local/state/syncconfig/            0700
//     lock                                flock: one receive/apply/undo at a time
//     incoming/<id>/                      a receive in progress (removed on refusal)
//     pending/<id>/{manifest,meta,blob-N} staged transactions awaiting review
//     journal                             the apply/undo journal (apply.h)
//     tx/<id>/                            backups and the record of an applied transaction
//     applied                             last-applied SHA-256 per path (conflict detection)
//
// Everything here is opened beneath the home descriptor without following
// links, and written by us only; still, what was staged came from the sender,
// so staged manifests and blobs are re-checked (grammar, profile, hash) when
// they are read back.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "syncconfig/wire.h"

namespace reliant::syncconfig {

inline constexpr std::string_view state_relative = ".local/state/syncconfig";

class StateDir {
public:
    // Opens (creating, 0700) the state directory beneath `home`.
    static Result<StateDir> open(const std::string& home);

    int home() const { return home_.get(); }
    int root() const { return root_.get(); }
    Result<UniqueFd> sub(const char* name);  // incoming, pending, tx: created 0700

    // flock on `lock`; EWOULDBLOCK (busy) when another process holds it.
    Status lock();

    Result<std::vector<std::string>> pending_ids();

private:
    UniqueFd home_, root_, lock_;
};

bool valid_id(std::string_view id);

// Removes `name` in `directory`: a directory of plain files (ours), or a file.
Status remove_entry(int directory, const std::string& name);

struct Pending {
    std::string id;
    std::string source;  // QREXEC_REMOTE_DOMAIN of the receive, a valid qube name or "unknown"
    Manifest manifest;
    UniqueFd directory;
};

Result<Pending> load_pending(StateDir& state, const std::string& id);
// The staged content of entry `index`, checked against its size and hash.
Result<std::string> read_blob(const Pending& pending, std::size_t index);

bool valid_qube_name(std::string_view name);

// The home directory of `uid`, from `passwd_text` (the content of
// /etc/passwd). Not getpwuid(): in a static binary that loads glibc's NSS
// modules at run time, which a binary built on Debian cannot rely on in a
// Fedora template. Qubes' VM users are local users in /etc/passwd.
Result<std::string> home_from_passwd(std::string_view passwd_text, unsigned uid);

}  // namespace reliant::syncconfig
