// Carrying out a dom0 plan (dom0_plan.h), or printing it (--dry-run).
//
// Order: every named qube must exist (qvm-features NAME, which lists its
// features), then every policy file's place is checked (a regular file or
// nothing), then the features are set, then the owned features the
// configuration no longer asks for are unset, then the policy files are written (atomically and durably: temporary,
// fsync, rename, fsync of the directory). The policy comes last: a call can
// be allowed only once the target's own gate (its profiles) is in place. A
// failure stops the run with the step named; rerunning is safe (every step
// sets a whole value).
#pragma once

#include <ostream>

#include "common/error.h"
#include "shufflecake-glue/command_runner.h"
#include "syncconfig/dom0_plan.h"

namespace reliant::syncconfig {

// The plan as text: the files with their content, the commands, the bind-dirs
// texts and notes. What --dry-run prints; nothing is run.
void print_dom0_plan(const Dom0Plan& plan, std::ostream& out);

Status apply_dom0_plan(const Dom0Plan& plan, shufflecake::CommandRunner& runner, std::ostream& out);

// An argv shown as one line, each word single-quoted when it holds a space
// (for the user's eyes: nothing here is ever given to a shell).
std::string show_command(const std::vector<std::string>& argv);

}  // namespace reliant::syncconfig
