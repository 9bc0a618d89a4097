#include "overlay/loop_device.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/unique_fd.h"

namespace reliant::overlay {
namespace {

// loop_info64 carries device numbers in the kernel's "huge" encoding.
dev_t decode_kernel_dev(std::uint64_t encoded) {
    const auto major_number = static_cast<unsigned>((encoded >> 8) & 0xfff);
    const auto minor_number = static_cast<unsigned>((encoded & 0xff) | ((encoded >> 12) & 0xfff00));
    return makedev(major_number, minor_number);
}

Result<UniqueFd> open_device(const std::filesystem::path& device, int flags) {
    UniqueFd fd(::open(device.c_str(), flags | O_CLOEXEC | O_NOCTTY));
    if (!fd) return Error::from_errno("cannot open " + device.string());
    return fd;
}

Result<LoopDevice> status_of(int fd, const std::filesystem::path& device) {
    loop_info64 info{};
    if (::ioctl(fd, LOOP_GET_STATUS64, &info) != 0)
        return Error::from_errno("cannot read the loop status of " + device.string());
    struct stat node {};
    if (::fstat(fd, &node) != 0) return Error::from_errno("cannot stat " + device.string());
    return LoopDevice{device, node.st_rdev, decode_kernel_dev(info.lo_device),
                      static_cast<ino_t>(info.lo_inode), info.lo_flags};
}

std::uint32_t loop_flags(const LoopOptions& options) {
    std::uint32_t flags = 0;
    if (options.access == LoopAccess::read_only) flags |= LO_FLAGS_READ_ONLY;
    if (options.direct_io) flags |= LO_FLAGS_DIRECT_IO;
    if (options.partition_scan) flags |= LO_FLAGS_PARTSCAN;
    return flags;
}

// One attempt: a free device from loop-control, configured in one ioctl.
// EBUSY means another process took the same free device first.
Result<LoopDevice> try_attach(int control, int file, const std::filesystem::path& name,
                              const LoopOptions& options) {
    const int number = ::ioctl(control, LOOP_CTL_GET_FREE);
    if (number < 0) return Error::from_errno("no free loop device");
    const std::filesystem::path device = "/dev/loop" + std::to_string(number);
    const int mode = options.access == LoopAccess::read_only ? O_RDONLY : O_RDWR;
    auto fd = open_device(device, mode);
    if (!fd) return std::move(fd).error();
    loop_config config{};
    config.fd = static_cast<std::uint32_t>(file);
    config.info.lo_flags = loop_flags(options);
    if (::ioctl(fd->get(), LOOP_CONFIGURE, &config) != 0)
        return Error::from_errno("cannot attach " + name.string() + " to " + device.string());
    return status_of(fd->get(), device);
}

}  // namespace

bool LoopDevice::read_only() const { return (flags & LO_FLAGS_READ_ONLY) != 0; }

Result<LoopDevice> attach_loop(const std::filesystem::path& file, const LoopOptions& options) {
    const int mode = options.access == LoopAccess::read_only ? O_RDONLY : O_RDWR;
    UniqueFd backing(::open(file.c_str(), mode | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
    if (!backing) return Error::from_errno("cannot open " + file.string());
    struct stat info {};
    if (::fstat(backing.get(), &info) != 0) return Error::from_errno("cannot stat " + file.string());
    if (!S_ISREG(info.st_mode)) return Error(file.string() + " is not a regular file", EINVAL);

    auto control = open_device("/dev/loop-control", O_RDWR);
    if (!control) return std::move(control).error();
    constexpr int attempts = 20;
    for (int attempt = 1;; ++attempt) {
        auto loop = try_attach(control->get(), backing.get(), file, options);
        const int code = loop ? 0 : loop.error().code();
        // EBUSY: raced with another attacher; ENOENT: devtmpfs node not there yet.
        if (loop || (code != EBUSY && code != ENOENT) || attempt == attempts) return loop;
        std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt));
    }
}

Result<LoopDevice> loop_status(const std::filesystem::path& device) {
    auto fd = open_device(device, O_RDONLY | O_NONBLOCK);
    if (!fd) return std::move(fd).error();
    return status_of(fd->get(), device);
}

Result<std::optional<LoopDevice>> find_loop_backed_by(dev_t device, ino_t inode,
                                                      const std::filesystem::path& dev_root) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dev_root, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("loop") || name.find_first_not_of("0123456789", 4) != std::string::npos ||
            name.size() == 4)
            continue;
        auto status = loop_status(entry.path());
        if (!status) continue;  // ENXIO: nothing attached
        if (status->backing_device == device && status->backing_inode == inode)
            return std::optional<LoopDevice>(std::move(status).value());
    }
    if (ec) return Error("cannot list " + dev_root.string(), ec.value());
    return std::optional<LoopDevice>();
}

Status detach_loop(const std::filesystem::path& device) {
    auto fd = open_device(device, O_RDONLY | O_NONBLOCK);
    if (!fd) return std::move(fd).error();
    if (::ioctl(fd->get(), LOOP_CLR_FD) != 0) return Error::from_errno("cannot detach " + device.string());
    return success();
}

Result<bool> block_device_read_only(const std::filesystem::path& device) {
    auto fd = open_device(device, O_RDONLY | O_NONBLOCK);
    if (!fd) return std::move(fd).error();
    int read_only = 0;
    if (::ioctl(fd->get(), BLKROGET, &read_only) != 0)
        return Error::from_errno("cannot read the read-only flag of " + device.string());
    return read_only != 0;
}

Status set_block_device_read_only(const std::filesystem::path& device, bool read_only) {
    auto fd = open_device(device, O_RDONLY | O_NONBLOCK);
    if (!fd) return std::move(fd).error();
    int flag = read_only ? 1 : 0;
    if (::ioctl(fd->get(), BLKROSET, &flag) != 0)
        return Error::from_errno("cannot set the read-only flag of " + device.string());
    return success();
}

Result<std::uint64_t> block_device_size(const std::filesystem::path& device) {
    auto fd = open_device(device, O_RDONLY | O_NONBLOCK);
    if (!fd) return std::move(fd).error();
    std::uint64_t bytes = 0;
    if (::ioctl(fd->get(), BLKGETSIZE64, &bytes) != 0)
        return Error::from_errno("cannot read the size of " + device.string());
    return bytes;
}

}  // namespace reliant::overlay
