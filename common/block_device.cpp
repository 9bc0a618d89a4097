#include "common/block_device.h"

#include <sys/stat.h>

#include <algorithm>
#include <thread>

namespace reliant {
namespace {

struct Tag {
    std::string_view prefix;
    std::string_view directory;
    bool lowercase;  // udev writes PARTUUID links in lower case
};

constexpr Tag tags[] = {
    {"UUID=", "disk/by-uuid", false},
    {"PARTUUID=", "disk/by-partuuid", true},
    {"LABEL=", "disk/by-label", false},
    {"PARTLABEL=", "disk/by-partlabel", false},
};

// udev escapes '/' and whitespace in labels as \x2f and \x20.
std::string udev_escape(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '/')
            out += "\\x2f";
        else if (c == ' ')
            out += "\\x20";
        else
            out += c;
    }
    return out;
}

}  // namespace

Result<std::filesystem::path> device_spec_path(const std::string& spec,
                                               const std::filesystem::path& dev_root) {
    if (spec.empty()) return Error("no device given (rd.reliant.device=)", EINVAL);
    for (const Tag& tag : tags) {
        if (!spec.starts_with(tag.prefix)) continue;
        std::string value = spec.substr(tag.prefix.size());
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        if (value.empty() || value.find('\0') != std::string::npos) return Error("empty " + spec, EINVAL);
        if (tag.lowercase)
            std::transform(value.begin(), value.end(), value.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const std::string name = udev_escape(value);
        if (name == "." || name == "..") return Error("invalid device name " + spec, EINVAL);
        return dev_root / tag.directory / name;
    }
    if (spec.front() != '/')
        return Error("device must be a path or UUID=, PARTUUID=, LABEL=, PARTLABEL=: " + spec, EINVAL);
    if (dev_root == "/dev") return std::filesystem::path(spec);
    // Tests: map /dev/... into the fake tree.
    std::filesystem::path relative = std::filesystem::path(spec).lexically_relative("/dev");
    if (relative.empty() || relative.native().starts_with(".."))
        return Error("not under /dev: " + spec, EINVAL);
    return dev_root / relative;
}

Result<BlockDevice> resolve_block_device(const std::string& spec, const std::filesystem::path& dev_root) {
    auto path = device_spec_path(spec, dev_root);
    if (!path) return std::move(path).error();
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(*path, ec);
    if (ec) return Error("device " + spec + " not found", ec.value() == ENOENT ? ENOENT : ec.value());
    struct stat info {};
    if (::stat(canonical.c_str(), &info) != 0) return Error::from_errno("cannot stat " + canonical.string());
    if (!S_ISBLK(info.st_mode)) return Error(canonical.string() + " is not a block device", ENOTBLK);
    return BlockDevice{canonical, info.st_rdev};
}

Result<BlockDevice> wait_for_block_device(const std::string& spec, std::chrono::milliseconds timeout,
                                          const std::filesystem::path& dev_root) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    for (;;) {
        auto device = resolve_block_device(spec, dev_root);
        if (device || device.error().code() != ENOENT) return device;
        if (timeout.count() > 0 && clock::now() >= deadline)
            return Error("timed out waiting for device " + spec, ETIMEDOUT);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace reliant
