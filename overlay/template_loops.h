// Template images on read-only loop devices (docs/overlay.md, "Template
// images"). Opening a lower-layer file for writing through overlayfs copies
// the whole file into the tmpfs upper; a 10 GB template either fills dom0's
// RAM or fails. So each template image is
//
//   1. attached from the *lower* layer with LOOP_CONFIGURE and
//      LO_FLAGS_READ_ONLY, and checked with BLKROGET;
//   2. bind-mounted read-only from the lower layer over its path in the
//      merged root, so anything that still opens it for writing gets EROFS
//      instead of a copy-up, and stat() shows the lower file's identity (the
//      one the loop device records);
//   3. listed in /run/reliant/loops, where reliant's create-snapshot
//      (snapshot_shim.h) finds the loop device for Qubes' file driver.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "overlay/overlay_root.h"

namespace reliant::overlay {

enum class ImageKind {
    template_root,     // a TemplateVM's root image: read by its AppVMs' snapshots
    read_only_volume,  // a volume with rw=False: never written by its qube
};

const char* image_kind_name(ImageKind kind);

struct TemplateImage {
    std::filesystem::path path;  // absolute, as the running system sees it
    ImageKind kind = ImageKind::template_root;
};

struct AttachedImage {
    std::filesystem::path path;  // as the running system sees it
    std::filesystem::path loop;  // /dev/loopN
    dev_t backing_device = 0;    // the lower file's st_dev
    ino_t backing_inode = 0;     // and st_ino
    ImageKind kind = ImageKind::template_root;
};

struct AttachReport {
    std::vector<AttachedImage> attached;
    std::size_t not_in_base = 0;  // no such file in the lower layer (a shard's pool, a new qube)
    std::size_t copied_up = 0;    // already replaced in the upper layer during this boot
};

// Attaches every image that exists in the lower layer and binds it read-only
// over `sysroot`/path; already attached images are reused, so a second run
// changes nothing. Writes the loop map.
Result<AttachReport> attach_template_images(const RootLayout& layout, const std::filesystem::path& sysroot,
                                            const std::vector<TemplateImage>& images);

Status write_loop_map(const std::filesystem::path& map, const std::vector<AttachedImage>& images);
Result<std::vector<AttachedImage>> read_loop_map(const std::filesystem::path& map);

// The entry's loop device if it still backs the same lower file read-only;
// otherwise the image is attached again from the lower layer (someone ran
// `losetup -d` on it, as Qubes' destroy-snapshot does with its dependencies).
Result<std::filesystem::path> ensure_attached(const RootLayout& layout, const AttachedImage& image);

}  // namespace reliant::overlay
