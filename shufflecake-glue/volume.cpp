#include "shufflecake-glue/volume.h"

#include <charconv>

namespace reliant::shufflecake {
namespace {

std::optional<unsigned> parse_decimal(std::string_view digits) {
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
}

}  // namespace

std::optional<VolumeName> parse_volume_name(std::string_view name) {
    constexpr std::string_view prefix = "sflc_";
    if (!name.starts_with(prefix)) return std::nullopt;
    name.remove_prefix(prefix.size());
    const auto separator = name.find('_');
    if (separator == std::string_view::npos) return std::nullopt;
    const auto device_id = parse_decimal(name.substr(0, separator));
    const auto index = parse_decimal(name.substr(separator + 1));
    if (!device_id || !index) return std::nullopt;
    return VolumeName{*device_id, *index};
}

}  // namespace reliant::shufflecake
