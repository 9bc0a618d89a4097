// Reading files with a size bound, and writing them atomically and durably.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"

namespace reliant {

// Reads a whole file, failing with EFBIG when it is larger than `max_bytes`
// (checked while reading, so a growing or special file cannot exhaust memory).
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes);

// The same for untrusted places (a volume's shard): only a regular file is
// read; a symlink is not followed (ELOOP), a FIFO, socket or device is not
// opened for long or read (EEXIST), a directory neither (EISDIR). Checked on
// the descriptor, so nothing swapped in after a look at the path is read.
Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes);

// Replaces `path` with `bytes` so that a crash at any point leaves either the
// old or the new content: a temporary file in the same directory, fsync,
// rename over `path`, fsync of the directory. The temporary is removed on
// failure. `mode` is applied exactly (not filtered by the umask). Only a
// regular file or a new name is replaced: a directory, symlink, FIFO,
// socket or device node at `path` is an error (EISDIR for a directory,
// EEXIST otherwise) and stays as it is.
Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes, mode_t mode = 0644);

// Whether write_file_atomically(path) may replace what is at `path` (nothing
// or a regular file), with the same error. Commands with several outputs
// check them all first, so that a bad later one leaves no earlier one written.
Status check_replaceable(const std::filesystem::path& path);

// Removes the temporaries write_file_atomically(path) left behind when a
// process was killed mid-write (".<name>.tmp-<16 hex digits>" beside it).
// Best effort: returns how many were removed.
int remove_stale_temporaries(const std::filesystem::path& path);

// Opens the regular file `path` (relative to `directory`; AT_FDCWD for a
// plain path) with `access` (O_RDONLY, O_WRONLY or O_RDWR), creating it empty
// with mode 0600 when nothing is there: lock files and markers. A symlink, a
// FIFO, a socket, a device node or a directory at `path` is refused
// (ELOOP for a link, EISDIR for a directory, EEXIST otherwise) without
// following it, blocking on it or waiting for a device: O_NOFOLLOW and
// O_NONBLOCK, then the type checked on the descriptor.
Result<UniqueFd> open_regular_file(int directory, const std::filesystem::path& path, int access);

// fsync of a directory, making a rename or unlink inside it durable.
Status sync_directory(const std::filesystem::path& directory);

}  // namespace reliant
