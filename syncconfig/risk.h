// Risk notes: files whose content runs code in the target (shell start-up
// files, git aliases and sshCommand, autostart entries, systemd user units,
// executables) are not refused (they are why users want the tool) but flagged
// at the top of the review, and their risky lines marked in the diff.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace reliant::syncconfig {

// Notes for one file (empty when none apply). `executable`: its mode has x bits.
std::vector<std::string> risk_notes(std::string_view path, std::string_view content, bool executable);

// Whether a line of `path` holds a key that makes a program run something.
bool risky_line(std::string_view path, std::string_view line);

}  // namespace reliant::syncconfig
