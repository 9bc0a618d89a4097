// reliant-unlock: asks for the passphrase at boot, opens the Shufflecake
// volumes it reaches, checks and mounts them at /run/shufflecake/sflc_M_N.
// Options come from the kernel command line (rd.reliant.*, docs/cmdline.md);
// the few argv options exist for tests and for the dracut unit.
//
// reliant-unlock --close: after a later boot step failed (run first by
// reliant-failed@.service), unmounts and closes every volume open on
// rd.reliant.device, so that dracut's emergency shell or a reboot never finds
// them open (docs/boot.md, "When a step fails").
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/block_device.h"
#include "common/boot_options.h"
#include "common/log.h"
#include "shufflecake-glue/glue.h"
#include "shufflecake-glue/libdevmapper_device_mapper.h"
#include "unlock/agent_prompts.h"
#include "unlock/console_prompt.h"
#include "unlock/hardening.h"
#include "unlock/unlocker.h"

namespace {

using namespace reliant;
using namespace reliant::unlock;

constexpr int exit_usage = 2;
constexpr int exit_no_device = 3;
constexpr auto device_wait = std::chrono::seconds(120);

struct Arguments {
    std::string cmdline = "/proc/cmdline";
    std::string prompt = "auto";
    std::string shufflecake = "shufflecake";
    std::vector<std::string> volume_targets;
    std::string volume_module;  // empty: GlueConfig's default
    std::string mount_root = "/run/shufflecake";
    bool close = false;
};

constexpr const char* usage =
    "usage: reliant-unlock [--cmdline=FILE] [--prompt=auto|systemd|plymouth|console]\n"
    "                      [--shufflecake=COMMAND] [--volume-target=TYPE]... [--volume-module=NAME]\n"
    "                      [--mount-root=DIR]\n"
    "       reliant-unlock --close [--cmdline=FILE] [--volume-target=TYPE]...\n"
    "Reads rd.reliant.* from the kernel command line (docs/cmdline.md).\n";

bool take(const std::string& argument, std::string_view name, std::string& value) {
    if (!argument.starts_with(name) || argument.size() <= name.size() || argument[name.size()] != '=')
        return false;
    value = argument.substr(name.size() + 1);
    return true;
}

std::optional<Arguments> parse_arguments(int argc, char** argv) {
    Arguments arguments;
    for (int i = 1; i < argc; ++i) {
        const std::string argument = argv[i];
        std::string target;
        if (take(argument, "--cmdline", arguments.cmdline) || take(argument, "--prompt", arguments.prompt) ||
            take(argument, "--shufflecake", arguments.shufflecake) ||
            take(argument, "--volume-module", arguments.volume_module) ||
            take(argument, "--mount-root", arguments.mount_root))
            continue;
        if (take(argument, "--volume-target", target)) {
            arguments.volume_targets.push_back(target);
            continue;
        }
        if (argument == "--close") {
            arguments.close = true;
            continue;
        }
        return std::nullopt;
    }
    if (arguments.prompt != "auto" && arguments.prompt != "systemd" && arguments.prompt != "plymouth" &&
        arguments.prompt != "console")
        return std::nullopt;
    return arguments;
}

class StdoutMessages final : public UserMessages {
public:
    void show(std::string_view message) override { std::cout << message << std::endl; }
};

std::unique_ptr<PassphraseSource> choose_source(const std::string& wanted,
                                                shufflecake::CommandRunner& runner) {
    const bool systemd = std::filesystem::exists("/run/systemd/system");
    if (wanted == "systemd" || (wanted == "auto" && systemd))
        return std::make_unique<SystemdAskPassword>(runner);
    if (wanted == "plymouth" || (wanted == "auto" && PlymouthPrompt::available(runner)))
        return std::make_unique<PlymouthPrompt>(runner);
    return std::make_unique<ConsolePrompt>();
}

// After a failed boot step. Without usable options or a device, unlock never
// opened anything: nothing to say. Otherwise one line on the console says
// what happened to the volumes; a failure to close is an error (exit 1).
int close_after_failure(const Arguments& arguments) {
    auto cmdline = KernelCmdline::read(arguments.cmdline);
    auto options = cmdline ? parse_boot_options(*cmdline) : Result<BootOptions>(cmdline.error());
    if (!options || !options->enabled || options->mode == BootMode::maintenance || options->device.empty())
        return 0;
    auto device = resolve_block_device(options->device);
    if (!device) return 0;
    shufflecake::SystemCommandRunner runner;  // closing runs no command
    shufflecake::LibDevmapper dm;
    shufflecake::SystemMountTable mounts;
    shufflecake::GlueConfig glue_config;
    if (!arguments.volume_targets.empty()) glue_config.volume_targets = arguments.volume_targets;
    shufflecake::ShufflecakeGlue glue(runner, dm, mounts, glue_config);
    auto open = glue.find_volumes(device->number);
    if (open && open->empty()) return 0;
    if (auto closed = open ? glue.close(*open) : Status(std::move(open).error()); !closed) {
        log::error(closed.error());
        std::cout << "reliant: THE SHUFFLECAKE VOLUMES COULD NOT ALL BE CLOSED (see above): power the "
                     "machine off rather than leave it at the emergency shell."
                  << std::endl;
        return 1;
    }
    // Their empty mount points would still tell how many volumes were open.
    for (const shufflecake::Volume& volume : *open)
        if (::rmdir((std::filesystem::path(arguments.mount_root) / volume.name).c_str()) != 0 && errno != ENOENT)
            log::warning("cannot remove the mount point of a volume: ", std::strerror(errno));
    std::cout << "reliant: the Shufflecake volumes opened at unlock are closed (" << open->size()
              << " unmounted and removed)." << std::endl;
    return 0;
}

int run(const Arguments& arguments) {
    if (auto hardened = harden_process(); !hardened) {
        log::error(hardened.error());
        return exit_code(Outcome::error);
    }
    auto cmdline = KernelCmdline::read(arguments.cmdline);
    if (!cmdline) {
        log::error(cmdline.error());
        return exit_usage;
    }
    auto options = parse_boot_options(*cmdline);
    if (!options) {
        log::error(options.error());
        return exit_usage;
    }
    for (const auto& key : options->unknown_keys) log::warning("unknown option ", key, " ignored");
    if (options->mode == BootMode::maintenance) {
        std::cout << "reliant-unlock: maintenance mode, volumes stay locked" << std::endl;
        return 0;
    }
    if (options->device.empty()) {
        log::error("rd.reliant.device= is not set");
        return exit_usage;
    }
    auto device = wait_for_block_device(options->device, device_wait);
    if (!device) {
        log::error(device.error());
        std::cout << "reliant-unlock: 0 volumes mounted (device not found)" << std::endl;
        return exit_no_device;
    }

    shufflecake::SystemCommandRunner runner;
    shufflecake::LibDevmapper dm;
    shufflecake::SystemMountTable mounts;
    shufflecake::GlueConfig glue_config;
    glue_config.command = arguments.shufflecake;
    if (!arguments.volume_targets.empty()) glue_config.volume_targets = arguments.volume_targets;
    if (!arguments.volume_module.empty()) glue_config.volume_module = arguments.volume_module;
    shufflecake::ShufflecakeGlue glue(runner, dm, mounts, glue_config);
    SystemFilesystem filesystem(runner);
    SteadyClock clock;
    StdoutMessages messages;
    auto source = choose_source(arguments.prompt, runner);
    auto settings = UnlockSettings::from(*options);
    settings.mount_root = arguments.mount_root;

    const auto report = Unlocker(*source, glue, filesystem, clock, messages, settings).run(*device);
    if (report.error && report.outcome == Outcome::error) log::error(*report.error);
    std::cout << result_line(report) << std::endl;
    return exit_code(report.outcome);
}

}  // namespace

int main(int argc, char** argv) {
    log::Config config;
    config.tag = "reliant-unlock";
    config.to_kmsg = std::filesystem::exists("/etc/initrd-release");
    log::configure(config);
    const auto arguments = parse_arguments(argc, argv);
    if (!arguments) {
        std::cerr << usage;
        return exit_usage;
    }
    return arguments->close ? close_after_failure(*arguments) : run(*arguments);
}
