// The dom0 package (packaging/rpm/reliant.spec), built and installed for
// real: the source tarball, rpmbuild (Debian's rpm; the BuildRequires are
// Debian's -dev packages here, hence --nodeps), then `rpm --root` into a
// scratch dom0 tree whose shell is busybox and whose dracut, grub2-mkconfig
// and systemctl are stand-ins that log their arguments (the scriptlets run
// chrooted in that tree: what they call is what this checks; the real dracut
// and GRUB script are checked by integration-install and the grub script
// tests). Steps: %files against reliant-install's --package-root layout;
// install (files, modes, preset applied, nothing rebuilt while unconfigured);
// configured reinstall (each kernel's initramfs, grub.cfg by Qubes' rule,
// settings kept); refusal in a normal reliant boot (install and removal);
// removal (units disabled, boot files rebuilt, seal record gone, nothing left
// but the settings as .rpmsave). Root (chroot): label integration.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "common/process.h"
#include "install_support.h"

using namespace reliant;
using namespace reliant::testing::install;

namespace {

const std::string kernel_a = "6.12.59-1.qubes.fc41.x86_64";
const std::string kernel_b = "6.6.110-1.qubes.fc37.x86_64";
const std::string units = "reliant-shutdown.service reliant-seal.service reliant-journal.service reliant-summary.service reliant-split-save.path";

ProcessResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::minutes(2)) {
    ProcessOptions options;
    options.timeout = timeout;
    auto result = run_process(argv, options);
    REQUIRE_MESSAGE(result.ok(), argv.front());
    return *result;
}

void must(const ProcessResult& result, const std::string& what) {
    REQUIRE_MESSAGE(result.succeeded(), what << " failed (exit " << result.exit_code << "):\n" << result.err);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every path under ROOT (regular files, links and, unless told otherwise,
// directories) as "MODE /PATH[ -> TARGET]": what a tree holds, to compare.
std::set<std::string> tree(const fs::path& root, const std::vector<std::string>& skip = {},
                           bool directories = true) {
    std::set<std::string> entries;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        const auto relative = "/" + fs::relative(it->path(), root).string();
        if (std::any_of(skip.begin(), skip.end(), [&](const std::string& s) { return relative.rfind(s, 0) == 0; })) {
            if (it->is_directory() && !it->is_symlink()) it.disable_recursion_pending();
            continue;
        }
        struct stat st {};
        REQUIRE(::lstat(it->path().c_str(), &st) == 0);
        if (S_ISDIR(st.st_mode) && !directories) continue;
        std::ostringstream line;
        line << std::oct << (st.st_mode & 07777) << ' ' << relative;
        if (S_ISLNK(st.st_mode)) line << " -> " << fs::read_symlink(it->path()).string();
        entries.insert(line.str());
    }
    return entries;
}

// The tarball and the RPM, built once for the whole test.
struct BuiltPackage {
    TempDir dir;
    fs::path rpm;

    BuiltPackage() {
        const auto sources = dir / "SOURCES";
        must(run({(source / "packaging/make-source-tarball").string(), sources.string()}), "make-source-tarball");
        const auto build = run({"rpmbuild", "-bb", "--nodeps", "--define", "_topdir " + dir.path().string(),
                                "--define", "_sourcedir " + sources.string(), "--define", "debug_package %{nil}",
                                "--define", "_smp_mflags -j2", (source / "packaging/rpm/reliant.spec").string()},
                               std::chrono::minutes(20));
        must(build, "rpmbuild");
        const auto version = slurp(source / "CMakeLists.txt");
        rpm = dir / "RPMS/x86_64/reliant-0.1.0-1.x86_64.rpm";
        REQUIRE_MESSAGE(contains(version, "project(reliant VERSION 0.1.0 "),
                        "the spec's Version and CMakeLists.txt's project version differ");
        REQUIRE_MESSAGE(fs::is_regular_file(rpm), build.out);
    }
};

// A dom0-shaped tree for `rpm --root`: busybox as its shell and tools, the
// stand-ins logging to /stand-ins.log, two kernels, Qubes' grub.cfg and its
// ESP stub.
struct ScratchDom0 {
    TempDir dir;
    fs::path root = dir / "dom0";

    ScratchDom0() {
        REQUIRE_MESSAGE(::geteuid() == 0, "integration tests run as root (rpm --root runs scriptlets in chroot)");
        for (const std::string& sub : std::vector<std::string>{"bin", "usr/bin", "dev", "proc", "tmp", "var/tmp",
                                                              "boot/grub2", "boot/efi/EFI/qubes",
                                                              "lib/modules/" + kernel_a, "lib/modules/" + kernel_b})
            fs::create_directories(root / sub);
        // Directories dom0's own packages own (systemd, dracut, grub2-tools, the
        // desktop's autostart entries, ...).
        for (const std::string sub : {"usr/libexec", "usr/lib/systemd/system", "usr/lib/systemd/system-shutdown",
                                      "usr/lib/systemd/system-preset", "usr/lib/dracut/modules.d",
                                      "usr/lib/dracut/dracut.conf.d", "usr/lib/kernel/install.d", "etc/grub.d",
                                      "etc/default", "etc/xdg/autostart", "usr/share/doc"})
            fs::create_directories(root / sub);
        fs::copy_file("/bin/busybox", root / "bin/busybox");
        for (const std::string applet : {"sh", "cat", "grep", "sed", "rm", "rmdir", "dirname", "mkdir", "echo"})
            fs::create_symlink("busybox", root / "bin" / applet);
        REQUIRE(::mknod((root / "dev/null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0);
        for (const std::string tool : {"dracut", "grub2-mkconfig", "systemctl"})
            stand_in(tool);
        spit(root / ("boot/vmlinuz-" + kernel_a), "kernel");
        spit(root / ("boot/vmlinuz-" + kernel_b), "kernel");
        spit(root / "boot/grub2/grub.cfg", "# grub.cfg\n");
        spit(root / "boot/efi/EFI/qubes/grub.cfg",
             "search --no-floppy --root-dev-only --fs-uuid --set=dev 1234\nset prefix=($dev)/grub2\n"
             "export $prefix\nconfigfile $prefix/grub.cfg\n");
        must(rpm({"--initdb"}), "rpm --initdb");
    }

    void stand_in(const std::string& tool) {
        spit(root / "usr/bin" / tool, "#!/bin/sh\necho \"" + tool + " $*\" >>/stand-ins.log\n");
        fs::permissions(root / "usr/bin" / tool, fs::perms(0755));
    }
    void boot_cmdline(const std::string& cmdline) { spit(root / "proc/cmdline", cmdline + "\n"); }
    ProcessResult rpm(std::vector<std::string> arguments) {
        arguments.insert(arguments.begin(), {"rpm", "--root", root.string(), "--dbpath", "/var/lib/rpm"});
        return run(arguments);
    }
    // What the stand-ins were asked since the last call.
    std::string calls() {
        const auto log = root / "stand-ins.log";
        if (!fs::exists(log)) return "";
        auto text = slurp(log);
        fs::remove(log);
        return text;
    }
};

// Settings of a configured system (what reliant-install writes from its options).
const std::string configured_settings =
    "RELIANT_DEVICE='PARTUUID=5f0a-04'\nRELIANT_BASE=''\nRELIANT_INTEGRITY='verity'\n"
    "RELIANT_VERITY_HASH='PARTUUID=5f0a-05'\nRELIANT_VERITY_OFFSET=''\nRELIANT_EXTRA_ARGS=''\n"
    "RELIANT_RECORD_DEVICE='UUID=1234'\nRELIANT_RECORD_FSTYPE='ext4'\nRELIANT_RECORD_MOUNTPOINT='/boot'\n"
    "RELIANT_RECORD_PATH=reliant/seal.env\n";

std::string rebuilds_of_both_kernels() {
    return "dracut --force /boot/initramfs-" + kernel_a + ".img " + kernel_a + "\n" + "dracut --force /boot/initramfs-" +
           kernel_b + ".img " + kernel_b + "\n";
}

}  // namespace

TEST_CASE("package: the RPM builds offline, installs, configures, refuses a normal boot and removes cleanly") {
    BuiltPackage package;

    // %files is exactly reliant-install's package layout (paths, modes, links).
    TempDir layout;
    must(run({installer, "--package-root", layout.path().string(), "--bin-dir", bin_dir}), "--package-root");
    const auto listed = run({"rpm", "-qp", "--qf", "[%{FILEMODES:octal} %{FILENAMES} %{FILELINKTOS}\n]",
                             package.rpm.string()});
    must(listed, "rpm -qp");
    std::set<std::string> packaged;
    std::istringstream lines(listed.out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string mode, path, target;
        fields >> mode >> path >> target;
        if (mode.size() > 4 && mode.rfind("40", 0) == 0) continue;  // directories: rpm owns them, the layout implies them
        if (path.rfind("/usr/lib/.build-id/", 0) == 0) continue;     // rpm's own links to the binaries
        std::ostringstream entry;
        entry << (mode.size() > 4 ? mode.substr(mode.size() - 3) : mode) << ' ' << path;
        if (!target.empty()) entry << " -> " << target;
        packaged.insert(entry.str());
    }
    const auto laid_out = tree(layout.path(), {}, false);
    CHECK(packaged == laid_out);

    ScratchDom0 dom0;
    const auto before = tree(dom0.root, {"/var/lib/rpm"});

    // A first install: files in place, the preset applied, nothing rebuilt
    // while /etc/default/reliant names no device.
    auto installed = dom0.rpm({"-i", "--nodeps", package.rpm.string()});
    must(installed, "rpm -i");
    CHECK(contains(installed.err, "installed, not configured"));
    CHECK(dom0.calls() == "systemctl --no-reload preset " + units + "\n");
    const auto installed_tree = tree(dom0.root);
    for (const auto& entry : laid_out) CHECK_MESSAGE(installed_tree.count(entry) == 1, entry);
    CHECK(slurp(dom0.root / "usr/lib/systemd/system-preset/50-reliant.preset").find("enable reliant-seal.service") !=
          std::string::npos);

    // Configured, then reinstalled: each kernel's initramfs, /boot/grub2/grub.cfg
    // only (the ESP holds Qubes' configfile stub), the settings kept.
    spit(dom0.root / "etc/default/reliant", configured_settings);
    must(dom0.rpm({"-U", "--replacepkgs", "--nodeps", package.rpm.string()}), "rpm -U (configured)");
    CHECK(dom0.calls() == rebuilds_of_both_kernels() + "grub2-mkconfig -o /boot/grub2/grub.cfg\n");
    CHECK(slurp(dom0.root / "etc/default/reliant") == configured_settings);

    // An ESP grub.cfg that is not the stub (a system upgraded from 4.1) is regenerated too.
    spit(dom0.root / "boot/efi/EFI/qubes/grub.cfg", "menuentry 'Qubes' {}\n");
    must(dom0.rpm({"-U", "--replacepkgs", "--nodeps", package.rpm.string()}), "rpm -U (ESP config)");
    CHECK(dom0.calls() == rebuilds_of_both_kernels() + "grub2-mkconfig -o /boot/grub2/grub.cfg\n" +
                              "grub2-mkconfig -o /boot/efi/EFI/qubes/grub.cfg\n");

    // A normal reliant boot: neither an install nor a removal may run.
    dom0.boot_cmdline("placeholder root=/dev/mapper/base rd.reliant=1 rd.reliant.device=PARTUUID=5f0a-04 quiet");
    const auto refused_install = dom0.rpm({"-U", "--replacepkgs", "--nodeps", package.rpm.string()});
    CHECK_FALSE(refused_install.succeeded());
    CHECK(contains(refused_install.err, "this is a normal reliant boot"));
    const auto refused_removal = dom0.rpm({"-e", "reliant"});
    CHECK_FALSE(refused_removal.succeeded());
    CHECK(contains(refused_removal.err, "this is a normal reliant boot"));
    CHECK(dom0.calls().empty());
    CHECK(fs::exists(dom0.root / "usr/libexec/reliant/reliant-unlock"));

    // Removal from the maintenance entry: units disabled, boot files rebuilt
    // without reliant, the seal record gone, nothing left but the settings.
    dom0.boot_cmdline("placeholder rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.device=PARTUUID=5f0a-04");
    fs::create_directories(dom0.root / "boot/reliant");
    spit(dom0.root / "boot/reliant/seal.env", "# GRUB Environment Block\nreliant_seal_status=sealed\n");
    const auto removed = dom0.rpm({"-e", "reliant"});
    must(removed, "rpm -e");
    CHECK(dom0.calls() == "systemctl --no-reload disable " + units + "\n" + rebuilds_of_both_kernels() +
                              "grub2-mkconfig -o /boot/grub2/grub.cfg\n" +
                              "grub2-mkconfig -o /boot/efi/EFI/qubes/grub.cfg\n");
    auto after = tree(dom0.root, {"/var/lib/rpm"});
    CHECK(after.erase("644 /etc/default/reliant.rpmsave") == 1);
    CHECK(slurp(dom0.root / "etc/default/reliant.rpmsave") == configured_settings);
    CHECK(after.erase("644 /proc/cmdline") == 1);
    auto expected = before;
    expected.erase("644 /boot/efi/EFI/qubes/grub.cfg");  // rewritten above; the same path and mode
    after.erase("644 /boot/efi/EFI/qubes/grub.cfg");
    CHECK(after == expected);
}
