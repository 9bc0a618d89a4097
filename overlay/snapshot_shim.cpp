#include "overlay/snapshot_shim.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "common/file_io.h"
#include "common/log.h"
#include "common/process.h"
#include "overlay/loop_device.h"
#include "overlay/mounts.h"
#include "overlay/template_loops.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

constexpr const char* qubes_script = "usr/lib/qubes/create-snapshot";
constexpr int snapshot_chunk_sectors = 256;  // Qubes' file driver uses 128 KiB chunks
constexpr std::size_t binary_limit = 64 << 20;

Result<struct stat> stat_of(const fs::path& path, bool follow) {
    struct stat info {};
    const int r = follow ? ::stat(path.c_str(), &info) : ::lstat(path.c_str(), &info);
    if (r != 0) return Error::from_errno("cannot stat " + path.string());
    return info;
}

std::string device_number(dev_t number) {
    return std::to_string(major(number)) + ":" + std::to_string(minor(number));
}

// What create-snapshot's get_dev does: follow a link; a file becomes a loop
// device (an existing one backing the same file is reused); a block device is
// used as it is.
Result<fs::path> writable_device_for(const fs::path& given) {
    std::error_code ec;
    const fs::path path = fs::canonical(given, ec);
    if (ec) return Error(given.string() + " does not exist", ec.value());
    auto info = stat_of(path, true);
    if (!info) return std::move(info).error();
    if (S_ISBLK(info->st_mode)) return path;
    if (!S_ISREG(info->st_mode))
        return Error(path.string() + " is neither a block device nor a file", EINVAL);
    auto existing = find_loop_backed_by(info->st_dev, info->st_ino);
    if (!existing) return std::move(existing).error();
    if (*existing && !(*existing)->read_only()) return (*existing)->path;
    if (*existing)
        return Error(path.string() + " already has a read-only loop device; a COW file must be writable",
                     EROFS);
    auto loop = attach_loop(path, {.access = LoopAccess::read_write});
    if (!loop) return std::move(loop).error();
    return loop->path;
}

Result<std::optional<AttachedImage>> reliant_image(const RootLayout& layout, const fs::path& base) {
    auto images = read_loop_map(layout.loop_map());
    if (!images) return std::move(images).error();
    auto info = stat_of(base, true);
    if (!info) return std::move(info).error();
    for (const auto& image : *images)
        if (image.backing_device == info->st_dev && image.backing_inode == info->st_ino)
            return std::optional<AttachedImage>(image);
    return std::optional<AttachedImage>();
}

Result<std::string> snapshot_table(const fs::path& origin, std::uint64_t sectors, const fs::path& cow) {
    auto cow_info = stat_of(cow, true);
    if (!cow_info) return std::move(cow_info).error();
    std::string origin_text = origin.string();
    if (auto origin_info = stat_of(origin, true); origin_info && S_ISBLK(origin_info->st_mode))
        origin_text = device_number(origin_info->st_rdev);
    return "0 " + std::to_string(sectors) + " snapshot " + origin_text + " " +
           device_number(cow_info->st_rdev) + " P " + std::to_string(snapshot_chunk_sectors);
}

Status plan_reliant_snapshot(const RootLayout& layout, const AttachedImage& image,
                             const std::vector<std::string>& args, SnapshotPlan& plan) {
    if (args.size() == 3 && image.kind == ImageKind::template_root)
        return Error(
            image.path.string() +
                " belongs to the read-only base: a TemplateVM can be started only in maintenance mode",
            EROFS);
    auto base_loop = ensure_attached(layout, image);
    if (!base_loop) return std::move(base_loop).error();
    plan.base_loop = *base_loop;
    auto bytes = block_device_size(plan.base_loop);
    if (!bytes) return std::move(bytes).error();
    const std::uint64_t sectors = *bytes / 512;

    auto base_part = snapshot_name_part(args[1]);
    if (!base_part) return std::move(base_part).error();
    auto cow_part = snapshot_name_part(args[2]);
    if (!cow_part) return std::move(cow_part).error();
    const std::string shared = "snapshot" + *base_part + *cow_part;

    for (std::size_t i = 2; i < args.size(); ++i) {
        auto cow = writable_device_for(args[i]);
        if (!cow) return std::move(cow).error();
        plan.cow_loops.push_back(*cow);
    }
    auto shared_table = snapshot_table(plan.base_loop, sectors, plan.cow_loops[0]);
    if (!shared_table) return std::move(shared_table).error();
    plan.tables.push_back({shared, *shared_table});
    if (args.size() == 4) {
        auto final_table = snapshot_table(fs::path("/dev/mapper") / shared, sectors, plan.cow_loops[1]);
        if (!final_table) return std::move(final_table).error();
        plan.tables.push_back({args[0], *final_table});
    } else {
        auto base_info = stat_of(plan.base_loop, true);
        if (!base_info) return std::move(base_info).error();
        plan.tables.push_back({args[0], "0 " + std::to_string(sectors) + " snapshot-origin " +
                                            device_number(base_info->st_rdev)});
    }
    return success();
}

Status check_name(const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
        name == "control")
        return Error("bad device-mapper name " + name, EINVAL);
    return success();
}

Result<std::string> dmsetup(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"dmsetup"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions options;
    options.timeout = std::chrono::seconds(60);
    auto result = run_process(argv, options);
    if (!result) return std::move(result).error();
    if (!result->succeeded())
        return Error("dmsetup " + args[0] + " " + result->describe() + ": " + log::sanitize(result->err),
                     EIO);
    return result->out;
}

// Asked of the kernel, not of /dev/mapper: without udev the node may be missing.
Result<bool> mapping_exists(const std::string& name) {
    auto names = dmsetup({"info", "-c", "--noheadings", "-o", "name"});
    if (!names) return std::move(names).error();
    std::size_t start = 0;
    while (start < names->size()) {
        std::size_t end = names->find('\n', start);
        if (end == std::string::npos) end = names->size();
        if (names->compare(start, end - start, name) == 0) return true;
        start = end + 1;
    }
    return false;
}

// The kernel looks a path up as a block device node; a mapping created a
// moment ago may have none yet (no udev), so refer to it by major:minor.
Result<std::string> resolve_mapper_paths(const std::string& table) {
    constexpr std::string_view prefix = "/dev/mapper/";
    std::string resolved;
    std::size_t start = 0;
    while (start <= table.size()) {
        std::size_t end = table.find(' ', start);
        if (end == std::string::npos) end = table.size();
        std::string token = table.substr(start, end - start);
        if (token.starts_with(prefix)) {
            auto number = dmsetup({"info", "-c", "--noheadings", "-o", "major,minor", "--separator", ":",
                                   token.substr(prefix.size())});
            if (!number) return std::move(number).error();
            token = number->substr(0, number->find_first_of(" \n"));
        }
        resolved += (resolved.empty() ? "" : " ") + token;
        start = end + 1;
    }
    return resolved;
}

int delegate_to_qubes(const RootLayout& layout, const std::vector<std::string>& args) {
    const std::string script = (layout.lower() / qubes_script).string();
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(script.c_str()));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(script.c_str(), argv.data());
    log::error(Error::from_errno("create-snapshot: cannot run " + script));
    return 1;
}

}  // namespace

Result<std::string> snapshot_name_part(const fs::path& path) {
    // GNU `stat --printf=-%D:%i` as the Qubes script calls it: no link following.
    auto info = stat_of(path, false);
    if (!info) return std::move(info).error();
    char text[64];
    std::snprintf(text, sizeof text, "-%jx:%ju", static_cast<std::uintmax_t>(info->st_dev),
                  static_cast<std::uintmax_t>(info->st_ino));
    return std::string(text);
}

Result<SnapshotPlan> plan_snapshot(const RootLayout& layout, const std::vector<std::string>& args) {
    if (args.size() != 3 && args.size() != 4)
        return Error("expected 3 or 4 arguments (FINAL BASE COW [COW2]), got " + std::to_string(args.size()),
                     EINVAL);
    if (auto status = check_name(args[0]); !status) return std::move(status).error();
    SnapshotPlan plan;
    auto image = reliant_image(layout, args[1]);
    if (!image) return std::move(image).error();
    if (!*image) {
        plan.delegate = true;
        return plan;
    }
    if (auto status = plan_reliant_snapshot(layout, **image, args, plan); !status)
        return std::move(status).error();
    return plan;
}

Status create_tables(const std::vector<DmTable>& tables) {
    for (const auto& table : tables) {
        auto exists = mapping_exists(table.name);
        if (!exists) return std::move(exists).error();
        if (*exists) continue;
        auto resolved = resolve_mapper_paths(table.table);
        if (!resolved) return std::move(resolved).error();
        auto result = dmsetup({"create", table.name, "--table", *resolved});
        if (!result) return std::move(result).error();
    }
    return success();
}

int create_snapshot_main(const RootLayout& layout, const std::vector<std::string>& args) {
    auto plan = plan_snapshot(layout, args);
    if (!plan) {
        log::error("create-snapshot: ", plan.error());
        return 1;
    }
    if (plan->delegate) return delegate_to_qubes(layout, args);
    if (auto status = create_tables(plan->tables); !status) {
        log::error("create-snapshot: ", status.error());
        return 1;
    }
    return 0;
}

Result<bool> install_snapshot_shim(const RootLayout& layout, const fs::path& sysroot,
                                   const fs::path& binary) {
    const fs::path target = sysroot / qubes_script;
    std::error_code ec;
    if (!fs::is_regular_file(target, ec)) return false;
    auto mounted = is_mount_root(target);
    if (!mounted) return std::move(mounted).error();
    if (*mounted) return true;
    auto program = read_file(binary, binary_limit);
    if (!program) return std::move(program).error();
    fs::create_directories(layout.bin_dir(), ec);
    if (ec) return Error("cannot create " + layout.bin_dir().string(), ec.value());
    const fs::path copy = layout.bin_dir() / "reliant-overlay";
    if (auto status = write_file_atomically(copy, *program, 0755); !status) return std::move(status).error();
    if (auto status = bind_read_only(copy, target); !status) return std::move(status).error();
    return true;
}

}  // namespace reliant::overlay
