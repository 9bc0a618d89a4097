#include "syncconfig/apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#include "common/beneath.h"
#include "common/hex.h"

namespace reliant::syncconfig {

namespace {

constexpr std::uint64_t max_backup_bytes = hard_max_file_bytes;

std::optional<Digest> digest_of_hex(std::string_view hex) {
    auto bytes = from_hex(hex);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    Digest d{};
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
}

// The state files are ours, but a crash or a hostile past can leave anything:
// they are parsed strictly and every path re-checked against the grammar.
struct JournalEntry {
    bool remove = false;
    std::size_t index = 0;
    mode_t mode = 0644;
    std::string path;
};

struct Journal {
    TransactionKind kind = TransactionKind::apply;
    std::string id, temp_id, phase;
    std::vector<JournalEntry> entries;
};

std::string temp_name(const Journal& journal, std::size_t index) {
    return ".syncconfig-" + journal.temp_id + "-" + std::to_string(index);
}

std::string serialize(const Journal& journal) {
    std::ostringstream out;
    out << "syncconfig-journal 1\nkind " << (journal.kind == TransactionKind::apply ? "apply" : "undo") << "\nid "
        << journal.id << "\ntemp " << journal.temp_id << "\nphase " << journal.phase << "\n";
    for (const JournalEntry& e : journal.entries)
        out << (e.remove ? "remove " : "put ") << e.index << " " << std::oct << e.mode << std::dec << " "
            << to_hex(e.path) << "\n";
    return out.str();
}

Result<Journal> parse_journal(const std::string& text) {
    Journal journal;
    std::istringstream in(text);
    std::string word, value;
    if (!std::getline(in, word) || word != "syncconfig-journal 1") return Error("journal: bad header", EINVAL);
    std::string kind;
    if (!(in >> word >> kind) || word != "kind" || (kind != "apply" && kind != "undo"))
        return Error("journal: bad kind", EINVAL);
    journal.kind = kind == "apply" ? TransactionKind::apply : TransactionKind::undo;
    if (!(in >> word >> journal.id) || word != "id" || !valid_id(journal.id)) return Error("journal: bad id", EINVAL);
    if (!(in >> word >> journal.temp_id) || word != "temp" || !valid_id(journal.temp_id))
        return Error("journal: bad temp id", EINVAL);
    if (!(in >> word >> journal.phase) || word != "phase" ||
        (journal.phase != "prepared" && journal.phase != "committing"))
        return Error("journal: bad phase", EINVAL);
    while (in >> word) {
        JournalEntry e;
        std::string hexpath;
        if ((word != "put" && word != "remove") || !(in >> e.index >> std::oct >> e.mode >> std::dec >> hexpath))
            return Error("journal: bad entry", EINVAL);
        e.remove = word == "remove";
        auto path = from_hex(hexpath);
        if (!path || !check_path(*path).ok()) return Error("journal: bad path", EINVAL);
        e.path = *path;
        journal.entries.push_back(std::move(e));
    }
    return journal;
}

Status write_state_file(int directory, const std::string& name, const std::string& bytes) {
    return replace_file_beneath(directory, name, bytes, 0600);
}

Status write_journal(StateDir& state, const Journal& journal) {
    return write_state_file(state.root(), "journal", serialize(journal));
}

Status save_applied(StateDir& state, const AppliedState& applied) {
    std::string text = "last " + (applied.last.empty() ? std::string("-") : applied.last) + "\n";
    for (const auto& [path, digest] : applied.hashes) text += to_hex(digest) + " " + to_hex(path) + "\n";
    return write_state_file(state.root(), "applied", text);
}

// The destination's directory, created (0700) when `create`.
Result<UniqueFd> parent_of(StateDir& state, const std::string& path, bool create) {
    const auto [parent, name] = split_parent(path);
    (void)name;
    return open_directory_beneath(state.home(), parent, create, 0700);
}

Status rename_into_place(int directory, const std::string& temporary, const std::string& name) {
    if (::renameat(directory, temporary.c_str(), directory, name.c_str()) != 0)
        return Error::from_errno("renaming a file into place");
    return success();
}

// After the commit point: the last-applied hashes, the undo record, the
// pending transaction and the journal.
Status finish(StateDir& state, const Journal& journal) {
    auto applied = load_applied(state);
    if (!applied) return std::move(applied).error();
    for (const JournalEntry& e : journal.entries) {
        if (e.remove) {
            applied->hashes.erase(e.path);
            continue;
        }
        auto live = read_live(state, e.path, max_backup_bytes);
        if (live && live->exists && live->replaceable)
            applied->hashes[e.path] = live->hash;
        else
            applied->hashes.erase(e.path);
    }
    auto tx = state.sub("tx");
    if (!tx) return std::move(tx).error();
    if (journal.kind == TransactionKind::apply) {
        // Only the last transaction can be undone: older records go.
        if (!applied->last.empty() && applied->last != journal.id) (void)remove_entry(tx->get(), applied->last);
        applied->last = journal.id;
    } else {
        applied->last.clear();
    }
    if (auto s = save_applied(state, *applied); !s) return s;
    if (journal.kind == TransactionKind::undo) (void)remove_entry(tx->get(), journal.id);
    if (journal.kind == TransactionKind::apply) {
        auto pending = state.sub("pending");
        if (pending) (void)remove_entry(pending->get(), journal.id);
    }
    if (::unlinkat(state.root(), "journal", 0) != 0 && errno != ENOENT) return Error::from_errno("removing the journal");
    return sync_fd(state.root(), "the state directory");
}

Status commit(StateDir& state, const Journal& journal) {
    for (const JournalEntry& e : journal.entries) {
        auto directory = parent_of(state, e.path, false);
        if (!directory) return std::move(directory).error().context("committing");
        const std::string name = split_parent(e.path).second;
        const std::string temporary = temp_name(journal, e.index);
        if (e.remove) {
            auto live = inspect(directory->get(), name);
            if (!live) return std::move(live).error();
            if (live->exists && live->regular && ::unlinkat(directory->get(), name.c_str(), 0) != 0 && errno != ENOENT)
                return Error::from_errno("removing a file");
        } else {
            auto temp = inspect(directory->get(), temporary);
            if (!temp) return std::move(temp).error();
            // Already renamed (a roll-forward after a crash mid-commit).
            if (temp->exists) {
                if (!temp->regular) return Error("a temporary is not a regular file", EINVAL);
                if (auto s = rename_into_place(directory->get(), temporary, name); !s) return s;
            }
        }
        if (auto s = sync_fd(directory->get(), "a destination directory"); !s) return s;
    }
    return finish(state, journal);
}

Status roll_back(StateDir& state, const Journal& journal) {
    for (const JournalEntry& e : journal.entries) {
        auto directory = parent_of(state, e.path, false);
        if (!directory) continue;  // never created: nothing of ours inside
        const std::string temporary = temp_name(journal, e.index);
        auto temp = inspect(directory->get(), temporary);
        if (temp && temp->exists && temp->regular) {
            if (::unlinkat(directory->get(), temporary.c_str(), 0) != 0 && errno != ENOENT)
                return Error::from_errno("removing a temporary");
            (void)sync_fd(directory->get(), "a destination directory");
        }
    }
    if (journal.kind == TransactionKind::apply) {
        auto tx = state.sub("tx");
        if (tx) (void)remove_entry(tx->get(), journal.id);
    }
    if (::unlinkat(state.root(), "journal", 0) != 0 && errno != ENOENT) return Error::from_errno("removing the journal");
    return sync_fd(state.root(), "the state directory");
}

}  // namespace

Result<AppliedState> load_applied(StateDir& state) {
    AppliedState applied;
    auto live = inspect(state.root(), "applied");
    if (!live) return std::move(live).error();
    if (!live->exists) return applied;
    auto text = read_regular(state.root(), "applied", 64u << 20);
    if (!text) return std::move(text).error().context("reading the applied state");
    std::istringstream in(*text);
    std::string first, second;
    if (!(in >> first >> second) || first != "last" || (second != "-" && !valid_id(second)))
        return Error("applied state: bad header", EINVAL);
    applied.last = second == "-" ? "" : second;
    while (in >> first >> second) {
        auto digest = digest_of_hex(first);
        auto path = from_hex(second);
        if (!digest || !path || !check_path(*path).ok()) return Error("applied state: bad line", EINVAL);
        applied.hashes[*path] = *digest;
    }
    return applied;
}

Result<LiveFile> read_live(StateDir& state, const std::string& path, std::uint64_t max_bytes) {
    LiveFile file;
    auto directory = parent_of(state, path, false);
    if (!directory) {
        if (directory.error().code() == ENOENT) {
            file.replaceable = true;
            return file;
        }
        return std::move(directory).error();
    }
    const std::string name = split_parent(path).second;
    auto live = inspect(directory->get(), name);
    if (!live) return std::move(live).error();
    file.exists = live->exists;
    file.kind = live->kind;
    file.mode = live->mode;
    if (!live->exists) {
        file.replaceable = true;
        return file;
    }
    if (!live->regular) return file;
    auto content = read_regular(directory->get(), name, max_bytes);
    if (!content) return std::move(content).error();
    file.replaceable = true;
    file.content = std::move(*content);
    file.hash = sha256(file.content);
    return file;
}

Status run_transaction(StateDir& state, const Transaction& transaction) {
    // 1. Check every destination before anything is written.
    for (const Change& change : transaction.changes) {
        if (auto s = check_path(change.path); !s) return s;
        auto live = read_live(state, change.path, max_backup_bytes);
        if (!live) return std::move(live).error().context("checking a destination");
        if (!live->replaceable)
            return Error("a destination is a " + live->kind + ", not a regular file; nothing was applied", EEXIST);
        if (live->exists != change.expected_exists || (live->exists && !equal_digests(live->hash, change.expected)))
            return Error("a destination changed since the review (conflict); nothing was applied", EAGAIN);
    }
    Journal journal;
    journal.kind = transaction.kind;
    journal.id = transaction.id;
    journal.temp_id = random_id();
    journal.phase = "prepared";
    for (std::size_t i = 0; i < transaction.changes.size(); ++i)
        journal.entries.push_back(
            {transaction.changes[i].remove, i, transaction.changes[i].mode, transaction.changes[i].path});
    if (auto s = write_journal(state, journal); !s) return s;

    // 2. Backups (apply only: undo restores from them) and temporaries.
    auto tx = state.sub("tx");
    if (!tx) return std::move(tx).error();
    UniqueFd record_dir;
    std::string record;
    if (transaction.kind == TransactionKind::apply) {
        (void)remove_entry(tx->get(), transaction.id);
        if (::mkdirat(tx->get(), transaction.id.c_str(), 0700) != 0)
            return Error::from_errno("creating a transaction record");
        auto dir = open_directory_beneath(tx->get(), transaction.id, false);
        if (!dir) return std::move(dir).error();
        record_dir = std::move(*dir);
    }
    for (std::size_t i = 0; i < transaction.changes.size(); ++i) {
        const Change& change = transaction.changes[i];
        if (transaction.kind == TransactionKind::apply) {
            auto live = read_live(state, change.path, max_backup_bytes);
            if (!live) return std::move(live).error();
            if (live->exists) {
                if (auto s = write_new_file(record_dir.get(), "backup-" + std::to_string(i), live->content, 0600);
                    !s)
                    return s;
            }
            record += std::to_string(i) + " " + (live->exists ? "1 " : "0 ") +
                      std::to_string(live->exists ? live->mode : 0) + " " + to_hex(sha256(change.content)) + " " +
                      to_hex(change.path) + "\n";
        }
        if (change.remove) continue;
        auto directory = parent_of(state, change.path, true);
        if (!directory) return std::move(directory).error().context("preparing a destination directory");
        if (auto s = write_new_file(directory->get(), temp_name(journal, i), change.content, change.mode); !s)
            return s;
    }
    if (transaction.kind == TransactionKind::apply) {
        if (auto s = write_new_file(record_dir.get(), "record", record, 0600); !s) return s;
        if (auto s = sync_fd(record_dir.get(), "the transaction record"); !s) return s;
    }

    // 3. The commit point, then the renames.
    journal.phase = "committing";
    if (auto s = write_journal(state, journal); !s) return s;
    return commit(state, journal);
}

Result<bool> recover(StateDir& state) {
    auto live = inspect(state.root(), "journal");
    if (!live) return std::move(live).error();
    if (!live->exists) return false;
    auto text = read_regular(state.root(), "journal", 16u << 20);
    if (!text) return std::move(text).error().context("reading the journal");
    auto journal = parse_journal(*text);
    if (!journal) return std::move(journal).error();
    Status status = journal->phase == "committing" ? commit(state, *journal) : roll_back(state, *journal);
    if (!status) return std::move(status).error().context("recovering an interrupted transaction");
    return true;
}

Result<Transaction> plan_undo(StateDir& state, bool force) {
    auto applied = load_applied(state);
    if (!applied) return std::move(applied).error();
    if (applied->last.empty()) return Error("no applied transaction to undo", ENOENT);
    auto tx = state.sub("tx");
    if (!tx) return std::move(tx).error();
    auto dir = open_directory_beneath(tx->get(), applied->last, false);
    if (!dir) return std::move(dir).error().context("opening the last transaction's record");
    auto record = read_regular(dir->get(), "record", 16u << 20);
    if (!record) return std::move(record).error();
    Transaction undo;
    undo.kind = TransactionKind::undo;
    undo.id = applied->last;
    std::istringstream in(*record);
    std::size_t index = 0;
    int existed = 0;
    unsigned mode = 0;
    std::string new_hash, hexpath;
    while (in >> index >> existed >> mode >> new_hash >> hexpath) {
        auto path = from_hex(hexpath);
        auto applied_hash = digest_of_hex(new_hash);
        if (!path || !applied_hash || !check_path(*path).ok()) return Error("transaction record: bad line", EINVAL);
        Change change;
        change.path = *path;
        auto live = read_live(state, change.path, max_backup_bytes);
        if (!live) return std::move(live).error();
        if (!live->replaceable) return Error("a destination is a " + live->kind + "; cannot undo", EEXIST);
        if (!force && (!live->exists || !equal_digests(live->hash, *applied_hash)))
            return Error("a file changed since it was applied (conflict); use --force to undo anyway", EAGAIN);
        change.expected_exists = live->exists;
        change.expected = live->hash;
        if (existed) {
            auto backup = read_regular(dir->get(), "backup-" + std::to_string(index), max_backup_bytes);
            if (!backup) return std::move(backup).error().context("reading a backup");
            change.content = std::move(*backup);
            change.mode = static_cast<mode_t>(mode & 0777);
        } else {
            change.remove = true;
        }
        undo.changes.push_back(std::move(change));
    }
    return undo;
}

}  // namespace reliant::syncconfig
