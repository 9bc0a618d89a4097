#include "healer/command_options.h"

#include <iostream>

#include "common/file_io.h"

namespace reliant::healer {

Result<ValidationOptions> validation_options(const Arguments& arguments) {
    ValidationOptions options;
    if (const auto release = arguments.option("release")) {
        if (*release == "any")
            options.release = QubesRelease::any;
        else if (*release == "4.3")
            options.release = QubesRelease::r4_3;
        else if (*release == "main" || *release == "4.4")
            options.release = QubesRelease::main;
        else
            return Error("--release must be any, 4.3 or main", EINVAL);
    }
    if (const auto root = arguments.option("root")) options.root = *root;
    if (const auto sysfs = arguments.option("sysfs")) options.sysfs = *sysfs;
    if (const auto buses = arguments.option("pci-root-buses")) {
        std::vector<std::string> list;
        for (std::size_t start = 0; start <= buses->size();) {
            const std::size_t comma = std::min(buses->find(',', start), buses->size());
            if (comma > start) list.push_back(buses->substr(start, comma - start));
            start = comma + 1;
        }
        options.pci_root_buses = list;
    }
    return options;
}

bool outputs_replaceable(std::string_view command, const Arguments& arguments,
                         std::initializer_list<const char*> options) {
    for (const char* option : options)
        if (const auto path = arguments.option(option))
            if (auto replaceable = check_replaceable(*path); !replaceable) {
                std::cerr << "reliant-healer " << command << ": --" << option << ": "
                          << replaceable.error().describe() << "; nothing written\n";
                return false;
            }
    return true;
}

}  // namespace reliant::healer
