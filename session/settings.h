// /etc/default/reliant: the boot settings reliant-install writes. The GRUB
// script (/etc/grub.d/42_reliant) sources the file with /bin/sh; this reader
// accepts only the subset of sh assignments whose meaning is the same for both
// (KEY=word, KEY="text", KEY='text', comments, blank lines) and refuses the
// rest (expansions, escapes, commands), so the two can never disagree.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace reliant::session {

class Settings {
public:
    // Fails with the line number of the first line outside the subset.
    static Result<Settings> parse(std::string_view text);
    static Result<Settings> read(const std::filesystem::path& path);

    std::optional<std::string> get(const std::string& key) const;
    std::string get_or(const std::string& key, std::string fallback) const;

private:
    std::map<std::string, std::string> values_;
};

// Where `reliant-session seal` records the seal: a GRUB environment block on
// a filesystem outside the base (normally /boot), which the GRUB entries load
// (`load_env -f ... reliant_seal`) and put on the normal entry's command line.
struct RecordLocation {
    std::string device;  // RELIANT_RECORD_DEVICE: a device spec (UUID=, PARTUUID=, path)
    std::string fstype;  // RELIANT_RECORD_FSTYPE: ext4, vfat, ...
    std::string path;    // RELIANT_RECORD_PATH: relative to that filesystem's root
};

Result<RecordLocation> record_location(const Settings& settings);

}  // namespace reliant::session
