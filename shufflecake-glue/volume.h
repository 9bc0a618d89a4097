// A Shufflecake volume as device-mapper shows it: sflc_<M>_<N>, where M is the
// id Shufflecake gave the underlying device when it was opened and N is the
// volume's index on it (0 = least secret, the decoy).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace reliant::shufflecake {

struct Volume {
    std::string name;    // sflc_M_N: names a volume, so never logged
    unsigned device_id;  // M
    unsigned index;      // N
    dev_t number = 0;    // the dm device's own major:minor
    std::string dm_path() const { return "/dev/mapper/" + name; }
};

struct VolumeName {
    unsigned device_id;
    unsigned index;
};

// Parses exactly "sflc_<M>_<N>" with decimal M and N (no signs, no leading
// zeros except "0"); anything else is not a Shufflecake volume.
std::optional<VolumeName> parse_volume_name(std::string_view name);

}  // namespace reliant::shufflecake
