// reliant-install with the real dracut: into a scratch system (overlays of
// the host's /usr, /etc, /var; the e2e kernel), where the installer runs
// dracut with chroot as it does for any --root. Checks what the initramfs
// holds after an install, an idempotent rerun, a dracut failure in the middle
// of an update (rolled back: files and image as before), the update, and the
// uninstall. Root (mounts, chroot): label integration.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/process.h"
#include "install_support.h"

using namespace reliant;
using namespace reliant::testing::install;

namespace {
const std::string scratch_script = (source / "tests/install/scratch-system.sh").string();

ProcessResult must_run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::minutes(10)) {
    ProcessOptions options;
    options.timeout = timeout;
    auto result = run_process(argv, options);
    REQUIRE(result.ok());
    return *result;
}

std::string field(const std::string& json, const std::string& name) {
    const auto key = "\"" + name + "\": \"";
    const auto at = json.find(key);
    REQUIRE_MESSAGE(at != std::string::npos, json);
    const auto start = at + key.size();
    return json.substr(start, json.find('"', start) - start);
}

struct ScratchSystem {
    TempDir dir;
    fs::path root = dir / "system";
    std::string kver;

    ScratchSystem() {
        REQUIRE_MESSAGE(::geteuid() == 0, "integration tests run as root");
        const auto kernel = must_run({"/usr/bin/python3", (source / "tests/e2e/harness/e2e.py").string(), "--cache",
                                      reliant::testing::binary_dir() + "/e2e/cache", "kernel"});
        REQUIRE_MESSAGE(kernel.succeeded(), kernel.err);
        kver = field(kernel.out, "kver");
        const auto up = must_run({scratch_script, "up", root.string(), kver,
                                  field(kernel.out, "root") + "/lib/modules/" + kver, field(kernel.out, "vmlinuz")});
        REQUIRE_MESSAGE(up.succeeded(), up.err);
    }
    ~ScratchSystem() { (void)run_process({scratch_script, "down", root.string()}); }

    fs::path image() const { return root / ("boot/initrd.img-" + kver); }
};

// The test module: a marker file and reliant-session, nothing else.
void write_module(const fs::path& module, const std::string& marker) {
    fs::create_directories(module);
    spit(module / "module-setup.sh",
         "#!/bin/bash\n"
         "check() { return 255; }\n"
         "depends() { return 0; }\n"
         "install() {\n"
         "    inst_binary /usr/libexec/reliant/reliant-session\n"
         "    inst_simple \"$moddir/marker\" /etc/reliant-test-marker\n"
         "}\n");
    fs::permissions(module / "module-setup.sh", fs::perms(0755));
    spit(module / "marker", marker);
}

ProcessResult install(const ScratchSystem& system, const fs::path& module, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {installer, "--root", system.root.string(), "--bin-dir", bin_dir,
                                     "--module-dir", module.string(), "--device", "PARTUUID=sflc",
                                     "--integrity", "hash", "--record-device", "UUID=boot", "--record-fstype",
                                     "ext4", "--no-grub-mkconfig",
                                     // A small initramfs: base and what the configuration adds (reliant).
                                     "--dracut-option", "--no-hostonly", "--dracut-option", "--modules",
                                     "--dracut-option", "base"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return must_run(argv);
}

std::string listing(const fs::path& image) {
    const auto listed = must_run({"lsinitrd", image.string()});
    REQUIRE_MESSAGE(listed.succeeded(), listed.err);
    return listed.out;
}

std::string marker_in(const fs::path& image) {
    return must_run({"lsinitrd", "-f", "etc/reliant-test-marker", image.string()}).out;
}

struct Stamp {
    ino_t inode;
    std::int64_t mtime_ns;
    bool operator==(const Stamp&) const = default;
};
Stamp stamp(const fs::path& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return {info.st_ino, static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

}  // namespace

TEST_CASE("install with dracut: the initramfs carries the module, a failing dracut rolls back, uninstall removes it") {
    ScratchSystem system;
    TempDir modules;
    const fs::path module = modules / "50reliant";
    write_module(module, "v1\n");

    // Install: the initramfs is built in the scratch system by its dracut.
    auto run = install(system, module);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(run.err.find("rebuilding the initramfs of " + system.kver) != std::string::npos);
    REQUIRE(fs::exists(system.image()));
    const std::string listed = listing(system.image());
    CHECK(listed.find("usr/libexec/reliant/reliant-session") != std::string::npos);
    CHECK(listed.find("reliant") != std::string::npos);
    CHECK(marker_in(system.image()) == "v1\n");
    const std::string v1_image = slurp(system.image());
    const Stamp v1_stamp = stamp(system.image());

    // Again: nothing to do, dracut does not run, the image is untouched.
    run = install(system, module);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("nothing to change") != std::string::npos);
    CHECK(stamp(system.image()) == v1_stamp);

    // An update whose dracut run fails: everything back as it was.
    write_module(module, "v2\n");
    run = install(system, module, {"--dracut-option", "--add", "--dracut-option", "reliant-no-such-module"});
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("everything was rolled back") != std::string::npos);
    CHECK(slurp(system.root / "usr/lib/dracut/modules.d/50reliant/marker") == "v1\n");
    CHECK(slurp(system.image()) == v1_image);
    CHECK_FALSE(fs::exists(system.root / ("boot/.reliant-new.initrd.img-" + system.kver)));
    CHECK_FALSE(fs::exists(system.root / "usr/lib/dracut/modules.d/50reliant/.reliant-old.marker"));

    // The update itself.
    run = install(system, module);
    REQUIRE(run.exit_code == 0);
    CHECK(marker_in(system.image()) == "v2\n");

    // Uninstall: the initramfs is rebuilt without the module.
    run = must_run({installer, "--root", system.root.string(), "--uninstall", "--no-grub-mkconfig",
                    "--dracut-option", "--no-hostonly", "--dracut-option", "--modules", "--dracut-option", "base"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    const std::string after = listing(system.image());
    CHECK(after.find("reliant-session") == std::string::npos);
    CHECK(after.find("reliant-test-marker") == std::string::npos);
    CHECK_FALSE(fs::exists(system.root / "usr/lib/dracut/modules.d/50reliant"));
    CHECK_FALSE(fs::exists(system.root / "etc/dracut.conf.d/50-reliant.conf"));
}
