#include "overlay/block_protect.h"

#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "common/file_io.h"
#include "common/log.h"
#include "overlay/loop_device.h"

namespace reliant::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t sysfs_limit = 4096;

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

Result<std::string> read_attribute(const fs::path& path) {
    auto text = read_file(path, sysfs_limit);
    if (!text) return std::move(text).error();
    return trimmed(std::move(text).value());
}

template <typename T>
bool parse_number(std::string_view text, T& number) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

Result<dev_t> parse_dev(const std::string& text, const fs::path& where) {
    const auto colon = text.find(':');
    unsigned major_number = 0, minor_number = 0;
    if (colon == std::string::npos || !parse_number(std::string_view(text).substr(0, colon), major_number) ||
        !parse_number(std::string_view(text).substr(colon + 1), minor_number))
        return Error("unexpected device number '" + text + "' in " + where.string(), EINVAL);
    return makedev(major_number, minor_number);
}

std::string uevent_devname(const std::string& uevent, const std::string& fallback) {
    std::size_t start = 0;
    while (start < uevent.size()) {
        std::size_t end = uevent.find('\n', start);
        if (end == std::string::npos) end = uevent.size();
        const std::string_view line(uevent.data() + start, end - start);
        if (line.starts_with("DEVNAME=")) return std::string(line.substr(8));
        start = end + 1;
    }
    return fallback;
}

Result<BlockEntry> read_entry(const fs::path& link) {
    BlockEntry entry;
    entry.name = link.filename().string();
    std::error_code ec;
    const fs::path device_dir = fs::canonical(link, ec);
    if (ec) return Error("cannot resolve " + link.string(), ec.value());

    auto dev = read_attribute(device_dir / "dev");
    if (!dev) return std::move(dev).error();
    auto number = parse_dev(*dev, device_dir / "dev");
    if (!number) return std::move(number).error();
    entry.number = *number;

    auto uevent = read_file(device_dir / "uevent", sysfs_limit);
    std::string fallback = entry.name;
    std::replace(fallback.begin(), fallback.end(), '!', '/');
    entry.devname = uevent ? uevent_devname(*uevent, fallback) : fallback;

    if (fs::exists(device_dir / "partition")) entry.disk = device_dir.parent_path().filename().string();
    if (auto ro = read_attribute(device_dir / "ro")) entry.read_only = *ro == "1";
    if (auto size = read_attribute(device_dir / "size"))
        parse_number(std::string_view(*size), entry.size_sectors);
    for (const auto& slave : fs::directory_iterator(device_dir / "slaves", ec))
        entry.slaves.push_back(slave.path().filename().string());
    std::sort(entry.slaves.begin(), entry.slaves.end());
    return entry;
}

bool is_ram_device(const std::string& name) {
    for (const std::string_view prefix : {"zram", "ram"}) {
        if (name.size() > prefix.size() && name.starts_with(prefix) &&
            name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
            return true;
    }
    return false;
}

// The Shufflecake device, its whole disk, and everything it is built on
// (the slaves of a dm or md device, and their disks), transitively.
std::set<std::string> writable_closure(const std::vector<BlockEntry>& inventory, dev_t writable) {
    std::map<std::string, const BlockEntry*> by_name;
    for (const auto& entry : inventory) by_name[entry.name] = &entry;
    std::vector<std::string> pending;
    for (const auto& entry : inventory)
        if (entry.number == writable) pending.push_back(entry.name);
    std::set<std::string> keep;
    while (!pending.empty()) {
        const std::string name = pending.back();
        pending.pop_back();
        if (!keep.insert(name).second) continue;
        const auto found = by_name.find(name);
        if (found == by_name.end()) continue;
        if (found->second->disk) pending.push_back(*found->second->disk);
        for (const auto& slave : found->second->slaves) pending.push_back(slave);
    }
    return keep;
}

}  // namespace

const char* describe(ProtectAction action) {
    switch (action) {
        case ProtectAction::make_read_only:
            return "made read-only";
        case ProtectAction::already_read_only:
            return "already read-only";
        case ProtectAction::keep_writable:
            return "kept writable (Shufflecake)";
        case ProtectAction::skip_empty:
            return "skipped (empty)";
        case ProtectAction::skip_ram:
            return "skipped (RAM)";
    }
    return "?";
}

Result<std::vector<BlockEntry>> read_block_inventory(const fs::path& sysfs_root) {
    std::vector<BlockEntry> inventory;
    std::error_code ec;
    const fs::path class_dir = sysfs_root / "class/block";
    for (const auto& link : fs::directory_iterator(class_dir, ec)) {
        auto entry = read_entry(link.path());
        if (!entry) return std::move(entry).error().context("reading " + link.path().string());
        inventory.push_back(std::move(entry).value());
    }
    if (ec) return Error("cannot list " + class_dir.string(), ec.value());
    std::sort(inventory.begin(), inventory.end(),
              [](const BlockEntry& a, const BlockEntry& b) { return a.name < b.name; });
    return inventory;
}

std::vector<ProtectDecision> plan_protection(const std::vector<BlockEntry>& inventory,
                                             std::optional<dev_t> writable) {
    const std::set<std::string> keep =
        writable ? writable_closure(inventory, *writable) : std::set<std::string>{};
    std::vector<ProtectDecision> plan;
    for (const auto& entry : inventory) {
        ProtectAction action = ProtectAction::make_read_only;
        if (keep.contains(entry.name))
            action = ProtectAction::keep_writable;
        else if (is_ram_device(entry.name))
            action = ProtectAction::skip_ram;
        else if (entry.size_sectors == 0)
            action = ProtectAction::skip_empty;
        else if (entry.read_only)
            action = ProtectAction::already_read_only;
        plan.push_back({entry.name, entry.devname, action});
    }
    return plan;
}

Status apply_protection(const std::vector<ProtectDecision>& plan, const fs::path& dev_root) {
    for (const auto& decision : plan) {
        if (decision.action != ProtectAction::make_read_only) continue;
        const fs::path node = dev_root / decision.devname;
        auto status = set_block_device_read_only(node, true);
        if (!status && (status.error().code() == ENOENT || status.error().code() == ENXIO ||
                        status.error().code() == ENODEV)) {
            log::notice("protect: ", decision.name, " disappeared before it could be made read-only");
            continue;
        }
        if (!status) return std::move(status).error();
        auto read_only = block_device_read_only(node);
        if (!read_only) return std::move(read_only).error();
        if (!*read_only) return Error(node.string() + " is still writable after BLKROSET", EIO);
    }
    return success();
}

}  // namespace reliant::overlay
