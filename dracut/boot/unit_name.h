// systemd unit names for paths, escaped as systemd-escape --path does, so the
// generator can order units after the device units udev creates.
#pragma once

#include <string>
#include <string_view>

namespace reliant::boot {

// "/dev/disk/by-partlabel/sflc" -> "dev-disk-by\x2dpartlabel-sflc" (no suffix).
// Repeated and trailing slashes are dropped; "/" becomes "-".
std::string escape_unit_path(std::string_view path);

}  // namespace reliant::boot
