#include "common/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "common/hex.h"

namespace reliant {

namespace {

Status check_owner(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Error::from_errno("fstat of a directory");
    if (!S_ISDIR(st.st_mode)) return Error("not a directory", ENOTDIR);
    if (st.st_uid != ::geteuid()) return Error("a directory on the way belongs to another user", EPERM);
    return success();
}

// glibc 2.36 has no openat2 wrapper.
int sys_openat2(int directory, const char* path, int flags, std::uint64_t resolve) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.resolve = resolve;
    return static_cast<int>(::syscall(SYS_openat2, directory, path, &how, sizeof how));
}

Result<UniqueFd> walk(int root, std::string_view relative, bool create, mode_t mode) {
    UniqueFd current(::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!current) return Error::from_errno("opening the destination root");
    std::size_t at = 0;
    int depth = 0;
    while (at < relative.size()) {
        const std::size_t slash = std::min(relative.find('/', at), relative.size());
        const std::string component(relative.substr(at, slash - at));
        at = slash + 1;
        ++depth;
        if (component.empty() || component == "." || component == "..")
            return Error("a path component that is not a name", EINVAL);
        int fd = ::openat(current.get(), component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
            if (::mkdirat(current.get(), component.c_str(), mode) != 0 && errno != EEXIST)
                return Error::from_errno("creating directory level " + std::to_string(depth));
            fd = ::openat(current.get(), component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (fd < 0) {
            const int saved = errno;
            if (saved == ELOOP || saved == ENOTDIR)
                return Error("directory level " + std::to_string(depth) + " is a symlink or not a directory",
                             saved);
            return Error::from_errno("opening directory level " + std::to_string(depth), saved);
        }
        current.reset(fd);
        if (auto status = check_owner(current.get()); !status) return std::move(status).error();
    }
    return current;
}

}  // namespace

Result<UniqueFd> open_directory_beneath(int root, std::string_view relative, bool create, mode_t mode) {
    if (relative.empty()) {
        UniqueFd fd(::openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return Error::from_errno("opening the destination root");
        return fd;
    }
    // Fast path: the kernel resolves the whole path and refuses any symlink
    // and any escape. The walk below checks ownership too, so it runs when
    // openat2 succeeds as well (cheap: a handful of components).
    const std::string path(relative);
    const int fd = sys_openat2(root, path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
        ::close(fd);
    } else if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR) {
        return Error("the path goes through a symlink or leaves the destination", errno);
    } else if (errno != ENOENT && errno != ENOSYS && errno != EPERM) {
        return Error::from_errno("resolving a directory beneath the destination");
    }
    return walk(root, relative, create, mode);
}

Status replace_file_beneath(int directory, const std::string& name, std::string_view bytes, mode_t mode) {
    const std::string temporary = name + ".tmp";
    if (::unlinkat(directory, temporary.c_str(), 0) != 0 && errno != ENOENT)
        return Error::from_errno("removing a stale " + temporary);
    if (auto s = write_new_file(directory, temporary, bytes, mode); !s) return s;
    if (::renameat(directory, temporary.c_str(), directory, name.c_str()) != 0) {
        const int saved = errno;
        ::unlinkat(directory, temporary.c_str(), 0);
        return Error::from_errno("renaming " + temporary + " over " + name, saved);
    }
    return sync_fd(directory, ("the directory of " + name).c_str());
}

Result<UniqueFd> open_root(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::from_errno("opening " + path);
    return fd;
}

Result<Live> inspect(int directory, const std::string& name) {
    struct stat st {};
    Live live;
    if (::fstatat(directory, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return live;
        return Error::from_errno("inspecting a destination file");
    }
    live.exists = true;
    live.mode = st.st_mode & 07777;
    live.size = static_cast<std::uint64_t>(st.st_size);
    if (S_ISREG(st.st_mode) && st.st_nlink == 1) {
        live.regular = true;
        live.kind = "file";
    } else if (S_ISREG(st.st_mode)) {
        live.kind = "hard-linked file";
    } else if (S_ISLNK(st.st_mode)) {
        live.kind = "symlink";
    } else if (S_ISDIR(st.st_mode)) {
        live.kind = "directory";
    } else if (S_ISFIFO(st.st_mode)) {
        live.kind = "FIFO";
    } else if (S_ISSOCK(st.st_mode)) {
        live.kind = "socket";
    } else {
        live.kind = "device node";
    }
    return live;
}

Result<std::string> read_regular(int directory, const std::string& name, std::uint64_t max_bytes) {
    UniqueFd fd(::openat(directory, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd) return Error::from_errno("opening a file to read");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::from_errno("fstat");
    if (!S_ISREG(st.st_mode)) return Error("not a regular file", EINVAL);
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return Error("file larger than allowed", EFBIG);
    std::string out;
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("reading a file");
        if (n == 0) break;
        out.append(buffer.data(), static_cast<std::size_t>(n));
        if (out.size() > max_bytes) return Error("file larger than allowed", EFBIG);
    }
    return out;
}

Status write_new_file(int directory, const std::string& name, std::string_view bytes, mode_t mode) {
    UniqueFd fd(::openat(directory, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("creating a file");
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("writing a file");
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd.get(), mode) != 0) return Error::from_errno("fchmod");
    return sync_fd(fd.get(), "a new file");
}

Status sync_fd(int fd, const char* what) {
    if (::fsync(fd) != 0) return Error::from_errno(std::string("fsync of ") + what);
    return success();
}

std::string random_id() {
    std::array<std::uint8_t, 16> bytes{};
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::getrandom(bytes.data() + done, bytes.size() - done, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) std::abort();  // getrandom cannot fail once the pool is ready
        done += static_cast<std::size_t>(n);
    }
    return reliant::to_hex(bytes.data(), bytes.size());
}

std::pair<std::string, std::string> split_parent(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) return {"", std::string(path)};
    return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

}  // namespace reliant
