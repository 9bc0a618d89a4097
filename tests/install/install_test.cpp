// reliant-install into scratch roots (--root): dry run, idempotence,
// uninstall, refusals, rollback at every step. dracut and grub-mkconfig are
// skipped here (--no-initramfs, --no-grub-mkconfig); the GRUB script they
// would run is tested on its own below.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <sstream>

#include "common/process.h"
#include "install_support.h"

using namespace reliant;
using namespace reliant::testing::install;

namespace {

struct Run {
    int status = -1;
    std::string out, err;
};

// Everything under a root: type, mode, content or link target, inode and
// mtime (so "unchanged" means untouched, not rewritten with the same bytes).
struct Entry {
    std::string what;
    ino_t inode = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const Entry&) const = default;
};
using Tree = std::map<std::string, Entry>;

Tree snapshot(const fs::path& root) {
    Tree tree;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        struct stat info {};
        REQUIRE(::lstat(it->path().c_str(), &info) == 0);
        Entry entry;
        std::ostringstream what;
        what << std::oct << (info.st_mode & 07777) << ' ';
        if (S_ISLNK(info.st_mode)) what << "link " << fs::read_symlink(it->path()).string();
        else if (S_ISDIR(info.st_mode)) what << "dir";
        else what << "file " << slurp(it->path());
        entry.what = what.str();
        entry.inode = info.st_ino;
        entry.mtime_ns = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
        if (S_ISDIR(info.st_mode)) entry.mtime_ns = 0;  // a directory's mtime follows its entries
        tree[fs::relative(it->path(), root).string()] = entry;
    }
    return tree;
}

// Same paths and contents; inodes and times may differ.
bool same_content(const Tree& a, const Tree& b) {
    if (a.size() != b.size()) return false;
    for (const auto& [path, entry] : a) {
        const auto found = b.find(path);
        if (found == b.end() || found->second.what != entry.what) return false;
    }
    return true;
}

std::string difference(const Tree& a, const Tree& b) {
    std::string out;
    for (const auto& [path, entry] : a)
        if (!b.contains(path) || b.at(path).what != entry.what) out += "- " + path + "\n";
    for (const auto& [path, entry] : b)
        if (!a.contains(path)) out += "+ " + path + "\n";
    return out;
}

struct Scratch {
    TempDir dir{reliant::testing::memory_temp_base()};  // the installer syncs at every step
    fs::path root = dir / "root";
    fs::path module = dir / "module/50reliant";
    // Small stand-ins for the built tools: the installer copies and hashes
    // them at every step, and the static tools are megabytes each.
    fs::path tools = dir / "bin";

    Scratch() {
        fs::create_directories(root / "boot");
        fs::create_directories(tools);
        for (const char* tool : {"reliant-boot", "reliant-unlock", "reliant-overlay", "reliant-healer", "reliant-session"}) {
            spit(tools / tool, std::string("#!/bin/sh\necho ") + tool + "\n");
            fs::permissions(tools / tool, fs::perms(0755));
        }
        // A module tree with a subdirectory and an executable: copied whole.
        fs::create_directories(module / "units");
        spit(module / "module-setup.sh", "#!/bin/bash\ncheck() { return 255; }\n");
        fs::permissions(module / "module-setup.sh", fs::perms(0755));
        spit(module / "units/reliant-unlock.service", "[Unit]\nDescription=test\n");
        spit(module / "generator.sh", "#!/bin/sh\n");
        fs::permissions(module / "generator.sh", fs::perms(0750));
    }

    std::vector<std::string> base_arguments() const {
        return {installer,           "--root",         root.string(), "--bin-dir", tools.string(),
                "--module-dir",      module.string(), "--no-initramfs", "--no-grub-mkconfig"};
    }
    Run run(std::vector<std::string> extra, std::vector<std::string> environment = {}) const {
        auto argv = base_arguments();
        argv.insert(argv.end(), extra.begin(), extra.end());
        ProcessOptions options;
        options.environment.insert(options.environment.end(), environment.begin(), environment.end());
        auto result = run_process(argv, options);
        REQUIRE(result.ok());
        return {result->exited ? result->exit_code : -1, result->out, result->err};
    }
    Run install(std::vector<std::string> extra = {}, std::vector<std::string> environment = {}) const {
        std::vector<std::string> argv = {"--device",        "PARTUUID=sflc", "--integrity",     "verity",
                                         "--verity-hash",   "PARTUUID=hash", "--record-device", "UUID=boot",
                                         "--record-fstype", "ext4"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run(argv, environment);
    }
};

const std::vector<std::string> expected_paths = {
    "usr/libexec/reliant/reliant-unlock",
    "usr/libexec/reliant/reliant-overlay",
    "usr/libexec/reliant/reliant-healer",
    "usr/libexec/reliant/reliant-session",
    "usr/libexec/reliant/reliant-boot",
    "usr/lib/dracut/modules.d/50reliant/module-setup.sh",
    "usr/lib/dracut/modules.d/50reliant/generator.sh",
    "usr/lib/dracut/modules.d/50reliant/units/reliant-unlock.service",
    "usr/lib/systemd/system/reliant-shutdown.service",
    "usr/lib/systemd/system/reliant-split-save.path",
    "usr/lib/systemd/system/reliant-split-save.service",
    "usr/lib/systemd/system/reliant-seal.service",
    "usr/lib/systemd/system/reliant-journal.service",
    "usr/lib/systemd/system/reliant-summary.service",
    "etc/xdg/autostart/reliant-notice.desktop",
    "etc/systemd/system/multi-user.target.wants/reliant-shutdown.service",
    "etc/systemd/system/multi-user.target.wants/reliant-seal.service",
    "etc/systemd/system/multi-user.target.wants/reliant-journal.service",
    "etc/systemd/system/multi-user.target.wants/reliant-summary.service",
    "etc/systemd/system/paths.target.wants/reliant-split-save.path",
    "usr/lib/systemd/system-shutdown/reliant-seal",
    "etc/dracut.conf.d/50-reliant.conf",
    "etc/grub.d/42_reliant",
    "usr/lib/kernel/install.d/45-reliant.install",
    "etc/default/reliant",
    "boot/reliant/seal.env",
    "usr/share/doc/reliant/install.md",
    "var/lib/reliant/install-manifest",
};

}  // namespace

TEST_CASE("install: every file in place, with its mode, links enabled, nothing else") {
    Scratch scratch;
    const Run run = scratch.install();
    INFO(run.err);
    REQUIRE(run.status == 0);
    const fs::path& root = scratch.root;
    for (const auto& path : expected_paths) CHECK_MESSAGE(fs::exists(fs::symlink_status(root / path)), path);
    CHECK(slurp(root / "usr/libexec/reliant/reliant-session") == slurp(scratch.tools / "reliant-session"));
    CHECK((fs::status(root / "usr/libexec/reliant/reliant-session").permissions() & fs::perms::all) == fs::perms(0755));
    CHECK((fs::status(root / "usr/lib/dracut/modules.d/50reliant/generator.sh").permissions() & fs::perms::all) ==
          fs::perms(0750));
    CHECK((fs::status(root / "usr/lib/systemd/system/reliant-seal.service").permissions() & fs::perms::all) ==
          fs::perms(0644));
    CHECK(slurp(root / "usr/lib/systemd/system/reliant-shutdown.service") ==
          slurp(source / "dracut/units/reliant-shutdown.service"));
    CHECK(fs::read_symlink(root / "etc/systemd/system/multi-user.target.wants/reliant-shutdown.service") ==
          "/usr/lib/systemd/system/reliant-shutdown.service");
    CHECK(fs::read_symlink(root / "usr/lib/systemd/system-shutdown/reliant-seal") ==
          "/usr/libexec/reliant/reliant-session");
    CHECK(slurp(root / "etc/dracut.conf.d/50-reliant.conf") == "add_dracutmodules+=\" reliant \"\n");
    const std::string settings = slurp(root / "etc/default/reliant");
    CHECK(settings.find("RELIANT_DEVICE='PARTUUID=sflc'\n") != std::string::npos);
    CHECK(settings.find("RELIANT_RECORD_DEVICE='UUID=boot'\n") != std::string::npos);
    // The record: a valid GRUB environment block that says "unsealed".
    auto listed = run_process({"grub-editenv", (root / "boot/reliant/seal.env").string(), "list"});
    REQUIRE(listed.ok());
    CHECK(listed->out == "reliant_seal_status=unsealed\n");

    std::set<std::string> files;
    for (const auto& [path, entry] : snapshot(root))
        if (!entry.what.starts_with("755 dir")) files.insert(path);
    CHECK(files == std::set<std::string>(expected_paths.begin(), expected_paths.end()));
}

TEST_CASE("install: --dry-run changes nothing and lists every change") {
    Scratch scratch;
    spit(scratch.root / "boot/keep", "a file of the system");
    const Tree before = snapshot(scratch.root);
    const Run dry = scratch.install({"--dry-run"});
    INFO(dry.err);
    REQUIRE(dry.status == 0);
    CHECK(snapshot(scratch.root) == before);

    REQUIRE(scratch.install().status == 0);
    const Tree after = snapshot(scratch.root);
    for (const auto& [path, entry] : after) {
        if (before.contains(path)) continue;
        const bool directory = entry.what.substr(entry.what.find(' ') + 1) == "dir";
        const std::string word = directory ? "create directory /" + path : "/" + path;
        CHECK_MESSAGE(dry.out.find(word) != std::string::npos, "not announced: " << path);
    }
    // Nothing announced that did not happen.
    std::istringstream lines(dry.out);
    std::string line;
    int announced = 0;
    while (std::getline(lines, line)) {
        ++announced;
        const auto slash = line.find(" /");
        REQUIRE_MESSAGE(slash != std::string::npos, line);
        auto path = line.substr(slash + 2);
        path = path.substr(0, path.find(' '));
        CHECK_MESSAGE(after.contains(path), line);
    }
    CHECK(announced == static_cast<int>(after.size() - before.size()));
}

TEST_CASE("install: a second run with the same arguments changes nothing") {
    Scratch scratch;
    REQUIRE(scratch.install().status == 0);
    const Tree first = snapshot(scratch.root);
    const Run again = scratch.install();
    CHECK(again.status == 0);
    CHECK(again.out.find("nothing to change") != std::string::npos);
    CHECK(snapshot(scratch.root) == first);  // not even rewritten
    // Without the settings options the earlier settings are kept.
    CHECK(scratch.run({}).status == 0);
    CHECK(snapshot(scratch.root) == first);
    CHECK(scratch.run({"--dry-run"}).out.find("nothing to change") != std::string::npos);
}

TEST_CASE("install: an update replaces changed files, removes dropped ones, keeps the seal record") {
    Scratch scratch;
    REQUIRE(scratch.install().status == 0);
    spit(scratch.root / "boot/reliant/seal.env", "a seal recorded by a maintenance boot");
    spit(scratch.module / "module-setup.sh", "#!/bin/bash\ncheck() { return 0; }\n");
    fs::remove(scratch.module / "generator.sh");
    const Run update = scratch.install();
    INFO(update.err);
    REQUIRE(update.status == 0);
    CHECK(slurp(scratch.root / "usr/lib/dracut/modules.d/50reliant/module-setup.sh") ==
          "#!/bin/bash\ncheck() { return 0; }\n");
    CHECK_FALSE(fs::exists(scratch.root / "usr/lib/dracut/modules.d/50reliant/generator.sh"));
    CHECK(slurp(scratch.root / "boot/reliant/seal.env") == "a seal recorded by a maintenance boot");
    CHECK(slurp(scratch.root / "var/lib/reliant/install-manifest").find("generator.sh") == std::string::npos);
}

TEST_CASE("uninstall: removes exactly what was installed, leaves foreign and changed files") {
    Scratch scratch;
    spit(scratch.root / "boot/vmlinuz-6.6.2", "kernel");
    fs::create_directories(scratch.root / "etc/grub.d");
    spit(scratch.root / "etc/grub.d/10_linux", "#!/bin/sh\n");
    fs::create_directories(scratch.root / "usr/lib/dracut/modules.d/90other");
    spit(scratch.root / "usr/lib/dracut/modules.d/90other/module-setup.sh", "other\n");
    const Tree before = snapshot(scratch.root);
    REQUIRE(scratch.install().status == 0);

    // A file the user added into reliant's module directory, and an edit.
    spit(scratch.root / "usr/lib/dracut/modules.d/50reliant/local.conf", "mine\n");
    const Run dry = scratch.run({"--uninstall", "--dry-run"});
    REQUIRE(dry.status == 0);
    const Tree installed = snapshot(scratch.root);
    CHECK(dry.out.find("remove /usr/libexec/reliant/reliant-session") != std::string::npos);
    const Run run = scratch.run({"--uninstall"});
    INFO(run.err);
    REQUIRE(run.status == 0);
    CHECK(installed != snapshot(scratch.root));
    Tree expected = before;
    for (const char* kept : {"usr/lib/dracut/modules.d/50reliant/local.conf", "usr/lib/dracut/modules.d/50reliant",
                             "usr/lib/dracut/modules.d", "usr/lib/dracut", "usr/lib", "usr"})
        expected[kept] = installed.at(kept);
    CHECK_MESSAGE(same_content(snapshot(scratch.root), expected), difference(expected, snapshot(scratch.root)));

    // Changed since install: kept, and said so.
    Scratch second;
    REQUIRE(second.install().status == 0);
    spit(second.root / "etc/default/reliant", "RELIANT_DEVICE=edited\n");
    const Run keep = second.run({"--uninstall"});
    REQUIRE(keep.status == 0);
    CHECK(keep.err.find("keep /etc/default/reliant") != std::string::npos);
    CHECK(slurp(second.root / "etc/default/reliant") == "RELIANT_DEVICE=edited\n");
    CHECK_FALSE(fs::exists(second.root / "usr/libexec/reliant"));
    CHECK(second.run({"--uninstall"}).status == 1);  // nothing installed any more
}

TEST_CASE("install: refuses without the tools it needs, changing nothing") {
    Scratch scratch;
    TempDir tools;
    for (const char* tool : {"bash", "cp", "mv", "rm", "ln", "mkdir", "rmdir", "readlink", "cmp", "stat", "sha256sum",
                             "chmod", "mktemp", "find", "sort", "sync", "dirname", "basename", "cat", "sed", "head", "tr",
                             "cut", "id", "chroot", "printf"})
        fs::create_symlink(find_program(tool, "/usr/bin:/bin:/usr/sbin:/sbin").value(), tools / tool);
    const Tree before = snapshot(scratch.root);
    auto argv = std::vector<std::string>{installer, "--root", scratch.root.string(), "--bin-dir", scratch.tools.string(),
                                         "--module-dir", scratch.module.string(), "--device", "PARTUUID=s",
                                         "--integrity", "hash", "--record-device", "UUID=b", "--record-fstype",
                                         "ext4"};
    ProcessOptions options;
    options.environment = {"PATH=" + tools.path().string()};
    auto result = run_process(argv, options);
    REQUIRE(result.ok());
    CHECK(result->exit_code == 1);
    CHECK(result->err.find("lacks what installing needs") != std::string::npos);
    CHECK(result->err.find("dracut") != std::string::npos);
    CHECK(result->err.find("grub2-mkconfig or grub-mkconfig") != std::string::npos);
    CHECK(snapshot(scratch.root) == before);

    // With dracut skipped, grub-mkconfig is still missing.
    argv.push_back("--no-initramfs");
    result = run_process(argv, options);
    REQUIRE(result.ok());
    CHECK(result->exit_code == 1);
    CHECK(result->err.find("dracut") == std::string::npos);
    CHECK(result->err.find("grub") != std::string::npos);
    // Skipping both, the same restricted PATH suffices.
    argv.push_back("--no-grub-mkconfig");
    result = run_process(argv, options);
    REQUIRE(result.ok());
    CHECK_MESSAGE(result->exit_code == 0, result->err);
}

TEST_CASE("install: refuses bad settings and a foreign file at its paths, changing nothing") {
    Scratch scratch;
    const Tree before = snapshot(scratch.root);
    CHECK(scratch.run({"--integrity", "verity", "--record-device", "U", "--record-fstype", "ext4"}).status == 1);
    CHECK(scratch.run({"--device", "D", "--integrity", "verity", "--record-device", "U", "--record-fstype", "ext4"})
              .err.find("--verity-hash") != std::string::npos);
    CHECK(scratch.run({"--device", "D", "--integrity", "sometimes", "--record-device", "U", "--record-fstype", "x"})
              .status == 1);
    CHECK(scratch.run({"--device", "D'", "--integrity", "hash", "--record-device", "U", "--record-fstype", "x"})
              .status == 1);
    CHECK(snapshot(scratch.root) == before);

    fs::create_directories(scratch.root / "etc/grub.d");
    spit(scratch.root / "etc/grub.d/42_reliant", "somebody else's\n");
    const Tree with_foreign = snapshot(scratch.root);
    const Run refused = scratch.install();
    CHECK(refused.status == 1);
    CHECK(refused.err.find("/etc/grub.d/42_reliant exists and was not installed by") != std::string::npos);
    CHECK(snapshot(scratch.root) == with_foreign);
}

namespace {

// Fails the installer at step `first`, first + stride, ... until a run
// succeeds: after every failure the tree is exactly as before.
void check_rollback_at_every_step(bool update, int first, int stride = 2) {
    Scratch scratch;
    if (update) {
        REQUIRE(scratch.install().status == 0);
        spit(scratch.module / "module-setup.sh", "#!/bin/bash\n# v2\n");
        fs::remove(scratch.module / "generator.sh");
        spit(scratch.module / "units/new.service", "[Unit]\n");
    }
    const Tree before = snapshot(scratch.root);
    int step = first;
    for (;; step += stride) {
        const Run run = scratch.install({}, {"RELIANT_INSTALL_FAIL_AT=" + std::to_string(step)});
        if (run.status == 0) break;
        REQUIRE_MESSAGE(run.status == 1, run.err);
        CHECK(run.err.find("injected failure at step " + std::to_string(step)) != std::string::npos);
        CHECK(run.err.find("everything was rolled back") != std::string::npos);
        const Tree after = snapshot(scratch.root);
        CHECK_MESSAGE(same_content(after, before), "step " << step << ":\n" << difference(before, after));
        REQUIRE(step < 200);
    }
    CHECK(step > (update ? 3 : 30));  // the failures really were spread over the whole run
    CHECK(snapshot(scratch.root) != before);
}

}  // namespace

// Three cases, so that ctest -j2 runs them side by side: each run installs
// up to the failing step, so the fresh install's cost grows with the square
// of its steps, and its odd and even steps are two cases.
TEST_CASE("install: a failure at any odd step of a fresh install rolls back to exactly the state before") {
    check_rollback_at_every_step(false, 1);
}

TEST_CASE("install: a failure at any even step of a fresh install rolls back to exactly the state before") {
    check_rollback_at_every_step(false, 2);
}

TEST_CASE("install: a failure at any step of an update rolls back to exactly the state before") {
    check_rollback_at_every_step(true, 1, 1);
}

TEST_CASE("the installer, the GRUB script and the test helper pass shellcheck") {
    for (const auto& [script, shell] : std::vector<std::pair<std::string, std::string>>{
             {"dracut/install/reliant-install", "bash"},
             {"dracut/install/42_reliant", "sh"},
             {"dracut/install/45-reliant.install", "bash"},
             {"tests/install/scratch-system.sh", "bash"}}) {
        auto checked = run_process({"shellcheck", "-s", shell, (source / script).string()});
        REQUIRE(checked.ok());
        CHECK_MESSAGE(checked->succeeded(), script << ":\n" << checked->out);
    }
}
