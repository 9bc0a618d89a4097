#include "common/boot_options.h"

#include <cctype>
#include <charconv>
#include <set>

namespace reliant {
namespace {

constexpr std::string_view prefix = "rd.reliant.";

Result<unsigned> parse_unsigned(std::string_view key, const std::string& value, unsigned low, unsigned high) {
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() || number < low ||
        number > high)
        return Error(std::string(key) + "=" + value + ": expected a whole number from " +
                         std::to_string(low) + " to " + std::to_string(high),
                     EINVAL);
    return number;
}

Result<std::uint64_t> parse_u64(std::string_view key, const std::string& value) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty())
        return Error(std::string(key) + "=" + value + ": expected a whole number of bytes", EINVAL);
    return number;
}

// A SHA-256 value: 64 hex digits, returned in lower case so comparisons are plain.
Result<std::string> parse_sha256_hex(std::string_view key, const std::string& value) {
    const bool hex =
        value.size() == 64 && value.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
    if (!hex)
        return Error(std::string(key) + "=" + value + ": expected 64 hexadecimal digits (SHA-256)", EINVAL);
    std::string lower = value;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower;
}

// "25%" (of RAM) or a size with an optional K/M/G suffix, as tmpfs accepts.
// Zero is refused: tmpfs reads size=0 as "no limit", and the upper must be bounded.
bool valid_size(const std::string& value) {
    if (value.empty()) return false;
    std::size_t digits = 0;
    while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9') ++digits;
    if (digits == 0) return false;
    if (value.find_first_not_of('0') >= digits) return false;
    const std::string suffix = value.substr(digits);
    if (suffix == "%") {
        unsigned percent = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + digits, percent);
        return ec == std::errc() && end == value.data() + digits && percent > 0 && percent <= 100;
    }
    return suffix.empty() || suffix == "k" || suffix == "K" || suffix == "m" || suffix == "M" ||
           suffix == "g" || suffix == "G";
}

Status parse_integrity_options(const KernelCmdline& cmdline, BootOptions& options) {
    if (auto value = cmdline.get("rd.reliant.base"))
        options.base = *value;
    else if (auto root = cmdline.get("root"))
        options.base = *root;
    if (auto value = cmdline.get("rd.reliant.integrity")) {
        if (*value == "verity")
            options.integrity = IntegrityMode::verity;
        else if (*value == "hash")
            options.integrity = IntegrityMode::hash;
        else if (*value == "none")
            options.integrity = IntegrityMode::none;
        else
            return Error("rd.reliant.integrity=" + *value + ": expected verity, hash or none", EINVAL);
    }
    if (auto value = cmdline.get("rd.reliant.verity.hash")) options.verity_hash = *value;
    if (auto value = cmdline.get("rd.reliant.verity.offset")) {
        auto offset = parse_u64("rd.reliant.verity.offset", *value);
        if (!offset) return std::move(offset).error();
        if (*offset % 4096 != 0)
            return Error("rd.reliant.verity.offset=" + *value + ": must be a multiple of 4096", EINVAL);
        options.verity_offset = *offset;
    }
    if (auto value = cmdline.get("rd.reliant.verity.roothash")) {
        auto hex = parse_sha256_hex("rd.reliant.verity.roothash", *value);
        if (!hex) return std::move(hex).error();
        options.verity_root_hash = *hex;
    }
    if (auto value = cmdline.get("rd.reliant.hash.sha256")) {
        auto hex = parse_sha256_hex("rd.reliant.hash.sha256", *value);
        if (!hex) return std::move(hex).error();
        options.hash_sha256 = *hex;
    }
    return success();
}

}  // namespace

Result<BootOptions> parse_boot_options(const KernelCmdline& cmdline) {
    BootOptions options;
    if (auto value = cmdline.get("rd.reliant")) options.enabled = cmdline_truthy(*value);

    static const std::set<std::string, std::less<>> known = {
        "mode",        "device",        "tries",           "timeout",    "fsck",
        "dvl",         "discard",       "overlay.size",    "base",       "integrity",
        "verity.hash", "verity.offset", "verity.roothash", "hash.sha256"};
    std::set<std::string> unknown;
    for (const auto& argument : cmdline.arguments()) {
        if (!argument.key.starts_with(prefix)) continue;
        const std::string name = argument.key.substr(prefix.size());
        if (!known.contains(name)) unknown.insert(argument.key);
    }
    options.unknown_keys.assign(unknown.begin(), unknown.end());

    if (auto value = cmdline.get("rd.reliant.mode")) {
        if (*value == "normal")
            options.mode = BootMode::normal;
        else if (*value == "maintenance")
            options.mode = BootMode::maintenance;
        else
            return Error("rd.reliant.mode=" + *value + ": expected normal or maintenance", EINVAL);
    }
    if (auto value = cmdline.get("rd.reliant.device")) options.device = *value;
    if (auto value = cmdline.get("rd.reliant.tries")) {
        auto tries = parse_unsigned("rd.reliant.tries", *value, 1, 100);
        if (!tries) return std::move(tries).error();
        options.tries = *tries;
    }
    if (auto value = cmdline.get("rd.reliant.timeout")) {
        auto timeout = parse_unsigned("rd.reliant.timeout", *value, 0, 86400);
        if (!timeout) return std::move(timeout).error();
        options.timeout_seconds = *timeout;
    }
    if (auto value = cmdline.get("rd.reliant.fsck")) options.fsck = cmdline_truthy(*value);
    if (auto value = cmdline.get("rd.reliant.discard")) options.discard = cmdline_truthy(*value);
    if (auto value = cmdline.get("rd.reliant.dvl")) {
        auto dvl = parse_unsigned("rd.reliant.dvl", *value, 0, 14);  // Shufflecake has at most 15 volumes
        if (!dvl) return std::move(dvl).error();
        options.dvl = *dvl;
    }
    if (auto value = cmdline.get("rd.reliant.overlay.size")) {
        if (!valid_size(*value))
            return Error(
                "rd.reliant.overlay.size=" + *value + ": expected a percentage of RAM (25%) or a size (4G)",
                EINVAL);
        options.overlay_size = *value;
    }
    if (auto status = parse_integrity_options(cmdline, options); !status) return std::move(status).error();
    return options;
}

}  // namespace reliant
