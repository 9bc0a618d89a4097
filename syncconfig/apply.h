// Apply and undo, each one transaction in the target user's home:
//
//  1. check: every destination is absent or a regular file with one link,
//     reached without following a link (fsutil.h), and still holds what the
//     review showed (else: conflict, nothing is written);
//  2. journal "prepared", then per file: a backup of the old content under
//     state/tx/<id>/, and the new content in a temporary
//     ".syncconfig-<id>-<n>" in the destination's own directory (same mount,
//     so the rename is atomic), fsync'd;
//  3. journal "committing" (the commit point), then each temporary renamed
//     over its destination (or the file unlinked, for undo of a new file),
//     directories fsync'd; the last-applied hashes updated; journal removed.
//
// Recovery, at the start of every command: a "prepared" journal is rolled
// back (temporaries removed: nothing was replaced), a "committing" one rolled
// forward (the remaining temporaries renamed into place: the user approved).
// After any crash and recovery it is all approved files or none.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "syncconfig/sha256.h"
#include "syncconfig/state.h"

namespace reliant::syncconfig {

struct Change {
    std::string path;
    bool remove = false;     // undo of a file the transaction created
    std::string content;     // for puts
    mode_t mode = 0644;
    // What the destination held when the user reviewed it.
    bool expected_exists = false;
    Digest expected{};
};

enum class TransactionKind { apply, undo };

struct Transaction {
    TransactionKind kind = TransactionKind::apply;
    std::string id;  // the pending transaction (apply) or the transaction undone
    std::vector<Change> changes;
};

// Last-applied SHA-256 per path, and the id of the last applied transaction.
struct AppliedState {
    std::map<std::string, Digest> hashes;
    std::string last;
};
Result<AppliedState> load_applied(StateDir& state);

// What lies at a destination now, for the review: nullopt when absent.
struct LiveFile {
    bool exists = false;
    bool replaceable = false;  // absent, or a regular file with one link
    std::string kind;
    std::string content;
    Digest hash{};
    mode_t mode = 0;
};
Result<LiveFile> read_live(StateDir& state, const std::string& path, std::uint64_t max_bytes);

// Runs a transaction (the caller holds the state lock and ran recover()).
Status run_transaction(StateDir& state, const Transaction& transaction);

// Finishes or rolls back an interrupted transaction; true when there was one.
Result<bool> recover(StateDir& state);

// The undo transaction of the last apply: each file back to its backup (or
// removed, if the apply created it). Files changed since the apply are
// conflicts: refused unless `force`.
Result<Transaction> plan_undo(StateDir& state, bool force);

}  // namespace reliant::syncconfig
