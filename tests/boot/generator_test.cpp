// reliant-generator's decisions: nothing without rd.reliant=1; the overlay
// root, the unit chain and the switch-root guard in a normal boot; the base
// writable and nothing else in maintenance mode; a masked sysroot.mount and
// the failure unit when the command line cannot be used.
#include <doctest/doctest.h>

#include <algorithm>

#include "dracut/boot/failure.h"
#include "dracut/boot/generator.h"
#include "dracut/boot/unit_name.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::boot;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

GeneratorPlan plan(std::string_view cmdline) { return plan_boot_units(KernelCmdline::parse(cmdline)); }

const GeneratedFile* find(const std::vector<GeneratedFile>& files, const fs::path& path) {
    const auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
    return it == files.end() ? nullptr : &*it;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

const char* const normal_cmdline =
    "quiet rd.reliant=1 rd.reliant.device=PARTLABEL=sflc rd.reliant.base=PARTUUID=ABCD-02 "
    "rd.reliant.integrity=verity rd.reliant.verity.offset=4096 rd.reliant.verity.roothash=" 
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

}  // namespace

TEST_CASE("systemd's path escaping") {
    CHECK(escape_unit_path("/dev/disk/by-partlabel/sflc") == "dev-disk-by\\x2dpartlabel-sflc");
    CHECK(escape_unit_path("/dev/vda2") == "dev-vda2");
    CHECK(escape_unit_path("//dev//sda/") == "dev-sda");
    CHECK(escape_unit_path("/dev/disk/by-label/my\\x20disk") == "dev-disk-by\\x2dlabel-my\\x5cx20disk");
    CHECK(escape_unit_path("/.hidden/a.b") == "\\x2ehidden-a.b");
    CHECK(escape_unit_path("/") == "-");
}

TEST_CASE("without rd.reliant=1 the generator writes nothing") {
    for (const char* cmdline : {"", "root=/dev/vda1 quiet", "rd.reliant=0 rd.reliant.device=/dev/vdb",
                                "rd.reliant=no rd.reliant.mode=maintenance", "rd.reliant.mode=bogus"}) {
        CAPTURE(cmdline);
        const auto result = plan(cmdline);
        CHECK(result.kind == BootPlan::off);
        CHECK(result.normal.empty());
        CHECK(result.early.empty());
    }
}

TEST_CASE("a normal boot: the overlay sysroot.mount in the early directory after prepare") {
    const auto result = plan(normal_cmdline);
    REQUIRE(result.kind == BootPlan::normal);
    CHECK(result.problems.empty());
    const auto* mount = find(result.early, "sysroot.mount");
    REQUIRE(mount);
    CHECK_FALSE(mount->symlink);
    CHECK(contains(mount->content, "\nRequires=reliant-prepare.service\nAfter=reliant-prepare.service\n"));
    CHECK(contains(mount->content, "\nWhat=overlay\nWhere=/sysroot\nType=overlay\n"));
    CHECK(contains(mount->content,
                   "\nOptions=lowerdir=/run/reliant/lower,upperdir=/run/reliant/rw/upper,"
                   "workdir=/run/reliant/rw/work\n"));
    CHECK(contains(mount->content, "\nOnFailure=reliant-failed@%n.service\n"));
    const auto* requires_link = find(result.early, "initrd-root-fs.target.requires/sysroot.mount");
    REQUIRE(requires_link);
    CHECK(requires_link->symlink);
    CHECK(requires_link->content == "../sysroot.mount");
}

TEST_CASE("a normal boot pulls in every step, and switch-root waits for heal and loops") {
    const auto result = plan(normal_cmdline);
    for (const char* unit : {protect_unit, unlock_unit, verify_unit, heal_unit, loops_unit}) {
        CAPTURE(unit);
        const auto* link = find(result.normal, fs::path("initrd.target.wants") / unit);
        REQUIRE(link);
        CHECK(link->symlink);
        CHECK(link->content == std::string("/usr/lib/systemd/system/") + unit);
    }
    const auto* guard = find(result.normal, "initrd-cleanup.service.d/50-reliant.conf");
    REQUIRE(guard);
    CHECK(contains(guard->content, "\nRequires=reliant-heal.service reliant-loops.service\n"));
    CHECK(contains(guard->content, "\nAfter=reliant-heal.service reliant-loops.service\n"));
}

TEST_CASE("protect waits for the devices the command line names") {
    const auto result = plan(normal_cmdline);
    const auto* devices = find(result.normal, "reliant-protect.service.d/50-devices.conf");
    REQUIRE(devices);
    const std::string units = "dev-disk-by\\x2dpartlabel-sflc.device dev-disk-by\\x2dpartuuid-abcd\\x2d02.device";
    CHECK(contains(devices->content, "\nWants=" + units + "\n"));
    CHECK(contains(devices->content, "\nAfter=" + units + "\n"));

    // A hash tree in a file is not a device; a device path is.
    const auto file_tree = plan(std::string(normal_cmdline) + " rd.reliant.verity.hash=/boot/base.verity");
    CHECK_FALSE(contains(find(file_tree.normal, "reliant-protect.service.d/50-devices.conf")->content,
                         "base.verity"));
    const auto device_tree = plan(std::string(normal_cmdline) + " rd.reliant.verity.hash=/dev/vdc");
    CHECK(contains(find(device_tree.normal, "reliant-protect.service.d/50-devices.conf")->content,
                   " dev-vdc.device"));
    // root= stands for rd.reliant.base=.
    const auto by_root = plan("rd.reliant=1 rd.reliant.device=/dev/vdb root=LABEL=base");
    CHECK(contains(find(by_root.normal, "reliant-protect.service.d/50-devices.conf")->content,
                   "dev-disk-by\\x2dlabel-base.device"));
}

TEST_CASE("maintenance mode: the base writable, nothing unlocked, no overlay, no healer") {
    const auto result = plan("rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.device=PARTLABEL=sflc "
                             "rd.reliant.base=PARTLABEL=base");
    REQUIRE(result.kind == BootPlan::maintenance);
    const auto* mount = find(result.early, "sysroot.mount");
    REQUIRE(mount);
    CHECK(contains(mount->content, "\nWhat=/dev/disk/by-partlabel/base\nWhere=/sysroot\nOptions=rw\n"));
    CHECK_FALSE(contains(mount->content, "overlay"));
    CHECK_FALSE(contains(mount->content, "reliant-prepare"));
    CHECK(find(result.early, "initrd-root-fs.target.requires/sysroot.mount"));
    CHECK(result.normal.empty());  // no protect, unlock, verify, heal or loops

    const auto by_root = plan("rd.reliant=1 rd.reliant.mode=maintenance root=/dev/vda3");
    REQUIRE(by_root.kind == BootPlan::maintenance);
    CHECK(contains(find(by_root.early, "sysroot.mount")->content, "\nWhat=/dev/vda3\n"));
}

TEST_CASE("an unusable command line stops the boot and never mounts the base") {
    struct Case {
        const char* cmdline;
        const char* problem;
    };
    for (const Case& c : {Case{"rd.reliant=1 rd.reliant.mode=repair root=/dev/vda1", "rd.reliant.mode=repair"},
                          Case{"rd.reliant=1 rd.reliant.tries=0 root=/dev/vda1", "rd.reliant.tries=0"},
                          Case{"rd.reliant=1 rd.reliant.mode=maintenance", "rd.reliant.base="},
                          Case{"rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.base=disk", "rd.reliant.base"}}) {
        CAPTURE(c.cmdline);
        const auto result = plan(c.cmdline);
        REQUIRE(result.kind == BootPlan::failed);
        REQUIRE(result.problems.size() == 1);
        CHECK(contains(result.problems[0], c.problem));
        // fstab-generator's sysroot.mount for root= is masked.
        const auto* mask = find(result.early, "sysroot.mount");
        REQUIRE(mask);
        CHECK(mask->symlink);
        CHECK(mask->content == "/dev/null");
        REQUIRE(result.early.size() == 1);
        REQUIRE(result.normal.size() == 1);
        CHECK(result.normal[0].path == "initrd.target.wants/reliant-failed@reliant-generator.service");
        CHECK(result.normal[0].content == "/usr/lib/systemd/system/reliant-failed@.service");
    }
}

TEST_CASE("the plan is written into the two directories, and rewriting it is harmless") {
    TempDir dir;
    const auto result = plan(normal_cmdline);
    for (int round = 0; round < 2; ++round) {  // systemd reruns generators on daemon-reload
        REQUIRE(write_plan(result, dir / "normal", dir / "early").ok());
        CHECK(fs::is_symlink(dir / "normal/initrd.target.wants/reliant-heal.service"));
        CHECK(fs::read_symlink(dir / "early/initrd-root-fs.target.requires/sysroot.mount") ==
              "../sysroot.mount");
        CHECK(reliant::testing::slurp(dir / "early/sysroot.mount") == find(result.early, "sysroot.mount")->content);
        CHECK(fs::is_regular_file(dir / "normal/initrd-cleanup.service.d/50-reliant.conf"));
    }
    CHECK_FALSE(fs::exists(dir / "normal/sysroot.mount"));
}

TEST_CASE("the generator binary: off, normal, and a failure") {
    TempDir dir;
    const std::string tool = reliant::testing::binary_dir() + "/dracut/boot/reliant-boot";
    reliant::testing::spit(dir / "off", "root=/dev/vda1\n");
    reliant::testing::spit(dir / "normal", std::string(normal_cmdline) + "\n");
    auto run = [&](const std::string& cmdline, const std::string& out) {
        const std::string command = tool + " generate " + (dir / out / "n").string() + " " +
                                    (dir / out / "e").string() + " " + (dir / out / "l").string() +
                                    " --cmdline " + (dir / cmdline).string() + " 2>/dev/null";
        return std::system(command.c_str());
    };
    CHECK(run("off", "a") == 0);
    CHECK_FALSE(fs::exists(dir / "a/e/sysroot.mount"));
    CHECK(run("normal", "b") == 0);
    CHECK(fs::exists(dir / "b/e/sysroot.mount"));
    CHECK(fs::is_symlink(dir / "b/n/initrd.target.wants/reliant-unlock.service"));
    CHECK(run("missing", "c") != 0);
}

TEST_CASE("failure messages say which step stopped the boot and name nothing secret") {
    const auto heal = failure_message("reliant-heal.service");
    CHECK(contains(heal, "THE BOOT STOPPED: the merged qubes.xml could not be written."));
    CHECK(contains(heal, "qubesd would not start with it"));
    CHECK(contains(heal, "journalctl -b -u reliant-heal.service"));
    CHECK(contains(failure_message("reliant-verify.service"), "integrity check"));
    CHECK(contains(failure_message("sysroot.mount"), "overlay root"));
    CHECK(contains(failure_message("reliant-generator"), "rd.reliant.* options"));
    CHECK(contains(failure_message("reliant-generator"), "(journalctl -b)"));
    CHECK(contains(failure_message("something-else.service"), "THE BOOT STOPPED: something-else.service failed."));
    // A step that never ran because an earlier one failed: one line, no alarm of its own.
    CHECK(failure_message("reliant-loops.service", "success") ==
          "reliant: reliant-loops.service did not run: a step before it failed (see above).\n");
    CHECK(contains(failure_message("reliant-loops.service", "exit-code"), "THE BOOT STOPPED"));
    CHECK_FALSE(contains(failure_message("reliant-heal.service", "exit-code"), "time limit"));
    CHECK(contains(failure_message("reliant-heal.service", "timeout"),
                   "could not be written.\nreliant: It was stopped after its time limit"));
}
