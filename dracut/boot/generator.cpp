#include "dracut/boot/generator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "common/block_device.h"
#include "common/boot_options.h"
#include "common/file_io.h"
#include "dracut/boot/unit_name.h"
#include "overlay/overlay_root.h"

namespace reliant::boot {
namespace {

namespace fs = std::filesystem;

const char* const header = "# Written by reliant-generator from the kernel command line (docs/boot.md).\n";

GeneratedFile link(fs::path path, std::string target) {
    return {std::move(path), std::move(target), true};
}

GeneratedFile wants(const std::string& target_unit, const std::string& unit, const std::string& unit_dir) {
    return link(fs::path(target_unit + ".wants") / unit, unit_dir + "/" + unit);
}

// sysroot.mount in the early directory, plus the requirement fstab-generator
// would have added for its own.
void add_sysroot(GeneratorPlan& plan, const std::string& unit_section, const std::string& mount_section) {
    plan.early.push_back({"sysroot.mount", std::string(header) + "[Unit]\n" + unit_section +
                                               "Before=initrd-root-fs.target\n"
                                               "OnFailure=reliant-failed@%n.service\n"
                                               "OnFailureJobMode=replace-irreversibly\n\n[Mount]\n" +
                                               mount_section});
    plan.early.push_back(link("initrd-root-fs.target.requires/sysroot.mount", "../sysroot.mount"));
}

// The unit systemd makes for a block device named by a spec, if the spec
// names one (a hash tree may also be a regular file: no unit then).
std::optional<std::string> device_unit(const std::string& spec) {
    if (spec.empty()) return std::nullopt;
    if (spec.front() == '/' && !spec.starts_with("/dev/")) return std::nullopt;
    auto path = device_spec_path(spec);
    if (!path) return std::nullopt;  // the tools report the malformed spec themselves
    return escape_unit_path(path->string()) + ".device";
}

void plan_failed(GeneratorPlan& plan, std::string problem, const std::string& unit_dir) {
    plan.kind = BootPlan::failed;
    plan.problems.push_back(std::move(problem));
    plan.normal.clear();
    plan.early.clear();
    // Mask any sysroot.mount (fstab-generator writes one for root=): the base
    // must not be mounted, writable or not, on a command line reliant cannot use.
    plan.early.push_back(link("sysroot.mount", "/dev/null"));
    plan.normal.push_back(link(fs::path("initrd.target.wants") /
                                   (std::string("reliant-failed@") + generator_instance + ".service"),
                               unit_dir + "/" + failed_template));
}

void plan_maintenance(GeneratorPlan& plan, const BootOptions& options, const std::string& unit_dir) {
    if (options.base.empty())
        return plan_failed(plan, "maintenance mode needs the base: set rd.reliant.base= (or root=)", unit_dir);
    auto base = device_spec_path(options.base);
    if (!base) return plan_failed(plan, "rd.reliant.base: " + base.error().describe(), unit_dir);
    plan.kind = BootPlan::maintenance;
    // No prompt, no overlay, no healer: the base itself, writable. Shufflecake
    // stays locked; the real root seals the base on the way out.
    add_sysroot(plan, "Description=reliant maintenance mode: the base, writable\n",
                "What=" + base->string() + "\nWhere=/sysroot\nOptions=rw\n");
}

void plan_normal(GeneratorPlan& plan, const BootOptions& options, const std::string& unit_dir) {
    plan.kind = BootPlan::normal;
    add_sysroot(plan,
                "Description=reliant: the overlay root (base read-only, upper in RAM)\n"
                "Requires=" +
                    std::string(prepare_unit) + "\nAfter=" + prepare_unit + "\n",
                "What=overlay\nWhere=/sysroot\nType=overlay\nOptions=" +
                    overlay::overlay_mount_options(overlay::RootLayout{}) + "\n");
    for (const char* unit : {protect_unit, unlock_unit, verify_unit, heal_unit, loops_unit})
        plan.normal.push_back(wants("initrd.target", unit, unit_dir));
    // initrd-cleanup starts the switch to the new root once initrd.target is
    // reached, even when a unit initrd.target wanted failed: require the
    // healer and the loops so a broken qubes.xml never reaches qubesd.
    plan.normal.push_back({"initrd-cleanup.service.d/50-reliant.conf",
                           std::string(header) +
                               "# No switch-root without the merged qubes.xml and the template loops.\n"
                               "[Unit]\nRequires=" +
                               heal_unit + " " + loops_unit + "\nAfter=" + heal_unit + " " + loops_unit +
                               "\n"});
    // protect makes every block device that exists read-only: wait for the
    // ones reliant is told about (the rest are covered by prepare and verify).
    std::set<std::string> devices;
    for (const auto* spec : {&options.device, &options.base, &options.verity_hash})
        if (auto unit = device_unit(*spec)) devices.insert(*unit);
    if (!devices.empty()) {
        std::string list;
        for (const auto& unit : devices) list += (list.empty() ? "" : " ") + unit;
        plan.normal.push_back({std::string(protect_unit) + ".d/50-devices.conf",
                               std::string(header) + "[Unit]\nWants=" + list + "\nAfter=" + list + "\n"});
    }
}

Status write_one(const fs::path& directory, const GeneratedFile& file) {
    const fs::path path = directory / file.path;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Error("cannot create the unit directory " + path.parent_path().string(), ec.value());
    if (file.symlink) {
        fs::remove(path, ec);
        if (::symlink(file.content.c_str(), path.c_str()) != 0)
            return Error::from_errno("cannot create the symbolic link " + path.string() + " -> " + file.content);
        return success();
    }
    return write_file_atomically(path, file.content, 0644);
}

}  // namespace

GeneratorPlan plan_boot_units(const KernelCmdline& cmdline, const std::string& unit_dir) {
    GeneratorPlan plan;
    const auto enabled = cmdline.get("rd.reliant");
    if (!enabled || !cmdline_truthy(*enabled)) return plan;
    auto options = parse_boot_options(cmdline);
    if (!options) {
        plan_failed(plan, options.error().describe(), unit_dir);
        return plan;
    }
    if (options->mode == BootMode::maintenance)
        plan_maintenance(plan, *options, unit_dir);
    else
        plan_normal(plan, *options, unit_dir);
    return plan;
}

Status write_plan(const GeneratorPlan& plan, const fs::path& normal, const fs::path& early) {
    for (const auto& file : plan.normal)
        if (auto status = write_one(normal, file); !status) return status;
    for (const auto& file : plan.early)
        if (auto status = write_one(early, file); !status) return status;
    return success();
}

}  // namespace reliant::boot
