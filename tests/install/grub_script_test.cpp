// /etc/grub.d/42_reliant, run as grub-mkconfig runs it (grub-mkconfig_lib,
// the exported GRUB_* variables), on a scratch /boot; its output must pass
// grub-script-check.
#include <doctest/doctest.h>

#include "common/process.h"
#include "test_support.h"

using namespace reliant;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string script = reliant::testing::source_dir() + "/dracut/install/42_reliant";

struct Boot {
    TempDir dir;
    fs::path boot = dir / "boot";
    fs::path settings = dir / "reliant";

    Boot() {
        fs::create_directories(boot / "reliant");
        spit(boot / "reliant/seal.env", "");
        spit(settings,
             "RELIANT_DEVICE='PARTUUID=sflc'\nRELIANT_BASE='PARTUUID=base'\nRELIANT_INTEGRITY='verity'\n"
             "RELIANT_VERITY_HASH='PARTUUID=hash'\nRELIANT_VERITY_OFFSET=''\nRELIANT_EXTRA_ARGS='rd.reliant.fsck=1'\n"
             "RELIANT_RECORD_MOUNTPOINT='" + boot.string() + "'\nRELIANT_RECORD_PATH=reliant/seal.env\n");
    }

    // The path GRUB uses for /boot: "/" on a /boot of its own, here the
    // scratch directory's path within the host's root file system.
    std::string grub_path() const {
        auto relative = run_process({"grub-mkrelpath", boot.string()});
        REQUIRE(relative.ok());
        REQUIRE(relative->succeeded());
        auto path = relative->out.substr(0, relative->out.find('\n'));
        return path == "/" ? "" : path;
    }

    std::string generate(bool expect_ok = true) const {
        ProcessOptions options;
        options.environment.insert(options.environment.end(),
                                   {"RELIANT_SETTINGS=" + settings.string(), "RELIANT_BOOT_DIR=" + boot.string(),
                                    "GRUB_DEVICE=/dev/mapper/qubes_dom0-root", "GRUB_DISTRIBUTOR=Qubes",
                                    "GRUB_CMDLINE_LINUX=rd.luks.uuid=luks-1 rd.lvm.lv=qubes_dom0/root",
                                    "GRUB_CMDLINE_XEN_DEFAULT=console=none dom0_mem=max:4096M"});
        auto result = run_process({"/bin/sh", script}, options);
        REQUIRE(result.ok());
        INFO(result->err);
        CHECK(result->succeeded() == expect_ok);
        if (result->out.empty()) return result->out;  // grub-script-check refuses an empty script
        const auto cfg = dir / "out.cfg";
        spit(cfg, result->out);
        auto checked = run_process({"grub-script-check", cfg.string()});
        REQUIRE(checked.ok());
        CHECK_MESSAGE(checked->succeeded(), checked->out << checked->err);
        return result->out;
    }
};

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("grub script: Xen entries per kernel, newest first, normal and maintenance") {
    Boot boot;
    for (const char* file : {"vmlinuz-6.1.0-56-amd64", "initrd.img-6.1.0-56-amd64", "vmlinuz-6.6.2",
                             "initramfs-6.6.2.img", "vmlinuz-6.7.0", "xen-4.17.5.gz", "xen-4.17.4.gz"})
        spit(boot.boot / file, "x");
    const std::string cfg = boot.generate();
    const std::string at = boot.grub_path();
    CHECK(count(cfg, "menuentry ") == 4);  // 6.7.0 has no initramfs: skipped
    const auto newest = cfg.find("'Qubes, with reliant (Xen 4.17.5, Linux 6.6.2)'");
    const auto older = cfg.find("'Qubes, with reliant (Xen 4.17.5, Linux 6.1.0-56-amd64)'");
    REQUIRE(newest != std::string::npos);
    REQUIRE(older != std::string::npos);
    CHECK(newest < older);
    CHECK(cfg.find("$menuentry_id_option 'reliant-6.6.2'") != std::string::npos);
    CHECK(cfg.find("$menuentry_id_option 'reliant-maintenance-6.6.2'") != std::string::npos);
    CHECK(count(cfg, "multiboot2\t" + at + "/xen-4.17.5.gz placeholder  console=none dom0_mem=max:4096M") == 4);
    CHECK(count(cfg, "module2\t--nounzip " + at + "/initramfs-6.6.2.img") == 2);
    // The normal entry: the seal from the record, loaded at boot.
    CHECK(count(cfg, "load_env --file '" + at + "/reliant/seal.env' reliant_seal reliant_seal_status") == 2);
    CHECK(cfg.find("module2\t" + at + "/vmlinuz-6.6.2 placeholder root=/dev/mapper/qubes_dom0-root ro rd.luks.uuid=luks-1 "
                   "rd.lvm.lv=qubes_dom0/root  rd.reliant=1 rd.reliant.device=PARTUUID=sflc rd.reliant.fsck=1 "
                   "rd.skipfsck ${reliant_seal}\n") != std::string::npos);
    // The maintenance entry: what seal needs, no seal, no passphrase device.
    CHECK(cfg.find("rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.base=PARTUUID=base "
                   "rd.reliant.integrity=verity rd.reliant.verity.hash=PARTUUID=hash") != std::string::npos);
    const auto maintenance = cfg.substr(cfg.find("'Qubes, reliant maintenance (Xen 4.17.5, Linux 6.6.2)'"));
    const auto body = maintenance.substr(0, maintenance.find("}\n"));
    CHECK(body.find("reliant_seal") == std::string::npos);
    CHECK(body.find("rd.reliant.device") == std::string::npos);
}

TEST_CASE("grub script: plain Linux entries without Xen, integrity none needs no record") {
    Boot boot;
    spit(boot.boot / "vmlinuz-6.1.0-56-amd64", "x");
    spit(boot.boot / "initrd.img-6.1.0-56-amd64", "x");
    std::string cfg = boot.generate();
    const std::string at = boot.grub_path();
    CHECK(count(cfg, "menuentry ") == 2);
    CHECK(cfg.find("\tlinux\t" + at + "/vmlinuz-6.1.0-56-amd64 root=/dev/mapper/qubes_dom0-root ro") !=
          std::string::npos);
    CHECK(count(cfg, "\tinitrd\t" + at + "/initrd.img-6.1.0-56-amd64") == 2);
    CHECK(cfg.find("multiboot") == std::string::npos);

    spit(boot.settings, "RELIANT_DEVICE=PARTUUID=sflc\nRELIANT_BASE=LABEL=base\nRELIANT_INTEGRITY=none\n"
                        "RELIANT_RECORD_MOUNTPOINT=" + boot.boot.string() + "\n");
    cfg = boot.generate();
    CHECK(cfg.find("load_env") == std::string::npos);
    CHECK(cfg.find("rd.skipfsck rd.reliant.base=LABEL=base rd.reliant.integrity=none\n") != std::string::npos);
}

TEST_CASE("grub script: without settings, no entries and no failure of grub-mkconfig") {
    Boot boot;
    spit(boot.boot / "vmlinuz-6.6.2", "x");
    spit(boot.boot / "initramfs-6.6.2.img", "x");
    fs::remove(boot.settings);
    CHECK(boot.generate().empty());
    spit(boot.settings, "RELIANT_BASE=x\n");
    CHECK(boot.generate().empty());
}
