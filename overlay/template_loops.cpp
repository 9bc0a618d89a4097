#include "overlay/template_loops.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <set>
#include <sstream>

#include "common/file_io.h"
#include "common/log.h"
#include "overlay/loop_device.h"
#include "overlay/mounts.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t map_limit = 1 << 20;

// Absolute, normal, no "..", nothing that would break a line of the map.
Status check_image_path(const fs::path& path) {
    const std::string text = path.string();
    const bool plain = path.is_absolute() && path.lexically_normal() == path &&
                       text.find("/../") == std::string::npos && !text.ends_with("/..");
    for (const char c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return Error("control character in an image path", EINVAL);
    if (!plain) return Error("not a plain absolute image path: " + text, EINVAL);
    return success();
}

Result<std::optional<struct stat>> lstat_optional(const fs::path& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) == 0) return std::optional<struct stat>(info);
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<struct stat>();
    return Error::from_errno("cannot stat " + path.string());
}

// A read-only loop device for the lower file, reusing one that already backs it.
Result<LoopDevice> read_only_loop_for(const fs::path& lower_file, const struct stat& info) {
    auto existing = find_loop_backed_by(info.st_dev, info.st_ino);
    if (!existing) return std::move(existing).error();
    if (*existing && (*existing)->read_only()) return **existing;
    auto loop = attach_loop(lower_file, {.access = LoopAccess::read_only, .direct_io = true});
    if (!loop) return std::move(loop).error();
    auto read_only = block_device_read_only(loop->path);
    if (!read_only || !*read_only) {
        (void)detach_loop(loop->path);
        if (!read_only) return std::move(read_only).error();
        return Error(loop->path.string() + " accepted writes after a read-only attach (BLKROGET = 0)", EIO);
    }
    return loop;
}

Status bind_over_merged(const fs::path& lower_file, const fs::path& merged) {
    auto mounted = is_mount_root(merged);
    if (!mounted) return std::move(mounted).error();
    if (*mounted) return success();  // a previous run bound it already
    return bind_read_only(lower_file, merged);
}

Result<std::optional<AttachedImage>> attach_one(const RootLayout& layout, const fs::path& sysroot,
                                                const TemplateImage& image, AttachReport& report) {
    if (auto status = check_image_path(image.path); !status) return std::move(status).error();
    const fs::path relative = image.path.relative_path();
    const fs::path lower_file = layout.lower() / relative;
    auto lower = lstat_optional(lower_file);
    if (!lower) return std::move(lower).error();
    if (!*lower || !S_ISREG((*lower)->st_mode)) {
        ++report.not_in_base;
        return std::optional<AttachedImage>();
    }
    auto upper = lstat_optional(layout.upper() / relative);
    if (!upper) return std::move(upper).error();
    if (*upper) {
        // The merged path no longer shows the base's file; leave it to Qubes.
        ++report.copied_up;
        log::warning("loops: ", image.path.string(), " was replaced in the upper layer; not attached");
        return std::optional<AttachedImage>();
    }
    auto loop = read_only_loop_for(lower_file, **lower);
    if (!loop) return std::move(loop).error().context(image.path.string());
    if (auto status = bind_over_merged(lower_file, sysroot / relative); !status)
        return std::move(status).error().context(image.path.string());
    return std::optional<AttachedImage>(
        AttachedImage{image.path, loop->path, (*lower)->st_dev, (*lower)->st_ino, image.kind});
}

Result<ImageKind> parse_kind(const std::string& text) {
    if (text == image_kind_name(ImageKind::template_root)) return ImageKind::template_root;
    if (text == image_kind_name(ImageKind::read_only_volume)) return ImageKind::read_only_volume;
    return Error("unknown image kind " + text, EINVAL);
}

template <typename T>
bool parse_number(const std::string& text, T& number) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

Result<AttachedImage> parse_map_line(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos && fields.size() < 4;
         start = tab + 1)
        fields.push_back(line.substr(start, tab - start));
    fields.push_back(line.substr(start));
    unsigned major_number = 0, minor_number = 0;
    std::uint64_t inode = 0;
    const auto colon = fields.size() == 5 ? fields[2].find(':') : std::string::npos;
    if (colon == std::string::npos || !parse_number(fields[2].substr(0, colon), major_number) ||
        !parse_number(fields[2].substr(colon + 1), minor_number) || !parse_number(fields[3], inode))
        return Error("a line that is not KIND<tab>LOOP<tab>MAJOR:MINOR<tab>INODE<tab>PATH", EINVAL)
            .advise("the file is reliant-overlay loops' own record: do not edit it; reboot to rebuild it");
    auto kind = parse_kind(fields[0]);
    if (!kind) return std::move(kind).error();
    return AttachedImage{fields[4], fields[1], makedev(major_number, minor_number), static_cast<ino_t>(inode),
                         *kind};
}

}  // namespace

const char* image_kind_name(ImageKind kind) {
    return kind == ImageKind::template_root ? "template-root" : "read-only-volume";
}

Result<AttachReport> attach_template_images(const RootLayout& layout, const fs::path& sysroot,
                                            const std::vector<TemplateImage>& images) {
    AttachReport report;
    std::set<fs::path> seen;
    for (const auto& image : images) {
        if (!seen.insert(image.path).second) continue;
        auto attached = attach_one(layout, sysroot, image, report);
        if (!attached) return std::move(attached).error();
        if (*attached) report.attached.push_back(std::move(**attached));
    }
    if (auto status = write_loop_map(layout.loop_map(), report.attached); !status)
        return std::move(status).error();
    return report;
}

Status write_loop_map(const fs::path& map, const std::vector<AttachedImage>& images) {
    std::string text;
    for (const auto& image : images) {
        if (auto status = check_image_path(image.path); !status) return status;
        text += std::string(image_kind_name(image.kind)) + "\t" + image.loop.string() + "\t" +
                std::to_string(major(image.backing_device)) + ":" +
                std::to_string(minor(image.backing_device)) + "\t" + std::to_string(image.backing_inode) +
                "\t" + image.path.string() + "\n";
    }
    return write_file_atomically(map, text, 0644);
}

Result<std::vector<AttachedImage>> read_loop_map(const fs::path& map) {
    auto text = read_file(map, map_limit);
    if (!text) {
        if (text.error().code() == ENOENT) return std::vector<AttachedImage>();
        return std::move(text).error();
    }
    std::vector<AttachedImage> images;
    std::istringstream lines(*text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        if (line.empty()) continue;
        auto image = parse_map_line(line);
        if (!image) return std::move(image).error().at(map.string(), number);
        images.push_back(std::move(image).value());
    }
    return images;
}

Result<fs::path> ensure_attached(const RootLayout& layout, const AttachedImage& image) {
    auto status = loop_status(image.loop);
    if (status && status->backing_device == image.backing_device &&
        status->backing_inode == image.backing_inode && status->read_only())
        return image.loop;
    const fs::path lower_file = layout.lower() / image.path.relative_path();
    struct stat info {};
    if (::stat(lower_file.c_str(), &info) != 0)
        return Error::from_errno("cannot stat " + lower_file.string());
    if (info.st_dev != image.backing_device || info.st_ino != image.backing_inode)
        return Error(lower_file.string() + " is no longer the file reliant attached", ESTALE);
    auto loop = read_only_loop_for(lower_file, info);
    if (!loop) return std::move(loop).error();
    log::notice("create-snapshot: ", image.path.string(), " attached again as ", loop->path.string());
    return loop->path;
}

}  // namespace reliant::overlay
