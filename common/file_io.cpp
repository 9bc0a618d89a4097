#include "common/file_io.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <algorithm>
#include <unistd.h>

#include "common/hex.h"
#include "common/unique_fd.h"

namespace reliant {
namespace {

Status write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("cannot write the temporary file");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return success();
}

// A name no other writer uses: ".<name>.tmp-<16 random hex digits>".
Result<std::string> temporary_name(const std::string& base) {
    unsigned char random[8];
    if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random))
        return Error::from_errno("cannot get random bytes (getrandom) for a temporary file's name");
    return "." + base + ".tmp-" + to_hex(random, sizeof random);
}

// What may stand at a name write_file_atomically replaces: nothing, or a
// regular file. rename(2) replaces whatever is there, so without this
// `merge --out /dev/null` run as root swapped the device node for a file,
// and a directory, FIFO, socket or symlink an output name was pointed at
// would be replaced the same way. Checked before the temporary is made and
// again just before the rename; what is left between the second check and
// the rename needs a process that can already create nodes in the
// directory (docs/security.md, "Outputs").
Status replaceable(int directory, const std::string& name, const std::filesystem::path& path) {
    struct stat info {};
    if (::fstatat(directory, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return success();
        return Error::from_errno("cannot inspect " + path.string());
    }
    if (S_ISREG(info.st_mode)) return success();
    const char* kind = S_ISDIR(info.st_mode)    ? "a directory"
                       : S_ISLNK(info.st_mode)  ? "a symbolic link"
                       : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISSOCK(info.st_mode) ? "a socket"
                       : S_ISCHR(info.st_mode)  ? "a character device"
                       : S_ISBLK(info.st_mode)  ? "a block device"
                                                : "not a regular file";
    return Error(path.string() + " is " + kind +
                     ", not a regular file: refusing to replace it (name a regular file or a new one)",
                 S_ISDIR(info.st_mode) ? EISDIR : EEXIST);
}

}  // namespace

namespace {

Result<std::string> read_all(const UniqueFd& fd, const std::filesystem::path& path, std::size_t max_bytes) {
    std::string content;
    char chunk[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n == 0) return content;
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno("cannot read " + path.string());
        }
        if (content.size() + static_cast<std::size_t>(n) > max_bytes)
            return Error(
                path.string() + " is larger than the limit of " + std::to_string(max_bytes) + " bytes",
                EFBIG);
        content.append(chunk, static_cast<std::size_t>(n));
    }
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) return Error::from_errno("cannot open " + path.string());
    return read_all(fd, path, max_bytes);
}

Result<std::string> read_regular_file(const std::filesystem::path& path, std::size_t max_bytes) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return Error::from_errno("cannot open " + path.string() + " (never through a link)");
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) return Error::from_errno("cannot look at " + path.string());
    if (S_ISDIR(status.st_mode)) return Error(path.string() + " is a directory, not a file", EISDIR);
    if (!S_ISREG(status.st_mode))
        return Error(path.string() + " is not a regular file (a FIFO, socket or device): it is never read", EEXIST);
    return read_all(fd, path, max_bytes);
}

int remove_stale_temporaries(const std::filesystem::path& path) {
    const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
    const std::string prefix = "." + path.filename().string() + ".tmp-";
    int removed = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() != prefix.size() + 16 || !name.starts_with(prefix)) continue;
        if (!std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                         [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
            continue;
        if (::unlinkat(AT_FDCWD, entry.path().c_str(), 0) == 0) ++removed;
    }
    return removed;
}

namespace {

// Why the thing at `path` is no regular file open_regular_file may use.
Error not_regular(const std::filesystem::path& path, mode_t mode) {
    if (S_ISLNK(mode)) return Error(path.string() + " is a symbolic link, not a regular file", ELOOP).advise("remove it");
    if (S_ISDIR(mode)) return Error(path.string() + " is a directory, not a regular file", EISDIR).advise("remove it");
    return Error(path.string() + " is not a regular file (a FIFO, socket or device node)", EEXIST)
        .advise("remove it; nothing else should be at this name");
}

}  // namespace

Result<UniqueFd> open_regular_file(int directory, const std::filesystem::path& path, int access) {
    UniqueFd fd(::openat(directory, path.c_str(), access | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    struct stat status {};
    if (!fd) {
        const int error = errno;
        if (::fstatat(directory, path.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(status.st_mode))
            return not_regular(path, status.st_mode);
        errno = error;
        return Error::from_errno("cannot open or create " + path.string());
    }
    if (::fstat(fd.get(), &status) != 0) return Error::from_errno("cannot stat " + path.string());
    if (!S_ISREG(status.st_mode)) return not_regular(path, status.st_mode);
    // Back to blocking reads and writes; the open itself did not wait.
    if (::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK) != 0)
        return Error::from_errno("cannot set the flags of " + path.string());
    return fd;
}

Status sync_directory(const std::filesystem::path& directory) {
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Error::from_errno("cannot open directory " + directory.string());
    if (::fsync(fd.get()) != 0) return Error::from_errno("cannot sync directory " + directory.string());
    return success();
}

Status check_replaceable(const std::filesystem::path& path) {
    const std::string base = path.filename().string();
    if (base.empty() || base == "." || base == "..")
        return Error("not a file path: " + path.string(), EINVAL);
    // A missing directory is write_file_atomically's own error, reported when it runs.
    return replaceable(AT_FDCWD, path.string(), path);
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view bytes, mode_t mode) {
    const std::filesystem::path directory = path.has_parent_path() ? path.parent_path() : ".";
    const std::string base = path.filename().string();
    if (base.empty() || base == "." || base == "..")
        return Error("not a file path: " + path.string(), EINVAL);

    UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        Error error = Error::from_errno("cannot write " + path.string() + ": cannot open its directory " +
                                        directory.string());
        if (error.code() == ENOENT || error.code() == ENOTDIR) error.advise("create the directory first");
        return error;
    }

    if (auto status = replaceable(dir.get(), base, path); !status) return status;

    auto temp = temporary_name(base);
    if (!temp) return std::move(temp).error();
    UniqueFd file(
        ::openat(dir.get(), temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!file)
        return Error::from_errno("cannot write " + path.string() + ": cannot create a temporary file in " +
                                 directory.string());

    // Every step names the file it was writing, then the step that failed.
    auto fail = [&](Error error) -> Status {
        ::unlinkat(dir.get(), temp->c_str(), 0);
        return std::move(error).context("cannot write " + path.string() + " (nothing changed)");
    };
    if (auto written = write_all(file.get(), bytes); !written) return fail(std::move(written).error());
    if (::fchmod(file.get(), mode) != 0) return fail(Error::from_errno("cannot set the temporary file's mode (fchmod)"));
    if (::fsync(file.get()) != 0) return fail(Error::from_errno("cannot flush the temporary file to disk (fsync)"));
    if (::close(file.release()) != 0) return fail(Error::from_errno("cannot close the temporary file"));
    if (auto status = replaceable(dir.get(), base, path); !status) return fail(std::move(status).error());
    if (::renameat(dir.get(), temp->c_str(), dir.get(), base.c_str()) != 0)
        return fail(Error::from_errno("cannot rename the temporary file " + *temp + " over it"));
    if (::fsync(dir.get()) != 0)
        return Error::from_errno(path.string() + " is written, but its directory " + directory.string() +
                                 " could not be flushed to disk (fsync): a power cut now could undo it");
    return success();
}

}  // namespace reliant
