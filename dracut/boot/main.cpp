// reliant-boot: the initramfs side of the dracut module 50reliant (docs/boot.md).
//
//   reliant-generator NORMAL EARLY LATE   (this binary under that name, in
//                        system-generators): the boot's units, from the kernel
//                        command line
//   reliant-boot failed UNIT   the console message when UNIT failed (run by
//                        reliant-failed@UNIT.service before emergency mode)
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "common/kernel_cmdline.h"
#include "common/log.h"
#include "dracut/boot/failure.h"
#include "dracut/boot/generator.h"

namespace {

using namespace reliant;

constexpr const char* usage =
    "usage: reliant-generator NORMAL-DIR EARLY-DIR LATE-DIR   (as a systemd generator)\n"
    "       reliant-boot generate NORMAL-DIR EARLY-DIR LATE-DIR [--cmdline FILE]\n"
    "       reliant-boot failed UNIT\n";

int generate(const std::string& normal, const std::string& early, const std::string& cmdline_path) {
    auto cmdline = KernelCmdline::read(cmdline_path);
    if (!cmdline) {
        log::error(cmdline.error());
        return 1;
    }
    const auto plan = boot::plan_boot_units(*cmdline);
    for (const auto& problem : plan.problems) log::error(problem);
    if (auto status = boot::write_plan(plan, normal, early); !status) {
        log::error(status.error());
        return 1;
    }
    switch (plan.kind) {
        case boot::BootPlan::off:
            break;
        case boot::BootPlan::normal:
            log::info("normal boot: unlock, overlay root, heal");
            break;
        case boot::BootPlan::maintenance:
            log::notice("maintenance mode: the base writable, no unlock, no overlay");
            break;
        case boot::BootPlan::failed:
            log::error("the boot will stop: the kernel command line cannot be used");
            break;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view self = argv[0] ? argv[0] : "";
    const bool as_generator = self.ends_with("/reliant-generator") || self == "reliant-generator";
    // Generators log to the kernel log; systemd connects nothing else.
    log::configure({.tag = "reliant-generator", .to_kmsg = as_generator});
    if (as_generator) {
        // systemd passes NORMAL EARLY LATE (only NORMAL in some test modes).
        if (argc < 2) {
            std::cerr << usage;
            return 2;
        }
        return generate(argv[1], argc > 2 ? argv[2] : argv[1], "/proc/cmdline");
    }
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "failed" && argc == 3) {
        const char* result = std::getenv("MONITOR_SERVICE_RESULT");  // systemd >= 251
        std::cout << boot::failure_message(argv[2], result ? result : "") << std::flush;
        return 0;
    }
    if (command == "generate" && (argc == 5 || (argc == 7 && std::string_view(argv[5]) == "--cmdline")))
        return generate(argv[2], argv[3], argc == 7 ? argv[6] : "/proc/cmdline");
    std::cerr << usage;
    return 2;
}
