#include "shufflecake-glue/mount_table.h"

#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <chrono>
#include <thread>

#include "common/file_io.h"

namespace reliant::shufflecake {
namespace {

std::string decode_octal_escapes(std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            unsigned value = 0;
            const auto digits = field.substr(i + 1, 3);
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 8);
            if (ec == std::errc() && end == digits.data() + digits.size() && value < 256) {
                out += static_cast<char>(value);
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (start < line.size()) {
        const auto end = std::min(line.find(' ', start), line.size());
        if (end > start) fields.push_back(line.substr(start, end - start));
        start = end + 1;
    }
    return fields;
}

}  // namespace

std::vector<std::string> parse_mount_points(std::string_view mountinfo, dev_t device) {
    const std::string wanted = std::to_string(major(device)) + ":" + std::to_string(minor(device));
    std::vector<std::string> points;
    std::size_t start = 0;
    while (start < mountinfo.size()) {
        const auto end = std::min(mountinfo.find('\n', start), mountinfo.size());
        const auto fields = split_fields(mountinfo.substr(start, end - start));
        // id parent major:minor root mount-point ...
        if (fields.size() >= 5 && fields[2] == wanted) points.push_back(decode_octal_escapes(fields[4]));
        start = end + 1;
    }
    return {points.rbegin(), points.rend()};
}

Result<std::vector<std::string>> SystemMountTable::mount_points(dev_t device) {
    auto text = read_file(mountinfo_, 16 << 20);
    if (!text) return std::move(text).error();
    return parse_mount_points(*text, device);
}

Status SystemMountTable::unmount(const std::string& mount_point) {
    // A just-closed file can keep the filesystem busy for a moment.
    for (int attempt = 0;; ++attempt) {
        if (::umount2(mount_point.c_str(), UMOUNT_NOFOLLOW) == 0) return success();
        if (errno != EBUSY || attempt == 20) {
            // No mount point in the message: it names the volume (docs/shufflecake.md).
            Error error = Error::from_errno("cannot unmount a volume");
            if (error.code() == EBUSY)
                error.advise("a process still uses files on it: stop it (fuser -m on the volume's mount point) "
                             "and close again");
            return error;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace reliant::shufflecake
