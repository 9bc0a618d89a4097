// Options the healer commands share.
#pragma once

#include <initializer_list>
#include <string_view>

#include "common/arguments.h"
#include "healer/validator.h"

namespace reliant::healer {

// --release any|4.3|main, --root DIR, --sysfs DIR, --pci-root-buses A,B
inline const std::set<std::string> validation_option_names = {"release", "root", "sysfs", "pci-root-buses"};
Result<ValidationOptions> validation_options(const Arguments& arguments);

// Every output file named by `options` (e.g. "out", "report") is a regular
// file or a new name (common/file_io.h, check_replaceable), checked before
// anything is written. False after printing "reliant-healer COMMAND: --OPTION:
// why; nothing written" for the first that is not (the command exits 2).
bool outputs_replaceable(std::string_view command, const Arguments& arguments,
                         std::initializer_list<const char*> options);

}  // namespace reliant::healer
