// What dom0 keeps for a qube outside qubes.xml, kept on the qube's own
// Shufflecake volume (docs/shards.md, "Files dom0 keeps for a qube").
//
// qubesd keeps a qube's firewall and notes in the qube's directory,
// /var/lib/qubes/appvms/NAME (vm-templates/NAME for a template) whatever
// pool its volumes use. In a reliant boot that directory is RAM, and a
// missing firewall.xml means "accept all" to qubesd: a hidden qube would come
// back from every reboot with no firewall. So its files live in its volume:
//
//   <volume>/qube-files/manifest               which file of which qube is stored
//   <volume>/qube-files/<uuid>/<file>.<gen>    one stored version of a file
//
// keyed by uuid (a rename does not orphan them). A save writes new versions
// under a new generation, then the manifest (atomically: the commit point),
// then removes the versions no longer named; a crash at any step leaves the
// old manifest with its old versions, or the new one with its new versions.
//
// Everything on a volume is hostile: the manifest is bounded and strict,
// every path is resolved beneath the volume without following a link, only
// regular files of the recorded size are read, and a volume's store is asked
// only for the uuids of the qubes its own shard merged.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace reliant::qube_files {

// A file qubesd writes into a qube's directory, and the most a volume may
// store of it (qubesd writes a few KB; the bound keeps a hostile volume from
// filling RAM).
struct KeptFile {
    std::string_view name;
    std::size_t max_bytes;
    bool guards_network;  // its loss must never open the qube's network
};

// qubes/firewall.py (Firewall.save, "firewall.xml"); qubes/vm/qubesvm.py
// (notes_file, "notes.txt"), read in qubes-core-admin release4.3.
inline constexpr std::array<KeptFile, 2> kept_files = {{
    {"firewall.xml", 1u << 20, true},
    {"notes.txt", 256u << 10, false},
}};

const KeptFile* kept_file(std::string_view name);

bool is_uuid(std::string_view text);  // canonical: 8-4-4-4-12 lower-case hex
// A name qubesd accepts for a qube (qubes/vm/__init__.py validate_name):
// a letter, then letters, digits, '_', '.', '-'; at most 31 characters.
// Anything else is never used as a directory name.
bool is_qube_name(std::string_view text);

inline constexpr std::string_view store_directory = "qube-files";

// A qube as the store sees it. Its directory in a root is
// var/lib/qubes/appvms/NAME, or var/lib/qubes/vm-templates/NAME for a
// TemplateVM (qubesd's dir_path_prefix).
struct Qube {
    std::string uuid;  // canonical, lower case
    std::string name;
    bool is_template = false;

    std::string directory_in_root() const;
};

// ---- the manifest ----

struct ManifestEntry {
    std::string uuid;
    std::string file;  // a kept file's name
    std::uint64_t generation = 0;
    std::uint64_t size = 0;

    std::string stored_name() const;  // "<file>.<generation>", inside <uuid>/
    auto operator<=>(const ManifestEntry&) const = default;
};

struct Manifest {
    std::vector<ManifestEntry> entries;  // sorted by uuid, then file; one per pair

    static constexpr std::size_t max_bytes = 1u << 20;
    static constexpr std::size_t max_entries = 16384;

    const ManifestEntry* find(std::string_view uuid, std::string_view file) const;
    std::string to_text() const;
    // Strict: the header line, then "<uuid> <file> <generation> <size>"
    // lines, canonical uuids, known files, sizes within the file's bound,
    // sorted and unique. Anything else is refused whole, with the line.
    static Result<Manifest> parse(std::string_view text);
};

// ---- boot: from the volume into the root ----

struct StoredFile {
    std::string uuid;
    std::string file;
    std::string bytes;
};

// A recorded file that cannot be given back (missing, another kind of file,
// another size, beyond its bound), or a manifest that cannot be read.
struct LoadProblem {
    std::string uuid;  // empty: the whole manifest
    std::string file;
    std::string reason;
};

struct Loaded {
    bool has_store = false;  // false: a volume from before this store (nothing recorded)
    std::vector<StoredFile> files;
    std::vector<LoadProblem> problems;
    std::size_t ignored = 0;  // entries for uuids not asked for (not this shard's qubes)
};

// Reads the stored files of `uuids` from the volume mounted at `volume`.
Loaded load(const std::filesystem::path& volume, const std::set<std::string>& uuids);

// Makes the qube's directory under `root` (0775, as qubesd's
// create_on_disk), never through a link. Every merged qube needs it: in a
// RAM root it exists only if something made it, and qvm-firewall or
// qvm-notes on a qube without it fail (ENOENT).
Status make_directory(const std::filesystem::path& root, const Qube& qube);

// Writes one stored file into the qube's directory under `root` (made as
// above; the file 0664), atomically, never through a link.
Status place(const std::filesystem::path& root, const Qube& qube, const StoredFile& file);

// ---- split: from the root into the volume ----

struct Saved {
    std::size_t written = 0;    // new versions stored
    std::size_t unchanged = 0;  // already stored as they are
    std::size_t kept = 0;       // recorded, absent from the root: the stored version stays
    std::size_t dropped = 0;    // of qubes no longer on this volume
    std::vector<std::string> problems;  // a root file not read (kept as stored); no names
};

// Stores the kept files of `qubes` (the qubes of the volume's new shard) from
// their directories under `root` into the volume. A file a qube's directory
// lacks keeps its stored version: qubesd never deletes firewall.xml or
// notes.txt of a living qube, and a firewall that could not be restored at
// boot must not become "none" by the next save. Entries of other uuids are
// dropped with their versions. The manifest is written only when it changes.
Result<Saved> save(const std::filesystem::path& volume, const std::filesystem::path& root,
                   const std::vector<Qube>& qubes);

}  // namespace reliant::qube_files
