// The config-mgmt side (`reliant-syncconfig push`): collect a profile's files
// for each target, build the stream, call the target's qubes.SyncConfig
// service through qrexec-client-vm, and report per target. Nothing the target
// sends back is printed: its response is a fixed-size record of codes, which
// we turn into our own words.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/error.h"
#include "syncconfig/wire.h"

namespace reliant::syncconfig {

inline constexpr std::string_view service_name = "qubes.SyncConfig";

struct PushOptions {
    std::string source;  // DIR: DIR/profiles/<profile>/..., DIR/overrides/<target>/<profile>/...
    std::string profile;
    std::vector<std::string> targets;
    std::vector<std::string> secret_patterns;  // marked SECRET on the wire
    bool dry_run = false;
    std::string qrexec_client = "/usr/bin/qrexec-client-vm";
    std::chrono::milliseconds timeout{300000};
};

struct Collected {
    std::vector<Entry> entries;  // sorted by path
    std::vector<std::string> contents;
};

// The files for one target: the profile's tree overlaid by the target's
// overrides. Walked with O_NOFOLLOW: a symlink or special file is an error
// here, in config-mgmt, rather than a refusal at the target. Paths are checked
// against the grammar and the wire limits locally.
Result<Collected> collect(const std::string& source, const std::string& profile, const std::string& target,
                          const std::vector<std::string>& secret_patterns);

// Pushes to each target in turn; prints one summary line per target (and,
// with dry_run, the manifest) to `out`. Returns 0 when every target staged.
int push(const PushOptions& options, std::string& out);

}  // namespace reliant::syncconfig
