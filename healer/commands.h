// The reliant-healer subcommands. Each takes its arguments (after the
// subcommand name) and returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace reliant::healer {

// check FILE...: 0 when every file would load in qubesd, 1 when one would
// not, 2 on a usage or I/O error.
int run_check(const std::vector<std::string>& arguments);

// list FILE: the qubes in FILE with the volume each lives on.
int run_list(const std::vector<std::string>& arguments);

// merge --base B --shard-root DIR --out O [--report R]: 0 when O was written,
// 1 when no loadable output could be made (nothing written), 2 on usage.
int run_merge(const std::vector<std::string>& arguments);

// split --in Q --base-out B --shard-root DIR: 0 when everything was written,
// 1 when something was not (the report says what), 2 on usage or I/O errors.
int run_split(const std::vector<std::string>& arguments);

// journal --base B --journal J record|successor OLD NEW|forget OLD|show: the
// base journal of maintenance mode (healer/base_journal.h); 0 done, 1 refused
// or failed (nothing written), 2 on usage.
int run_journal(const std::vector<std::string>& arguments);

// repair --shard-root DIR --merge-report R VOLUME rename QUBE NEW | drop QUBE:
// a fix for a shard frozen at this boot (healer/repair.h); 0 written, 1
// refused (nothing written), 2 on usage.
int run_repair(const std::vector<std::string>& arguments);

}  // namespace reliant::healer
