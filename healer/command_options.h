// Options the healer commands share.
#pragma once

#include "common/arguments.h"
#include "healer/validator.h"

namespace reliant::healer {

// --release any|4.3|main, --root DIR, --sysfs DIR, --pci-root-buses A,B
inline const std::set<std::string> validation_option_names = {"release", "root", "sysfs", "pci-root-buses"};
Result<ValidationOptions> validation_options(const Arguments& arguments);

}  // namespace reliant::healer
