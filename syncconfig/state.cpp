#include "syncconfig/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "common/beneath.h"
#include "common/file_io.h"

namespace reliant::syncconfig {

Result<StateDir> StateDir::open(const std::string& home) {
    StateDir state;
    auto home_fd = open_root(home);
    if (!home_fd) return std::move(home_fd).error();
    state.home_ = std::move(*home_fd);
    auto root = open_directory_beneath(state.home_.get(), state_relative, true, 0700);
    if (!root) return std::move(root).error().context("opening the SyncConfig state directory");
    state.root_ = std::move(*root);
    return state;
}

Result<UniqueFd> StateDir::sub(const char* name) {
    auto fd = open_directory_beneath(root_.get(), name, true, 0700);
    if (!fd) return std::move(fd).error().context(std::string("opening state/") + name);
    return fd;
}

Status StateDir::lock() {
    auto fd = open_regular_file(root_.get(), "lock", O_RDWR);
    if (!fd) return std::move(fd).error().context("opening the state lock");
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) return Error::from_errno("locking the SyncConfig state");
    lock_ = std::move(*fd);
    return success();
}

bool valid_id(std::string_view id) {
    return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

bool valid_qube_name(std::string_view name) {
    if (name.empty() || name.size() > 31) return false;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

Result<std::vector<std::string>> StateDir::pending_ids() {
    auto pending = sub("pending");
    if (!pending) return std::move(pending).error();
    const int copy = ::dup(pending->get());
    if (copy < 0) return Error::from_errno("dup");
    DIR* dir = ::fdopendir(copy);
    if (!dir) {
        ::close(copy);
        return Error::from_errno("listing pending transactions");
    }
    std::vector<std::string> ids;
    while (dirent* entry = ::readdir(dir))
        if (valid_id(entry->d_name)) ids.emplace_back(entry->d_name);
    ::closedir(dir);
    std::sort(ids.begin(), ids.end());
    return ids;
}

Status remove_entry(int directory, const std::string& name) {
    UniqueFd fd(::openat(directory, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return success();
        if (errno == ENOTDIR || errno == ELOOP) {
            if (::unlinkat(directory, name.c_str(), 0) != 0 && errno != ENOENT)
                return Error::from_errno("removing a state file");
            return success();
        }
        return Error::from_errno("opening a state directory to remove");
    }
    DIR* dir = ::fdopendir(fd.release());
    if (!dir) return Error::from_errno("listing a state directory");
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        const std::string child = entry->d_name;
        if (child != "." && child != "..") names.push_back(child);
    }
    const int dfd = ::dirfd(dir);
    for (const std::string& child : names)
        if (::unlinkat(dfd, child.c_str(), 0) != 0 && errno != ENOENT) {
            ::closedir(dir);
            return Error::from_errno("removing a state file");
        }
    ::fsync(dfd);
    ::closedir(dir);
    if (::unlinkat(directory, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        return Error::from_errno("removing a state directory");
    return success();
}

Result<std::string> home_from_passwd(std::string_view passwd_text, unsigned uid) {
    std::size_t at = 0;
    while (at < passwd_text.size()) {
        const std::size_t end = std::min(passwd_text.find('\n', at), passwd_text.size());
        const std::string_view line = passwd_text.substr(at, end - at);
        at = end + 1;
        // name:password:uid:gid:gecos:home:shell
        std::vector<std::string_view> fields;
        std::size_t start = 0;
        for (;;) {
            const std::size_t colon = line.find(':', start);
            fields.push_back(line.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
            if (colon == std::string_view::npos) break;
            start = colon + 1;
        }
        if (fields.size() != 7 || fields[2] != std::to_string(uid)) continue;
        const std::string_view home = fields[5];
        if (home.empty() || home.front() != '/') return Error("the home directory in /etc/passwd is not absolute", EINVAL);
        return std::string(home);
    }
    return Error("uid " + std::to_string(uid) + " not found in /etc/passwd", ENOENT);
}

Result<Pending> load_pending(StateDir& state, const std::string& id) {
    if (!valid_id(id)) return Error("not a transaction id", EINVAL);
    auto pending_root = state.sub("pending");
    if (!pending_root) return std::move(pending_root).error();
    Pending pending;
    pending.id = id;
    auto dir = open_directory_beneath(pending_root->get(), id, false);
    if (!dir) return std::move(dir).error().context("opening pending transaction " + id);
    pending.directory = std::move(*dir);
    auto manifest = read_regular(pending.directory.get(), "manifest", 8u << 20);
    if (!manifest) return std::move(manifest).error().context("reading a staged manifest");
    // Staged bytes are re-decoded with the compiled-in ceilings; the profile
    // check is the caller's (it knows what dom0 enables now).
    Limits limits;
    limits.max_entries = hard_max_entries;
    limits.max_file_bytes = hard_max_file_bytes;
    limits.max_total_bytes = hard_max_total_bytes;
    const Outcome outcome = decode_manifest(*manifest, limits, pending.manifest);
    if (!outcome.ok()) return Error("staged manifest refused: " + std::string(describe(outcome.refusal)), EINVAL);
    auto meta = read_regular(pending.directory.get(), "meta", 4096);
    if (!meta) return std::move(meta).error().context("reading staged metadata");
    std::string source = *meta;
    if (source.starts_with("source ")) source = source.substr(7);
    if (!source.empty() && source.back() == '\n') source.pop_back();
    pending.source = valid_qube_name(source) ? source : "unknown";
    return pending;
}

Result<std::string> read_blob(const Pending& pending, std::size_t index) {
    const Entry& entry = pending.manifest.entries.at(index);
    auto bytes = read_regular(pending.directory.get(), "blob-" + std::to_string(index), entry.size);
    if (!bytes) return std::move(bytes).error().context("reading staged content");
    if (bytes->size() != entry.size || !equal_digests(sha256(*bytes), entry.sha256))
        return Error("staged content does not match its hash", EINVAL);
    return bytes;
}

}  // namespace reliant::syncconfig
