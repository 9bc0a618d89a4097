// The reliant-healer subcommands. Each takes its arguments (after the
// subcommand name) and returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace reliant::healer {

// check FILE...: 0 when every file would load in qubesd, 1 when one would
// not, 2 on a usage or I/O error.
int run_check(const std::vector<std::string>& arguments);

}  // namespace reliant::healer
