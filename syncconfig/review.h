// The review in the target: what a pending transaction would change, made
// display-safe, and the user's decision, read from a terminal the user
// opened (/dev/tty), never from the qrexec stream.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "syncconfig/apply.h"
#include "syncconfig/display.h"
#include "syncconfig/profile.h"
#include "syncconfig/state.h"

namespace reliant::syncconfig {

enum class EntryState { new_file, changed, conflict, unchanged, refused };
std::string_view describe(EntryState state);

struct ReviewEntry {
    std::size_t index = 0;
    EntryState state = EntryState::unchanged;
    std::string reason;  // for refused entries and conflicts
    bool secret = false;
    bool selected = false;  // default: new and changed files; conflicts keep the local file
    LiveFile live;
    std::string content;
    std::vector<std::string> notes;
};

struct ReviewModel {
    Pending pending;
    std::vector<ReviewEntry> entries;
    bool profile_enabled = false;
};

// Re-checks the staged transaction against the profile dom0 enables now
// (an entry it no longer allows is refused) and compares with the live files
// and the last-applied hashes: a file that differs from what SyncConfig last
// wrote there (or that SyncConfig never wrote) is a conflict.
Result<ReviewModel> build_review(StateDir& state, QubesDb& db, const std::string& id);

// The whole review as display-safe text (secret entries as size and hash).
std::string render_review(const ReviewModel& model, const DisplayLimits& limits = {});

// The selected entries as a transaction.
Transaction to_transaction(const ReviewModel& model);

// Interactive review on /dev/tty: shows the review, asks about each
// conflict (default: keep the local file), then applies only when the user
// types "yes"; "reject" discards the transaction; anything else keeps it
// pending. Returns the process exit status.
int review_on_terminal(StateDir& state, QubesDb& db, const std::string& id);

}  // namespace reliant::syncconfig
