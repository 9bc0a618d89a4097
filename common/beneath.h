// File-system helpers that never follow a link: everything is resolved
// beneath a directory descriptor, component by component. For trees whose
// content is hostile: a SyncConfig destination, a Shufflecake volume.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace reliant {

// Opens the directory `relative` (names joined by '/', none empty, "." or
// "..", or "" for `root` itself) beneath `root`, never through a symlink: openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS where the
// kernel has it (5.6+), else an openat walk with O_NOFOLLOW per component.
// With `create`, missing components are made (mkdirat, `mode`) one at a time
// and reopened with O_NOFOLLOW. Every directory on the way must belong to
// `owner` (the effective uid): a directory of another user is refused.
Result<UniqueFd> open_directory_beneath(int root, std::string_view relative, bool create, mode_t mode = 0700);

// Opens an absolute directory path as the root of a tree (O_NOFOLLOW on its
// last component; the caller chose the path, not the tree's writer).
Result<UniqueFd> open_root(const std::string& path);

// What lies at `name` in `directory`, without following a link.
struct Live {
    bool exists = false;
    bool regular = false;  // a regular file with one link, the only kind we replace
    std::string kind;      // "symlink", "directory", "FIFO", "hard-linked file", ... for messages
    mode_t mode = 0;
    std::uint64_t size = 0;
};
Result<Live> inspect(int directory, const std::string& name);

// Reads a regular file opened O_NOFOLLOW|O_NONBLOCK (a FIFO cannot block us;
// it is refused by fstat before any read), at most `max_bytes`.
Result<std::string> read_regular(int directory, const std::string& name, std::uint64_t max_bytes);

// Writes `bytes` to a new file `name` (O_CREAT|O_EXCL|O_NOFOLLOW), exact
// `mode`, fsync'd.
Status write_new_file(int directory, const std::string& name, std::string_view bytes, mode_t mode);

// Replaces `name` in `directory` so that a crash leaves the old or the new
// content: a fresh "<name>.tmp" (a stale one removed first), fsync, renameat
// over `name` (a link there is replaced, never followed), fsync of the
// directory.
Status replace_file_beneath(int directory, const std::string& name, std::string_view bytes, mode_t mode);

Status sync_fd(int fd, const char* what);
std::string random_id();  // 32 hex digits from getrandom

// Splits "a/b/c" into "a/b" and "c" ("" and "c" for "c").
std::pair<std::string, std::string> split_parent(std::string_view path);

}  // namespace reliant
