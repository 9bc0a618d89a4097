#include "syncconfig/review.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "common/beneath.h"
#include "syncconfig/risk.h"
#include "syncconfig/sha256.h"

namespace reliant::syncconfig {

namespace {

std::string octal(mode_t mode) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode));
    return buffer;
}

class Terminal {
public:
    Status open() {
        fd_.reset(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!fd_) return Error::from_errno("the review needs a terminal (/dev/tty)");
        if (!::isatty(fd_.get())) return Error("/dev/tty is not a terminal", ENOTTY);
        return success();
    }
    void write(std::string_view text) {
        while (!text.empty()) {
            const ssize_t n = ::write(fd_.get(), text.data(), text.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            text.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    // One line, at most 256 bytes kept; EOF gives an empty answer (= No).
    std::string ask(std::string_view prompt) {
        write(prompt);
        std::string line;
        char c = 0;
        for (;;) {
            const ssize_t n = ::read(fd_.get(), &c, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0 || c == '\n') break;
            if (line.size() < 256) line += c;
        }
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        return line;
    }

private:
    UniqueFd fd_;
};

}  // namespace

std::string_view describe(EntryState state) {
    switch (state) {
    case EntryState::new_file: return "NEW";
    case EntryState::changed: return "CHANGED";
    case EntryState::conflict: return "CONFLICT";
    case EntryState::unchanged: return "UNCHANGED";
    case EntryState::refused: return "REFUSED";
    }
    return "?";
}

Result<ReviewModel> build_review(StateDir& state, QubesDb& db, const std::string& id) {
    ReviewModel model;
    auto pending = load_pending(state, id);
    if (!pending) return std::move(pending).error();
    model.pending = std::move(*pending);
    auto profile = enabled_profile(db, model.pending.manifest.profile);
    if (!profile) return std::move(profile).error();
    model.profile_enabled = profile->has_value();
    auto applied = load_applied(state);
    if (!applied) return std::move(applied).error();
    const auto& entries = model.pending.manifest.entries;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const Entry& entry = entries[i];
        ReviewEntry r;
        r.index = i;
        r.secret = entry.secret || (*profile && (*profile)->is_secret(entry.path));
        if (!*profile || !(*profile)->allows(entry.path) ||
            (executable_mode(entry.mode) && !(*profile)->may_execute(entry.path))) {
            r.state = EntryState::refused;
            r.reason = "not allowed by the profile dom0 enables now";
            model.entries.push_back(std::move(r));
            continue;
        }
        auto content = read_blob(model.pending, i);
        if (!content) return std::move(content).error();
        r.content = std::move(*content);
        r.notes = risk_notes(entry.path, r.content, executable_mode(entry.mode));
        auto live = read_live(state, entry.path, hard_max_file_bytes);
        if (!live) {
            r.state = EntryState::refused;
            r.reason = "destination cannot be read safely: " + live.error().describe();
        } else if (!live->replaceable) {
            r.state = EntryState::refused;
            r.reason = "destination is a " + live->kind + " (only regular files are replaced)";
            r.live = std::move(*live);
        } else {
            r.live = std::move(*live);
            const auto last = applied->hashes.find(entry.path);
            if (!r.live.exists) {
                r.state = EntryState::new_file;
                r.selected = true;
            } else if (equal_digests(r.live.hash, entry.sha256) && r.live.mode == entry.mode) {
                r.state = EntryState::unchanged;
            } else if (last != applied->hashes.end() && equal_digests(last->second, r.live.hash)) {
                r.state = EntryState::changed;
                r.selected = true;
            } else {
                r.state = EntryState::conflict;
                r.reason = last == applied->hashes.end() ? "a local file SyncConfig never wrote"
                                                         : "changed locally since the last apply";
            }
        }
        model.entries.push_back(std::move(r));
    }
    return model;
}

std::string render_review(const ReviewModel& model, const DisplayLimits& limits) {
    const Manifest& manifest = model.pending.manifest;
    std::string out = "SyncConfig transaction " + model.pending.id + "\n  from qube: " + model.pending.source +
                      "\n  profile: " + manifest.profile + (model.profile_enabled ? "" : " (NOT ENABLED NOW)") +
                      "\n  generation: " + std::to_string(manifest.generation) + ", " +
                      std::to_string(manifest.entries.size()) + " file(s), " +
                      std::to_string(manifest.total_size) + " bytes\n\n";
    for (const ReviewEntry& r : model.entries) {
        const Entry& entry = manifest.entries[r.index];
        out += "  [" + std::string(describe(r.state)) + "] " + sanitize_line(entry.path, limits.max_line) +
               "  mode " + octal(entry.mode) + (r.secret ? "  (secret)" : "") + "\n";
        if (!r.reason.empty()) out += "      " + sanitize_line(r.reason, limits.max_line) + "\n";
        for (const std::string& note : r.notes) out += "      RISK: " + note + "\n";
    }
    for (const ReviewEntry& r : model.entries) {
        if (r.state == EntryState::refused || r.state == EntryState::unchanged) continue;
        const Entry& entry = manifest.entries[r.index];
        out += "\n--- " + sanitize_line(entry.path, limits.max_line) + " (" + std::string(describe(r.state)) + ")\n";
        if (r.secret) {
            out += "  secret: content not shown\n";
            out += "  local:    " +
                   (r.live.exists ? std::to_string(r.live.content.size()) + " bytes, sha256 " + to_hex(r.live.hash)
                                  : std::string("absent")) +
                   "\n";
            out += "  incoming: " + std::to_string(entry.size) + " bytes, sha256 " + to_hex(entry.sha256) + "\n";
            continue;
        }
        if (r.live.exists && r.live.mode != entry.mode)
            out += "  mode " + octal(r.live.mode) + " -> " + octal(entry.mode) + "\n";
        const std::string path = entry.path;
        out += unified_diff(r.live.content, r.content, [&](std::string_view line) { return risky_line(path, line); },
                            limits);
    }
    return out;
}

Transaction to_transaction(const ReviewModel& model) {
    Transaction transaction;
    transaction.kind = TransactionKind::apply;
    transaction.id = model.pending.id;
    for (const ReviewEntry& r : model.entries) {
        if (!r.selected || r.state == EntryState::refused || r.state == EntryState::unchanged) continue;
        const Entry& entry = model.pending.manifest.entries[r.index];
        Change change;
        change.path = entry.path;
        change.content = r.content;
        change.mode = r.secret ? 0600 : entry.mode;  // secrets are never left group/world-readable
        change.expected_exists = r.live.exists;
        change.expected = r.live.hash;
        transaction.changes.push_back(std::move(change));
    }
    return transaction;
}

int review_on_terminal(StateDir& state, QubesDb& db, const std::string& id) {
    Terminal tty;
    if (auto s = tty.open(); !s) {
        std::fprintf(stderr, "reliant-syncconfig: %s\n", s.error().describe().c_str());
        return 2;
    }
    auto model = build_review(state, db, id);
    if (!model) {
        tty.write("reliant-syncconfig: " + sanitize_line(model.error().describe(), 512) + "\n");
        return 1;
    }
    tty.write(render_review(*model));
    for (ReviewEntry& r : model->entries) {
        if (r.state != EntryState::conflict) continue;
        const std::string path = sanitize_line(model->pending.manifest.entries[r.index].path, 512);
        const std::string answer =
            tty.ask("\nCONFLICT: " + path + " (" + r.reason + ").\nType 'replace' to take the incoming file; "
                                                             "anything else keeps yours: ");
        r.selected = answer == "replace";
    }
    const Transaction transaction = to_transaction(*model);
    if (!model->profile_enabled) {
        tty.write("\nThe profile is not enabled for this qube any more; nothing can be applied.\n");
        return 1;
    }
    const std::string answer = tty.ask("\nApply " + std::to_string(transaction.changes.size()) +
                                       " file(s)? Type 'yes' to apply, 'reject' to discard this transaction, "
                                       "anything else keeps it pending: ");
    if (answer == "reject") {
        auto pending = state.sub("pending");
        if (pending) (void)remove_entry(pending->get(), id);
        tty.write("Rejected: the transaction was discarded.\n");
        return 1;
    }
    if (answer != "yes") {
        tty.write("Not applied: the transaction stays pending.\n");
        return 1;
    }
    if (transaction.changes.empty()) {
        auto pending = state.sub("pending");
        if (pending) (void)remove_entry(pending->get(), id);
        tty.write("Nothing to apply; the transaction was discarded.\n");
        return 0;
    }
    if (auto s = run_transaction(state, transaction); !s) {
        (void)recover(state);  // a half-prepared transaction is rolled back now
        tty.write("Not applied: " + sanitize_line(s.error().describe(), 512) + "\n");
        return 1;
    }
    tty.write("Applied " + std::to_string(transaction.changes.size()) +
              " file(s). 'reliant-syncconfig undo' restores the previous versions.\n");
    return 0;
}

}  // namespace reliant::syncconfig
