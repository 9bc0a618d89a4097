// Loading a volume's stored qube files at boot, placing them in the root,
// and saving them back at split (qube-files/qube_files.h).
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "common/beneath.h"
#include "qube-files/qube_files.h"

namespace reliant::qube_files {
namespace {

constexpr std::string_view manifest_name = "manifest";

bool missing(const Error& error) { return error.code() == ENOENT; }

// The store's directory on the volume; nullopt when the volume has none.
Result<std::optional<UniqueFd>> open_store(int volume, bool create) {
    auto store = open_directory_beneath(volume, store_directory, create, 0700);
    if (store) return std::optional<UniqueFd>(std::move(*store));
    if (!create && missing(store.error())) return std::optional<UniqueFd>();
    return std::move(store).error().context("opening " + std::string(store_directory) + " on the volume");
}

// The manifest; nullopt when none was ever committed (a volume from before
// this store, or a first save killed before its commit).
Result<std::optional<Manifest>> read_manifest(int store) {
    auto text = read_regular(store, std::string(manifest_name), Manifest::max_bytes);
    if (!text) {
        if (missing(text.error())) return std::optional<Manifest>();
        return std::move(text).error().context("reading the qube-files manifest");
    }
    auto manifest = Manifest::parse(*text);
    if (!manifest) return std::move(manifest).error();
    return std::optional<Manifest>(std::move(*manifest));
}

Result<std::string> read_stored(int store, const ManifestEntry& entry) {
    auto directory = open_directory_beneath(store, entry.uuid, false);
    if (!directory) return std::move(directory).error();
    auto bytes = read_regular(directory->get(), entry.stored_name(), entry.size);
    if (!bytes) return std::move(bytes).error();
    if (bytes->size() != entry.size)
        return Error("the stored version has " + std::to_string(bytes->size()) + " bytes, the manifest says " +
                         std::to_string(entry.size),
                     EBADMSG);
    return bytes;
}

}  // namespace

bool is_qube_name(std::string_view text) {
    if (text.empty() || text.size() > 31) return false;
    const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!letter(text[0])) return false;
    return std::all_of(text.begin(), text.end(), [&](char c) {
        return letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    });
}

std::string Qube::directory_in_root() const {
    return std::string("var/lib/qubes/") + (is_template ? "vm-templates/" : "appvms/") + name;
}

Loaded load(const std::filesystem::path& volume, const std::set<std::string>& uuids) {
    Loaded loaded;
    const auto whole = [&](const Error& error) {
        loaded.has_store = true;  // something is there that cannot be read: assume it recorded files
        loaded.problems.push_back({"", "", error.describe()});
        return loaded;
    };
    auto root = open_root(volume.string());
    if (!root) return whole(root.error());
    auto store = open_store(root->get(), false);
    if (!store) return whole(store.error());
    if (!*store) return loaded;
    auto manifest = read_manifest((*store)->get());
    if (!manifest) return whole(manifest.error());
    if (!*manifest) return loaded;
    loaded.has_store = true;
    for (const ManifestEntry& entry : (*manifest)->entries) {
        if (!uuids.contains(entry.uuid)) {
            ++loaded.ignored;
            continue;
        }
        auto bytes = read_stored((*store)->get(), entry);
        if (!bytes)
            loaded.problems.push_back({entry.uuid, entry.file, bytes.error().describe()});
        else
            loaded.files.push_back({entry.uuid, entry.file, std::move(*bytes)});
    }
    return loaded;
}

namespace {

Result<UniqueFd> qube_directory(const std::filesystem::path& root, const Qube& qube) {
    if (!is_qube_name(qube.name)) return Error("not a qube name qubesd accepts; nothing is made for it", EINVAL);
    auto top = open_root(root.string());
    if (!top) return std::move(top).error();
    // qubesd makes a qube's directory with os.makedirs(mode=0o775).
    auto directory = open_directory_beneath(top->get(), qube.directory_in_root(), true, 0775);
    if (!directory) return std::move(directory).error().context("the qube's directory in " + root.string());
    return directory;
}

}  // namespace

Status make_directory(const std::filesystem::path& root, const Qube& qube) {
    auto directory = qube_directory(root, qube);
    if (!directory) return std::move(directory).error();
    return success();
}

Status place(const std::filesystem::path& root, const Qube& qube, const StoredFile& file) {
    const KeptFile* kept = kept_file(file.file);
    if (!kept || file.bytes.size() > kept->max_bytes) return Error("not a file reliant keeps", EINVAL);
    auto directory = qube_directory(root, qube);
    if (!directory) return std::move(directory).error();
    return replace_file_beneath(directory->get(), file.file, file.bytes, 0664);
}

namespace {

// The store's directory, made only when a first version is written: a
// volume with nothing to keep gets no directory.
class LazyStore {
public:
    LazyStore(int volume, std::optional<UniqueFd> existing) : volume_(volume), fd_(std::move(existing)) {}
    int existing() const { return fd_ ? fd_->get() : -1; }
    Result<int> made() {
        if (!fd_) {
            auto store = open_store(volume_, true);
            if (!store) return std::move(store).error();
            fd_ = std::move(**store);
        }
        return fd_->get();
    }

private:
    int volume_;
    std::optional<UniqueFd> fd_;
};

// What a save does for one kept file of one qube: the manifest entry it ends
// with (nullopt: none) and whether it stored a new version.
struct FileSave {
    std::optional<ManifestEntry> entry;
    enum { written, unchanged, kept, absent } outcome = absent;
};

Result<FileSave> save_file(LazyStore& store, int qube_directory, const Qube& qube, const KeptFile& kept,
                           const ManifestEntry* old) {
    FileSave result;
    if (old) result.entry = *old;
    std::string bytes;
    if (qube_directory >= 0) {
        auto read = read_regular(qube_directory, std::string(kept.name), kept.max_bytes);
        if (!read && !missing(read.error()))
            return Error("a qube's " + std::string(kept.name) + " in the root cannot be stored: " +
                         read.error().describe() + "; its stored version stays");
        if (read) bytes = std::move(*read);
        else qube_directory = -1;
    }
    if (qube_directory < 0) {
        result.outcome = old ? FileSave::kept : FileSave::absent;
        return result;
    }
    if (old && old->size == bytes.size()) {
        auto stored = read_stored(store.existing(), *old);
        if (stored && *stored == bytes) {
            result.outcome = FileSave::unchanged;
            return result;
        }
    }
    ManifestEntry entry{qube.uuid, std::string(kept.name), old ? old->generation + 1 : 1, bytes.size()};
    auto store_fd = store.made();
    if (!store_fd) return std::move(store_fd).error();
    auto directory = open_directory_beneath(*store_fd, qube.uuid, true, 0700);
    if (!directory) return std::move(directory).error();
    // A version of this generation can only be a leftover of a save killed
    // before its commit: the manifest names the one before.
    if (::unlinkat(directory->get(), entry.stored_name().c_str(), 0) != 0 && errno != ENOENT)
        return Error::from_errno("removing a leftover stored version");
    if (auto written = write_new_file(directory->get(), entry.stored_name(), bytes, 0600); !written)
        return std::move(written).error();
    if (auto synced = sync_fd(directory->get(), "a qube's store directory"); !synced)
        return std::move(synced).error();
    result.entry = std::move(entry);
    result.outcome = FileSave::written;
    return result;
}

// The names in a directory of the store, at most `limit` (a hostile volume
// may hold millions; what is beyond is left for a later save).
std::vector<std::string> names_in(int directory, std::size_t limit) {
    std::vector<std::string> names;
    const int copy = ::openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (copy < 0) return names;
    DIR* stream = ::fdopendir(copy);
    if (!stream) {
        ::close(copy);
        return names;
    }
    while (const dirent* entry = ::readdir(stream)) {
        const std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        if (names.size() == limit) break;
        names.push_back(name);
    }
    ::closedir(stream);
    return names;
}

// After the commit, and on every save (a save killed after its commit left
// them): the versions the manifest does not name, and the directories of
// uuids it does not have. Best effort: nothing unnamed is ever read.
void collect_garbage(int store, const Manifest& manifest) {
    constexpr std::size_t limit = 4 * Manifest::max_entries;
    for (const std::string& name : names_in(store, limit)) {
        if (!is_uuid(name)) continue;  // the manifest, its temporary
        auto directory = open_directory_beneath(store, name, false);
        if (!directory) continue;
        for (const std::string& version : names_in(directory->get(), limit)) {
            const auto named = std::any_of(manifest.entries.begin(), manifest.entries.end(),
                                           [&](const ManifestEntry& e) { return e.uuid == name && e.stored_name() == version; });
            if (!named) ::unlinkat(directory->get(), version.c_str(), 0);
        }
        ::unlinkat(store, name.c_str(), AT_REMOVEDIR);  // fails while it holds a named version
    }
    ::fsync(store);
}

}  // namespace

Result<Saved> save(const std::filesystem::path& volume, const std::filesystem::path& root,
                   const std::vector<Qube>& qubes) {
    auto volume_fd = open_root(volume.string());
    if (!volume_fd) return std::move(volume_fd).error().context("the volume at " + volume.string());
    // A root that does not exist has no qube directories: everything
    // recorded stays as stored.
    auto root_fd = open_root(root.string());
    if (!root_fd && !missing(root_fd.error())) return std::move(root_fd).error();
    auto existing = open_store(volume_fd->get(), false);
    if (!existing) return std::move(existing).error();
    LazyStore store(volume_fd->get(), std::move(*existing));
    // A manifest that cannot be read is never replaced: the records it holds
    // (which qube had a firewall) would be lost, and a lost record reads as
    // "no firewall" at the next boot.
    Result<std::optional<Manifest>> old = std::optional<Manifest>();
    if (store.existing() >= 0) old = read_manifest(store.existing());
    if (!old) return std::move(old).error().advise("the stored qube files of this volume are left as they are");
    const Manifest previous = old->value_or(Manifest{});

    Saved saved;
    Manifest next;
    for (const Qube& qube : qubes) {
        if (!is_uuid(qube.uuid) || !is_qube_name(qube.name)) {
            saved.problems.push_back("a qube without a canonical uuid or a valid name: its files are not stored");
            continue;
        }
        Result<UniqueFd> directory = Error("no root", ENOENT);
        if (root_fd) directory = open_directory_beneath(root_fd->get(), qube.directory_in_root(), false);
        if (!directory && !missing(directory.error()))
            saved.problems.push_back("a qube's directory in the root cannot be opened (" +
                                     directory.error().describe() + "); its stored files stay");
        const int directory_fd = directory ? directory->get() : -1;
        for (const KeptFile& kept : kept_files) {
            const ManifestEntry* entry = previous.find(qube.uuid, kept.name);
            auto file = save_file(store, directory_fd, qube, kept, entry);
            if (!file) {
                saved.problems.push_back(file.error().describe());
                if (entry) next.entries.push_back(*entry);
                continue;
            }
            if (file->entry) next.entries.push_back(*file->entry);
            if (file->outcome == FileSave::written) ++saved.written;
            if (file->outcome == FileSave::unchanged) ++saved.unchanged;
            if (file->outcome == FileSave::kept) ++saved.kept;
        }
    }
    std::sort(next.entries.begin(), next.entries.end());
    next.entries.erase(std::unique(next.entries.begin(), next.entries.end(),
                                   [](const ManifestEntry& a, const ManifestEntry& b) {
                                       return a.uuid == b.uuid && a.file == b.file;
                                   }),
                       next.entries.end());
    for (const ManifestEntry& entry : previous.entries)
        if (!next.find(entry.uuid, entry.file)) ++saved.dropped;
    // Nothing to record and nothing recorded: no store.
    if (!*old && next.entries.empty()) return saved;
    auto store_fd = store.made();
    if (!store_fd) return std::move(store_fd).error();
    if (!*old || next.entries != previous.entries) {
        if (auto committed = replace_file_beneath(*store_fd, std::string(manifest_name), next.to_text(), 0600);
            !committed)
            return std::move(committed).error().context("committing the qube-files manifest");
    }
    collect_garbage(*store_fd, next);
    return saved;
}

}  // namespace reliant::qube_files
