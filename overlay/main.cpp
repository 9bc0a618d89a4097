// reliant-overlay: the volatile root of a normal boot, in the steps the
// initramfs runs them (docs/overlay.md has the boot flow and the interface):
//
//   protect        every block device read-only except the Shufflecake device
//   verify         check the base against its seal (dm-verity, SHA-256, none)
//   prepare        base read-only at /run/reliant/lower, tmpfs at /run/reliant/rw
//   mount-root     prepare, then the overlay on /sysroot (or TARGET)
//   mount-options  print the overlay options for a generator's sysroot.mount
//   loops          template images as read-only loop devices (after the healer)
//   seal           (maintenance mode) record the base's integrity
//   create-snapshot  reliant's stand-in for Qubes' script, also when run under that name
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/arguments.h"
#include "common/block_device.h"
#include "common/boot_options.h"
#include "common/file_io.h"
#include "common/log.h"
#include "overlay/block_protect.h"
#include "overlay/integrity.h"
#include "overlay/loop_device.h"
#include "overlay/overlay_root.h"
#include "overlay/snapshot_shim.h"
#include "overlay/template_discovery.h"
#include "overlay/template_loops.h"

namespace {

namespace fs = std::filesystem;
using namespace reliant;
using namespace reliant::overlay;

constexpr auto device_wait = std::chrono::seconds(30);

int usage();

// What every subcommand gets: the parsed command line and where /run/reliant is.
struct Context {
    BootOptions options;
    RootLayout layout;
    std::vector<std::string> arguments;  // after the subcommand
};

int fail(const Error& error) {
    log::error(error);
    return 1;
}

// A device spec (path, UUID=, PARTUUID=, ...) or the path of a regular file.
Result<fs::path> resolve_storage(const std::string& spec) {
    std::error_code ec;
    if (spec.starts_with("/") && fs::is_regular_file(spec, ec)) return fs::path(spec);
    auto device = wait_for_block_device(spec, device_wait);
    if (!device) return std::move(device).error();
    return device->path;
}

Result<fs::path> resolve_base(const BootOptions& options) {
    if (options.base.empty()) return Error("no base device: set rd.reliant.base= (or root=)", EINVAL);
    return resolve_storage(options.base);
}

int run_protect(Context& context) {
    if (context.options.mode == BootMode::maintenance) {
        log::notice("protect: maintenance mode, block devices stay writable");
        return 0;
    }
    std::optional<dev_t> writable;
    if (!context.options.device.empty()) {
        auto device = wait_for_block_device(context.options.device, device_wait);
        if (device)
            writable = device->number;
        else
            log::warning("protect: the Shufflecake device is not there (", device.error(),
                         "); every device becomes read-only");
    }
    auto inventory = read_block_inventory();
    if (!inventory) return fail(inventory.error());
    const auto plan = plan_protection(*inventory, writable);
    if (auto status = apply_protection(plan); !status) return fail(status.error());
    for (const auto& decision : plan) log::info("protect: ", decision.name, ": ", describe(decision.action));
    return 0;
}

Status verify_verity(const Context& context, const fs::path& base) {
    const auto& options = context.options;
    if (options.verity_root_hash.empty())
        return Error("rd.reliant.integrity=verity needs rd.reliant.verity.roothash=", EINVAL);
    fs::path hash = base;
    if (!options.verity_hash.empty()) {
        auto resolved = resolve_storage(options.verity_hash);
        if (!resolved) return std::move(resolved).error().context("the hash tree");
        hash = *resolved;
    }
    std::error_code ec;
    if (fs::is_block_file(hash, ec)) {
        if (auto status = set_block_device_read_only(hash, true); !status) return status;
    }
    auto mapped = open_verity({base, hash, options.verity_offset}, options.verity_root_hash);
    if (!mapped) return std::move(mapped).error();
    return record_verified_base(context.layout, {"verity", *mapped});
}

Status verify_base(const Context& context) {
    const auto& options = context.options;
    if (!options.integrity)
        return Error("rd.reliant.integrity= is not set: choose verity, hash or none explicitly", EINVAL);
    auto base = resolve_base(options);
    if (!base) return std::move(base).error();
    std::error_code ec;
    if (fs::is_block_file(*base, ec)) {
        if (auto status = set_block_device_read_only(*base, true); !status) return status;
    }
    switch (*options.integrity) {
        case IntegrityMode::none:
            log::warning("verify: the base is NOT verified (rd.reliant.integrity=none)");
            return record_verified_base(context.layout, {"none", *base});
        case IntegrityMode::hash:
            if (options.hash_sha256.empty())
                return Error("rd.reliant.integrity=hash needs rd.reliant.hash.sha256=", EINVAL);
            if (auto status = check_whole_device_hash(*base, options.hash_sha256); !status) return status;
            return record_verified_base(context.layout, {"hash", *base});
        case IntegrityMode::verity:
            return verify_verity(context, *base);
    }
    return Error("unknown integrity mode", EINVAL);
}

int run_verify(Context& context) {
    if (context.options.mode == BootMode::maintenance) {
        log::notice("verify: maintenance mode, the base is writable and not verified");
        return 0;
    }
    if (auto status = verify_base(context); !status) {
        log::error("verify: ", status.error());
        log::error(
            "verify: the boot stops here; the base is not used. If you just left maintenance mode, "
            "put the arguments `reliant-overlay seal` printed on the kernel command line.");
        return 1;
    }
    log::notice("verify: the base matches its seal");
    return 0;
}

std::string overlay_size(const Context& context) {
    return context.options.overlay_size.empty() ? default_overlay_size : context.options.overlay_size;
}

Status refuse_maintenance(const Context& context, const char* what) {
    if (context.options.mode == BootMode::maintenance)
        return Error(std::string(what) + ": maintenance mode uses the base directly, without an overlay",
                     EINVAL);
    return success();
}

int run_prepare(Context& context) {
    if (auto status = refuse_maintenance(context, "prepare"); !status) return fail(status.error());
    if (auto status = prepare_root(context.layout, overlay_size(context)); !status)
        return fail(status.error());
    return 0;
}

int run_mount_root(Context& context) {
    if (auto status = refuse_maintenance(context, "mount-root"); !status) return fail(status.error());
    const fs::path target = context.arguments.empty() ? "/sysroot" : context.arguments[0];
    if (auto status = mount_root(context.layout, overlay_size(context), target); !status)
        return fail(status.error());
    log::notice("mount-root: overlay on ", target.string());
    return 0;
}

int run_mount_options(Context& context) {
    std::printf("%s\n", overlay_mount_options(context.layout).c_str());
    return 0;
}

// loops [--sysroot DIR] [--qubes-xml FILE] [IMAGE...]
// Images come from the merged qubes.xml (default <sysroot>/var/lib/qubes/qubes.xml)
// plus any given as operands.
int run_loops(Context& context) {
    if (context.options.mode == BootMode::maintenance) {
        log::notice("loops: maintenance mode, templates are used directly");
        return 0;
    }
    auto args = Arguments::parse(context.arguments, {.flags = {}, .options = {"sysroot", "qubes-xml"}});
    if (!args) return fail(std::move(args).error().context("loops"));
    const fs::path sysroot = args->option("sysroot").value_or("/sysroot");
    const auto qubes_xml = args->option("qubes-xml");
    std::vector<TemplateImage> images;
    for (const auto& operand : args->operands()) images.push_back({operand, ImageKind::template_root});
    const fs::path xml = qubes_xml.value_or(sysroot / "var/lib/qubes/qubes.xml");
    std::error_code ec;
    if (qubes_xml || fs::exists(xml, ec)) {
        auto discovered = discover_template_images(xml);
        if (!discovered) return fail(discovered.error());
        if (discovered->unusable > 0)
            log::warning("loops: ", discovered->unusable,
                         " volume(s) in file pools have unusable paths; skipped");
        images.insert(images.end(), discovered->images.begin(), discovered->images.end());
    } else {
        log::notice("loops: no ", xml.string(), "; only the images named on the command line");
    }
    auto report = attach_template_images(context.layout, sysroot, images);
    if (!report) return fail(report.error());
    for (const auto& image : report->attached)
        log::info("loops: ", image.path.string(), " on ", image.loop.string(), " (read-only)");
    log::notice("loops: ", report->attached.size(), " image(s) on read-only loop devices, ",
                report->not_in_base, " not in the base, ", report->copied_up, " replaced during this boot");
    if (report->attached.empty()) return 0;
    auto installed = install_snapshot_shim(context.layout, sysroot);
    if (!installed) return fail(installed.error());
    if (!*installed)
        log::notice("loops: no Qubes create-snapshot in ", sysroot.string(), "; nothing to replace");
    return 0;
}

// seal [--mode verity|hash] [--base SPEC] [--hash SPEC|FILE] [--hash-offset BYTES] [--record FILE]
struct SealRequest {
    std::string mode, base, hash, record;
    std::uint64_t hash_offset = 0;
};

Result<std::uint64_t> parse_bytes(const std::string& text) {
    std::uint64_t bytes = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bytes);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return Error("not a number of bytes: " + text, EINVAL);
    return bytes;
}

Result<SealRequest> parse_seal(const Context& context) {
    const auto& options = context.options;
    auto args = Arguments::parse(context.arguments,
                                 {.flags = {}, .options = {"mode", "base", "hash", "hash-offset", "record"}});
    if (!args) return std::move(args).error().context("seal");
    if (!args->operands().empty()) return Error("seal: unexpected " + args->operands()[0], EINVAL);
    SealRequest request;
    request.mode =
        args->option("mode").value_or(options.integrity == IntegrityMode::hash ? "hash" : "verity");
    request.base = args->option("base").value_or(options.base);
    request.hash = args->option("hash").value_or(options.verity_hash);
    request.record = args->option("record").value_or("");
    request.hash_offset = options.verity_offset;
    if (auto offset = args->option("hash-offset")) {
        auto bytes = parse_bytes(*offset);
        if (!bytes) return std::move(bytes).error().context("seal: --hash-offset");
        request.hash_offset = *bytes;
    }
    if (request.mode != "verity" && request.mode != "hash")
        return Error("seal: --mode must be verity or hash", EINVAL);
    if (request.base.empty()) return Error("seal: no base (--base, rd.reliant.base= or root=)", EINVAL);
    return request;
}

Result<std::string> seal(const SealRequest& request) {
    auto base = resolve_storage(request.base);
    if (!base) return std::move(base).error();
    std::string line = "rd.reliant.base=" + request.base + " rd.reliant.integrity=" + request.mode;
    if (request.mode == "hash") {
        if (auto status = check_sealable(*base, UINT64_MAX); !status) return std::move(status).error();
        auto digest = sha256_of_device(*base);
        if (!digest) return std::move(digest).error();
        return line + " rd.reliant.hash.sha256=" + *digest;
    }
    fs::path hash = *base;
    if (!request.hash.empty()) {
        std::error_code ec;
        const bool is_file_path = request.hash.starts_with("/") && !fs::is_block_file(request.hash, ec);
        if (is_file_path) {
            hash = request.hash;
        } else {
            auto resolved = resolve_storage(request.hash);
            if (!resolved) return std::move(resolved).error();
            hash = *resolved;
        }
        line += " rd.reliant.verity.hash=" + request.hash;
    }
    if (request.hash_offset != 0) line += " rd.reliant.verity.offset=" + std::to_string(request.hash_offset);
    auto root = seal_verity({*base, hash, request.hash_offset});
    if (!root) return std::move(root).error();
    return line + " rd.reliant.verity.roothash=" + *root;
}

int run_seal(Context& context) {
    auto request = parse_seal(context);
    if (!request) return fail(request.error());
    auto line = seal(*request);
    if (!line) return fail(std::move(line).error().context("seal"));
    if (!request->record.empty()) {
        if (auto status = write_file_atomically(request->record, *line + "\n", 0644); !status)
            return fail(status.error());
    }
    std::printf("%s\n", line->c_str());
    log::notice("seal: sealed (", request->mode,
                "); the printed arguments belong on the kernel command line");
    return 0;
}

int run_create_snapshot(Context& context) { return create_snapshot_main(context.layout, context.arguments); }

using Command = std::function<int(Context&)>;

const std::map<std::string, Command>& commands() {
    static const std::map<std::string, Command> table = {
        {"protect", run_protect},
        {"verify", run_verify},
        {"prepare", run_prepare},
        {"mount-root", run_mount_root},
        {"mount-options", run_mount_options},
        {"seal", run_seal},
        {"loops", run_loops},
        {"create-snapshot", run_create_snapshot},
    };
    return table;
}

int usage() {
    std::fprintf(
        stderr,
        "usage: reliant-overlay [--cmdline FILE] [--run-dir DIR] COMMAND [ARGS]\n"
        "commands: protect, verify, prepare, mount-root [TARGET], mount-options,\n"
        "          loops [--sysroot DIR] [--qubes-xml FILE] [IMAGE...],\n"
        "          create-snapshot FINAL BASE COW [COW2],\n"
        "          seal [--mode verity|hash] [--base SPEC] [--hash SPEC|FILE] [--hash-offset BYTES]\n"
        "               [--record FILE]\n"
        "see docs/overlay.md and docs/cmdline.md\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::error_code ec;
    log::configure({.tag = "reliant-overlay", .to_kmsg = fs::exists("/etc/initrd-release", ec)});

    std::vector<std::string> args(argv + 1, argv + argc);
    // Bound over /usr/lib/qubes/create-snapshot, qubesd runs us by that name.
    if (argc > 0 && fs::path(argv[0]).filename() == "create-snapshot") {
        log::configure({.tag = "reliant create-snapshot"});
        return create_snapshot_main(RootLayout{}, args);
    }
    std::string cmdline_path = "/proc/cmdline";
    Context context;
    std::size_t i = 0;
    for (; i + 1 < args.size() && args[i].starts_with("--"); i += 2) {
        if (args[i] == "--cmdline")
            cmdline_path = args[i + 1];
        else if (args[i] == "--run-dir")
            context.layout.run_dir = args[i + 1];
        else
            return usage();
    }
    if (i >= args.size()) return usage();
    const auto command = commands().find(args[i]);
    if (command == commands().end()) return usage();
    context.arguments.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());

    auto cmdline = KernelCmdline::read(cmdline_path);
    if (!cmdline) return fail(cmdline.error());
    auto options = parse_boot_options(*cmdline);
    if (!options) return fail(options.error());
    for (const auto& key : options->unknown_keys) log::warning("unknown kernel option ", key, " ignored");
    context.options = std::move(options).value();
    return command->second(context);
}
