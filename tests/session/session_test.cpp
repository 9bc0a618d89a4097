// reliant-session's commands with scripted processes, device-mapper and
// mounts, plus the split against the real healer binary.
#include "session/session.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <optional>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "session/grub_env.h"
#include "shufflecake-glue/fakes.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::session;
using reliant::testing::FakeDeviceMapper;
using reliant::testing::FakeMountTable;
using reliant::testing::FakeRunner;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;

namespace {

const std::string healer_path = reliant::testing::binary_dir() + "/healer/reliant-healer";
const std::string session_path = reliant::testing::binary_dir() + "/session/reliant-session";
const std::string small_fixture = reliant::testing::test_data_dir() + "/fixtures/system-small.xml";
const std::string fake_notify_send = reliant::testing::source_dir() + "/tests/fixtures/fake-notify-send/notify-send";
const std::string normal_cmdline = "quiet rd.reliant=1 rd.reliant.device=PARTUUID=sflc root=UUID=base\n";
const std::string maintenance_cmdline =
    "rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.base=PARTUUID=base rd.reliant.integrity=verity\n";
const std::string seal_line =
    "rd.reliant.base=PARTUUID=base rd.reliant.integrity=verity "
    "rd.reliant.verity.roothash=9bd8f4d6c1e6f2f8a0a4b9b6f7c8e9d0a1b2c3d4e5f60718293a4b5c6d7e8f90";

struct Fixture {
    TempDir dir;
    Paths paths;
    std::ostringstream out;
    Fixture(const std::string& cmdline) {
        paths.cmdline = dir / "cmdline";
        paths.run_dir = dir / "run";
        paths.qubes_xml = dir / "qubes.xml";
        paths.volume_root = paths.shard_root = dir / "shufflecake";
        paths.healer = "/usr/libexec/reliant/reliant-healer";
        paths.overlay = "/usr/libexec/reliant/reliant-overlay";
        paths.settings = dir / "default-reliant";
        spit(paths.cmdline, cmdline);
        std::filesystem::create_directories(paths.run_dir);
    }
};

// Device specs of the tests: the Shufflecake device, the base, /boot.
DeviceResolver fake_resolver() {
    return [](const std::string& spec) -> Result<BlockDevice> {
        if (spec == "PARTUUID=sflc") return BlockDevice{"/dev/vdb", reliant::testing::backing_device};
        if (spec == "PARTUUID=base" || spec == "UUID=base") return BlockDevice{"/dev/vda2", makedev(254, 2)};
        if (spec == "UUID=boot") return BlockDevice{"/dev/vda1", makedev(254, 1)};
        return Error("no such device: " + spec, ENOENT);
    };
}

class FakeMounter final : public Mounter {
public:
    Status mount(const std::filesystem::path& device, const std::filesystem::path& target,
                 const std::string& fstype) override {
        calls.push_back("mount " + device.string() + " " + target.filename().string() + " " + fstype);
        if (refuse_mount) return Error("mount refused", EIO);
        mounted = true;
        return success();
    }
    Status unmount(const std::filesystem::path& target) override {
        calls.push_back("umount " + target.filename().string());
        mounted = false;
        return success();
    }
    std::vector<std::string> calls;
    bool mounted = false;
    bool refuse_mount = false;
};

const std::string record_settings =
    "RELIANT_RECORD_DEVICE=UUID=boot\nRELIANT_RECORD_FSTYPE=ext4\nRELIANT_RECORD_PATH=reliant/seal.env\n";

}  // namespace

TEST_CASE("boot kind from the command line") {
    TempDir dir;
    const auto check = [&](const std::string& cmdline, BootKind expected) {
        spit(dir / "cmdline", cmdline);
        auto kind = boot_kind(dir / "cmdline");
        REQUIRE(kind.ok());
        CHECK_MESSAGE(*kind == expected, cmdline);
    };
    check("quiet root=/dev/sda1", BootKind::other);
    check("rd.reliant=0 rd.reliant.mode=maintenance", BootKind::other);
    check("rd.reliant=1", BootKind::normal);
    check("rd.reliant rd.reliant.mode=normal", BootKind::normal);
    check("rd.reliant=1 rd.reliant.mode=maintenance", BootKind::maintenance);
    spit(dir / "cmdline", "rd.reliant=1 rd.reliant.mode=sideways");
    CHECK_FALSE(boot_kind(dir / "cmdline").ok());
}

TEST_CASE("split: the healer's command line, under the lock, output passed on") {
    Fixture fixture(normal_cmdline);
    spit(fixture.paths.merge_report(), "{}");
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        auto result = FakeRunner::exit_with(0);
        result.out = "reliant-healer split: 2 shard(s) written, 0 kept, 0 not written\n";
        return result;
    };
    REQUIRE(split_once(fixture.paths, runner, fixture.out).ok());
    REQUIRE(runner.calls.size() == 1);
    const auto run = fixture.paths.run_dir.string();
    const auto volumes = fixture.paths.volume_root.string();
    CHECK(runner.calls[0].argv ==
          std::vector<std::string>{"/usr/libexec/reliant/reliant-healer", "split", "--in",
                                   fixture.paths.qubes_xml.string(), "--base-out", run + "/split/qubes.xml",
                                   "--shard-root", volumes, "--volume-root", volumes, "--merge-report",
                                   run + "/heal-report.json", "--report", run + "/split-report.json"});
    CHECK(fixture.out.str() == "reliant-healer split: 2 shard(s) written, 0 kept, 0 not written\n");
    CHECK(std::filesystem::is_directory(fixture.paths.run_dir / "split"));
    CHECK(std::filesystem::exists(fixture.paths.split_lock()));
}

TEST_CASE("split: refused when this boot did not merge, a failing healer is an error") {
    Fixture fixture(normal_cmdline);
    FakeRunner runner;
    auto refused = split_once(fixture.paths, runner, fixture.out);
    CHECK_FALSE(refused.ok());
    CHECK(runner.calls.empty());

    spit(fixture.paths.merge_report(), "{}");
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> { return FakeRunner::exit_with(1); };
    CHECK_FALSE(split_once(fixture.paths, runner, fixture.out).ok());
}

TEST_CASE("split: with the real healer, after a real merge, the shards are rewritten as they were") {
    Fixture fixture(normal_cmdline);
    const auto base = fixture.dir / "base.xml";
    const auto shards = fixture.paths.shard_root;
    for (const char* volume : {"sflc_0_0", "sflc_0_1", "sflc_0_2"}) std::filesystem::create_directories(shards / volume);
    const std::vector<std::string> host = {"--pci-root-buses", "0000:00", "--root", "/nonexistent-root"};
    // The system as it would be on disk: split once from the whole file.
    std::vector<std::string> first = {healer_path, "split", "--in", small_fixture, "--base-out", base.string(),
                                      "--shard-root", shards.string()};
    first.insert(first.end(), host.begin(), host.end());
    REQUIRE(run_process(first)->succeeded());
    // The boot: merge into the running qubes.xml, with the report.
    std::vector<std::string> merge = {healer_path, "merge", "--base", base.string(), "--shard-root",
                                      shards.string(), "--out", fixture.paths.qubes_xml.string(),
                                      "--report", fixture.paths.merge_report().string()};
    merge.insert(merge.end(), host.begin(), host.end());
    REQUIRE(run_process(merge)->succeeded());

    std::map<std::string, std::pair<std::string, ino_t>> before;
    for (const char* volume : {"sflc_0_1", "sflc_0_2"}) {
        const auto shard = shards / volume / "qubes.xml";
        struct stat info {};
        REQUIRE(::stat(shard.c_str(), &info) == 0);
        before[volume] = {slurp(shard), info.st_ino};
    }
    // Only the shard root is a temporary directory: the pools' dir_paths
    // name the real volume root, which ownership is decided by.
    fixture.paths.volume_root = "/run/shufflecake";
    fixture.paths.healer = healer_path;
    fixture.paths.healer_options = host;
    shufflecake::SystemCommandRunner runner;
    auto status = split_once(fixture.paths, runner, fixture.out);
    INFO(fixture.out.str());
    REQUIRE(status.ok());
    CHECK(fixture.out.str().find("2 shard(s) written") != std::string::npos);
    for (const auto& [volume, old] : before) {
        const auto shard = shards / volume / "qubes.xml";
        struct stat info {};
        REQUIRE(::stat(shard.c_str(), &info) == 0);
        CHECK(slurp(shard) == old.first);
        CHECK(info.st_ino != old.second);  // written anew (atomically), not left alone
    }
    CHECK(std::filesystem::exists(fixture.paths.split_base_out()));
    CHECK(std::filesystem::exists(fixture.paths.split_report()));
}

TEST_CASE("close: the volumes on rd.reliant.device, unmounted then removed, most secret first") {
    Fixture fixture(normal_cmdline);
    FakeDeviceMapper dm;
    FakeMountTable mounts;
    dm.add("sflc_0_0");
    dm.add("sflc_0_1");
    dm.add("sflc_0_2");
    dm.add("sflc_1_0", reliant::testing::other_device);  // another device's: left alone
    dm.add("reliant-base", reliant::testing::backing_device, "verity");
    mounts.mounts[dm.devices["sflc_0_0"].number] = {"/run/shufflecake/sflc_0_0"};
    mounts.mounts[dm.devices["sflc_0_2"].number] = {"/run/shufflecake/sflc_0_2", "/mnt/again"};
    REQUIRE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {}, fixture.out).ok());
    CHECK(dm.removed == std::vector<std::string>{"sflc_0_2", "sflc_0_1", "sflc_0_0"});
    CHECK(mounts.unmounted ==
          std::vector<std::string>{"/run/shufflecake/sflc_0_2", "/mnt/again", "/run/shufflecake/sflc_0_0"});
    CHECK(dm.devices.contains("sflc_1_0"));
    CHECK(dm.devices.contains("reliant-base"));
    CHECK(fixture.out.str().find("sflc") == std::string::npos);  // never names a volume
}

TEST_CASE("close: a busy volume stays, the others close, and the failure is reported") {
    Fixture fixture(normal_cmdline);
    FakeDeviceMapper dm;
    FakeMountTable mounts;
    dm.add("sflc_0_0");
    dm.add("sflc_0_1");
    mounts.mounts[dm.devices["sflc_0_1"].number] = {"/run/shufflecake/sflc_0_1"};
    mounts.refuse.insert("/run/shufflecake/sflc_0_1");
    CHECK_FALSE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {}, fixture.out).ok());
    CHECK(dm.removed == std::vector<std::string>{"sflc_0_0"});
}

TEST_CASE("close: the test stand-in's target type only when asked, inert outside normal reliant boots") {
    Fixture fixture(normal_cmdline);
    FakeDeviceMapper dm;
    FakeMountTable mounts;
    dm.add("sflc_0_0", reliant::testing::backing_device, "crypt");
    REQUIRE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {}, fixture.out).ok());
    CHECK(dm.removed.empty());
    REQUIRE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {"crypt"}, fixture.out).ok());
    CHECK(dm.removed == std::vector<std::string>{"sflc_0_0"});

    for (const char* cmdline : {"quiet", "rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.device=PARTUUID=sflc"}) {
        spit(fixture.paths.cmdline, cmdline);
        dm.add("sflc_0_1");
        REQUIRE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {}, fixture.out).ok());
        CHECK(dm.devices.contains("sflc_0_1"));
    }
    spit(fixture.paths.cmdline, "rd.reliant=1 rd.reliant.device=PARTUUID=gone");
    CHECK_FALSE(close_volumes(fixture.paths, fake_resolver(), dm, mounts, {}, fixture.out).ok());
}

TEST_CASE("seal arguments: one line of rd.reliant.* words, with the integrity mode") {
    CHECK(checked_seal_arguments(seal_line + "\n").value() == seal_line);
    for (const char* bad :
         {"", "\n", "rd.reliant.base=x", "rd.reliant.integrity=verity init=/bin/sh",
          "rd.reliant.integrity=verity  rd.reliant.base=x", "rd.reliant.integrity=verity\nrd.reliant.base=x",
          "rd.reliant.integrity=verity rd.reliant.base=$(x)", "rd.reliant.integrity=verity rd.reliant.base"})
        CHECK_MESSAGE(!checked_seal_arguments(bad).ok(), bad);
}

TEST_CASE("seal-arm: checks the settings and the record device, then arms") {
    Fixture fixture(maintenance_cmdline);
    CHECK_FALSE(arm_seal(fixture.paths, fake_resolver(), fixture.out).ok());  // no settings file
    spit(fixture.paths.settings, "RELIANT_RECORD_DEVICE=UUID=nowhere\nRELIANT_RECORD_FSTYPE=ext4\n");
    CHECK_FALSE(arm_seal(fixture.paths, fake_resolver(), fixture.out).ok());
    spit(fixture.paths.settings, "RELIANT_RECORD_DEVICE=PARTUUID=base\nRELIANT_RECORD_FSTYPE=ext4\n");
    auto same = arm_seal(fixture.paths, fake_resolver(), fixture.out);
    REQUIRE_FALSE(same.ok());
    CHECK(same.error().describe().find("outside the base") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(fixture.paths.seal_armed()));

    spit(fixture.paths.settings, record_settings);
    REQUIRE(arm_seal(fixture.paths, fake_resolver(), fixture.out).ok());
    CHECK(std::filesystem::exists(fixture.paths.seal_armed()));
}

TEST_CASE("seal-arm: inert in normal and non-reliant boots") {
    for (const std::string& cmdline : {normal_cmdline, std::string("quiet")}) {
        Fixture fixture(cmdline);
        REQUIRE(arm_seal(fixture.paths, fake_resolver(), fixture.out).ok());
        CHECK_FALSE(std::filesystem::exists(fixture.paths.seal_armed()));
    }
}

TEST_CASE("seal: seals, records reliant_seal for GRUB, unmounts") {
    Fixture fixture(maintenance_cmdline);
    spit(fixture.paths.settings, record_settings);
    spit(fixture.paths.seal_armed(), "armed\n");
    FakeRunner runner;
    const auto args_file = fixture.paths.seal_args();
    runner.on_run = [&](const FakeRunner::Call&) -> Result<ProcessResult> {
        spit(args_file, seal_line + "\n");
        auto result = FakeRunner::exit_with(0);
        result.out = seal_line + "\n";
        return result;
    };
    FakeMounter mounter;
    REQUIRE(seal_and_record(fixture.paths, fake_resolver(), runner, mounter, {}, fixture.out).ok());
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0].argv == std::vector<std::string>{"/usr/libexec/reliant/reliant-overlay", "--cmdline",
                                                           fixture.paths.cmdline.string(), "seal", "--record",
                                                           args_file.string()});
    CHECK(runner.calls[0].timeout == std::chrono::milliseconds(75000));
    CHECK(mounter.calls == std::vector<std::string>{"mount /dev/vda1 record ext4", "umount record"});
    const auto record = slurp(fixture.paths.record_mount() / "reliant/seal.env");
    CHECK(record.size() == 1024);
    auto env = GrubEnv::parse(record);
    REQUIRE(env.ok());
    CHECK(env->get("reliant_seal") == seal_line);
    CHECK(env->get("reliant_seal_status") == "sealed");
}

TEST_CASE("seal: a failed seal keeps the previous seal, records the failure, still unmounts") {
    Fixture fixture(maintenance_cmdline);
    spit(fixture.paths.settings, record_settings);
    spit(fixture.paths.seal_armed(), "armed\n");
    const auto record = fixture.paths.record_mount() / "reliant/seal.env";
    std::filesystem::create_directories(record.parent_path());
    GrubEnv previous;
    REQUIRE(previous.set("reliant_seal", seal_line).ok());
    REQUIRE(previous.set("other", "kept").ok());
    spit(record, *previous.render());
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        auto result = FakeRunner::exit_with(1);
        result.err = "reliant-overlay: seal: the base is mounted read-write\n";
        return result;
    };
    FakeMounter mounter;
    CHECK_FALSE(seal_and_record(fixture.paths, fake_resolver(), runner, mounter, {}, fixture.out).ok());
    CHECK_FALSE(mounter.mounted);
    auto env = GrubEnv::parse(slurp(record));
    REQUIRE(env.ok());
    CHECK(env->get("reliant_seal") == seal_line);
    CHECK(env->get("reliant_seal_status") == "failed");
    CHECK(env->get("other") == "kept");
    CHECK(fixture.out.str().find("mounted read-write") != std::string::npos);
}

TEST_CASE("seal: implausible output of the seal is not recorded") {
    Fixture fixture(maintenance_cmdline);
    spit(fixture.paths.settings, record_settings);
    spit(fixture.paths.seal_armed(), "armed\n");
    FakeRunner runner;
    runner.on_run = [&](const FakeRunner::Call&) -> Result<ProcessResult> {
        spit(fixture.paths.seal_args(), "rd.reliant.integrity=verity init=/bin/sh\n");
        return FakeRunner::exit_with(0);
    };
    FakeMounter mounter;
    CHECK_FALSE(seal_and_record(fixture.paths, fake_resolver(), runner, mounter, {}, fixture.out).ok());
    auto env = GrubEnv::parse(slurp(fixture.paths.record_mount() / "reliant/seal.env"));
    REQUIRE(env.ok());
    CHECK_FALSE(env->get("reliant_seal").has_value());
    CHECK(env->get("reliant_seal_status") == "failed");
}

TEST_CASE("seal: nothing happens unless this is an armed maintenance boot") {
    for (const auto& [cmdline, armed] : std::vector<std::pair<std::string, bool>>{
             {maintenance_cmdline, false}, {normal_cmdline, true}, {"quiet", true}}) {
        Fixture fixture(cmdline);
        spit(fixture.paths.settings, record_settings);
        if (armed) spit(fixture.paths.seal_armed(), "armed\n");
        FakeRunner runner;
        FakeMounter mounter;
        REQUIRE(seal_and_record(fixture.paths, fake_resolver(), runner, mounter, {}, fixture.out).ok());
        CHECK(runner.calls.empty());
        CHECK(mounter.calls.empty());
    }
}

TEST_CASE("reliant-session: usage errors, inert commands, and the shutdown-hook name") {
    TempDir dir;
    spit(dir / "cmdline", "quiet\n");
    const auto run = [&](std::vector<std::string> argv) {
        auto result = run_process(argv);
        REQUIRE(result.ok());
        return *result;
    };
    CHECK(run({session_path}).exit_code == 2);
    CHECK(run({session_path, "dance"}).exit_code == 2);
    CHECK(run({session_path, "--no-such-option", "split"}).exit_code == 2);
    const auto cmdline = "--cmdline=" + (dir / "cmdline").string();
    for (const char* command : {"split", "close", "seal-arm", "seal"}) {
        const auto result = run({session_path, cmdline, "--run-dir", (dir / "run").string(), command});
        CHECK_MESSAGE(result.exit_code == 0, command << ": " << result.err);
        CHECK(result.out.find("nothing to") != std::string::npos);
    }
    spit(dir / "cmdline", normal_cmdline);
    const auto debounced = run({session_path, cmdline, "--run-dir", (dir / "run").string(), "split", "--debounce",
                                "--quiet-ms", "soon"});
    CHECK(debounced.exit_code == 2);
    // Without a merge report the split refuses: exit 1.
    CHECK(run({session_path, cmdline, "--run-dir", (dir / "run").string(), "split"}).exit_code == 1);

    // As /usr/lib/systemd/system-shutdown/reliant-seal: systemd-shutdown passes
    // the verb; the command is seal, which is inert outside maintenance boots
    // (this host's /proc/cmdline has no rd.reliant).
    std::filesystem::create_symlink(session_path, dir / "reliant-seal");
    const auto hook = run({(dir / "reliant-seal").string(), "poweroff"});
    CHECK(hook.exit_code == 0);
    CHECK(hook.out.find("nothing to seal") != std::string::npos);
}

TEST_CASE("journal: the healer's command line, refused outside maintenance boots, record inert there") {
    Fixture fixture(maintenance_cmdline);
    fixture.paths.base_journal = "/var/lib/reliant/base-journal.json";
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        auto result = FakeRunner::exit_with(0);
        result.out = "reliant-healer journal: removed TemplateVM debian-12-xfce\n";
        return result;
    };
    REQUIRE(run_journal_action(fixture.paths, runner, {"record"}, fixture.out).ok());
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0].argv == std::vector<std::string>{"/usr/libexec/reliant/reliant-healer", "journal", "--base",
                                                      fixture.paths.qubes_xml.string(), "--journal",
                                                      "/var/lib/reliant/base-journal.json", "record"});
    CHECK(fixture.out.str() == "reliant-healer journal: removed TemplateVM debian-12-xfce\n");

    spit(fixture.paths.cmdline, normal_cmdline);
    fixture.out.str("");
    REQUIRE(run_journal_action(fixture.paths, runner, {"record"}, fixture.out).ok());
    CHECK(fixture.out.str().find("not a maintenance boot; nothing to record") != std::string::npos);
    const Status refused = run_journal_action(fixture.paths, runner, {"successor", "a", "b"}, fixture.out);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == EROFS);
    CHECK(refused.error().describe().find("reboot into reliant's maintenance entry") != std::string::npos);
    CHECK(runner.calls.size() == 1);  // the healer ran for the maintenance boot only
}

TEST_CASE("journal: reliant-session journal and successor with the real healer, as in a maintenance boot") {
    TempDir dir;
    spit(dir / "cmdline", maintenance_cmdline);
    const auto base = dir / "qubes.xml";
    spit(base, slurp(small_fixture));
    const auto journal = dir / "lib-reliant" / "base-journal.json";
    const auto session = [&](std::vector<std::string> words) {
        std::vector<std::string> argv{session_path, "--cmdline", (dir / "cmdline").string(), "--qubes-xml",
                                      base.string(), "--healer", healer_path, "--base-journal", journal.string()};
        argv.insert(argv.end(), words.begin(), words.end());
        auto result = run_process(argv);
        REQUIRE(result.ok());
        return *result;
    };
    auto result = session({"journal"});  // reliant-journal.service at boot
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(std::filesystem::is_regular_file(journal));
    // qvm-clone debian-12-xfce bookworm-xfce; qvm-remove debian-12-xfce (qubesd saves).
    std::string replaced = slurp(small_fixture);
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {">debian-12-xfce<", ">bookworm-xfce<"},
             {"vm-debian-12-xfce-", "vm-bookworm-xfce-"},
             {"94b2b8fd-a02f-44a6-b95b-929e9a9a80fd", "b0b0b0b0-1111-4222-8333-444455556666"}})
        for (auto at = replaced.find(from); at != std::string::npos; at = replaced.find(from, at + to.size()))
            replaced.replace(at, from.size(), to);
    spit(base, replaced);
    result = session({"successor", "debian-12-xfce", "bookworm-xfce"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(result.out.find("bookworm-xfce takes the place of debian-12-xfce") != std::string::npos);
    result = session({"successor"});
    CHECK(result.out.find("removed TemplateVM debian-12-xfce\ncreated TemplateVM bookworm-xfce\n") != std::string::npos);
    CHECK(result.out.find("successor of debian-12-xfce: bookworm-xfce") != std::string::npos);
    result = session({"successor", "debian-12-xfce", "sys-firewall"});
    CHECK(result.exit_code == 1);
    CHECK((result.out + result.err).find("a successor takes the same role") != std::string::npos);
    CHECK(session({"successor", "just-one"}).exit_code == 2);
    CHECK(session({"successor", "--forget", "debian-12-xfce", "extra"}).exit_code == 2);
    result = session({"successor", "--forget", "debian-12-xfce"});
    CHECK(result.exit_code == 0);
    CHECK(session({"successor"}).out.find("successor of") == std::string::npos);

    // In a normal boot the base is read-only: refused, with what to do.
    spit(dir / "cmdline", normal_cmdline);
    result = session({"successor", "debian-12-xfce", "bookworm-xfce"});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("only in maintenance mode") != std::string::npos);
    CHECK(session({"journal"}).exit_code == 0);
}

TEST_CASE("summary and notice: counts for all at boot, a desktop notice after login through notify-send") {
    TempDir dir;
    spit(dir / "cmdline", normal_cmdline);
    const auto run_dir = dir / "run";
    std::filesystem::create_directories(run_dir);
    // The stand-in for notify-send (tests/fixtures/fake-notify-send) records
    // its arguments and the bus it was given in $HOME/notify-calls.
    const auto calls = dir / "notify-calls";
    const auto session = [&](std::vector<std::string> words, std::vector<std::string> environment = {}) {
        std::vector<std::string> argv{session_path, "--cmdline", (dir / "cmdline").string(), "--run-dir",
                                      run_dir.string(), "--notify-send", fake_notify_send};
        argv.insert(argv.end(), words.begin(), words.end());
        ProcessOptions options;
        options.environment.push_back("HOME=" + dir.path().string());
        options.environment.insert(options.environment.end(), environment.begin(), environment.end());
        auto result = run_process(argv, options);
        REQUIRE(result.ok());
        return *result;
    };
    // No merge this boot: no summary, and no notice.
    CHECK(session({"summary"}).exit_code == 0);
    CHECK_FALSE(std::filesystem::exists(run_dir / "summary"));
    CHECK(session({"notice"}).exit_code == 0);
    CHECK_FALSE(std::filesystem::exists(calls));

    spit(run_dir / "heal-report.json",
         R"({"operation":"merge","base_changes":[],"shards":[{"volume":"sflc_0_1","status":"merged","changes":[{"qube":"press","kind":"heuristic","note":"prohibit-start set: the default template"}]}]})");
    auto result = session({"summary"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(slurp(run_dir / "summary") == "frozen=0\nreview=1\nchanges=0\nlost=0\n");
    CHECK((std::filesystem::status(run_dir / "summary").permissions() & std::filesystem::perms::all) ==
          std::filesystem::perms(0644));
    result = session({"notice"}, {"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(slurp(calls) ==
          "--app-name=reliant\n--urgency=normal\n--icon=dialog-warning\nreliant: qubes changed at boot\n"
          "1 qube may not start until reviewed. In a terminal: sudo reliant-session status\n"
          "bus=unix:path=/run/user/1000/bus\n");
    CHECK(slurp(calls).find("press") == std::string::npos);  // names no qube

    // A summary that is not reliant's is refused, not shown.
    spit(run_dir / "summary", "frozen=0\nreview=1\nchanges=0\nlost=0\nsecret=press\n");
    std::filesystem::remove(calls);
    CHECK(session({"notice"}).exit_code == 1);
    CHECK_FALSE(std::filesystem::exists(calls));
    // notify-send failing is reported.
    spit(run_dir / "summary", "frozen=1\nreview=0\nchanges=0\nlost=0\n");
    spit(dir / "notify-exit", "4");
    result = session({"notice"});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("exited with status 4") != std::string::npos);
}

TEST_CASE("repair: the healer's command line in a normal boot, refused in others") {
    Fixture fixture(normal_cmdline);
    FakeRunner runner;
    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        auto result = FakeRunner::exit_with(0);
        result.out = "reliant-healer repair: sflc_0_2: renamed 'work' to 'work-2', and 0 mention(s) of it in the shard\n";
        return result;
    };
    REQUIRE(run_repair(fixture.paths, runner, {"sflc_0_2", "rename", "work", "work-2"}, fixture.out).ok());
    REQUIRE(runner.calls.size() == 1);
    const auto volumes = fixture.paths.volume_root.string();
    CHECK(runner.calls[0].argv ==
          std::vector<std::string>{"/usr/libexec/reliant/reliant-healer", "repair", "--shard-root", volumes,
                                   "--volume-root", volumes, "--merge-report",
                                   fixture.paths.merge_report().string(), "sflc_0_2", "rename", "work", "work-2"});
    CHECK(fixture.out.str().find("renamed 'work' to 'work-2'") != std::string::npos);

    runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> { return FakeRunner::exit_with(1); };
    CHECK_FALSE(run_repair(fixture.paths, runner, {"sflc_0_2", "drop", "work"}, fixture.out).ok());

    spit(fixture.paths.cmdline, maintenance_cmdline);
    const Status refused = run_repair(fixture.paths, runner, {"sflc_0_2", "drop", "work"}, fixture.out);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().describe().find("no normal reliant boot") != std::string::npos);
    CHECK(runner.calls.size() == 2);
}

TEST_CASE("split: each split counts the qubes that end with the session into the summary, keeping the boot's counts") {
    Fixture fixture(normal_cmdline);
    spit(fixture.paths.merge_report(), "{}");
    spit(fixture.paths.summary(), "frozen=1\nreview=2\nchanges=3\nlost=0\n");
    FakeRunner runner;
    const auto report = fixture.paths.split_report();
    runner.on_run = [&](const FakeRunner::Call&) -> Result<ProcessResult> {
        spit(report, R"({"operation":"split","base":"written","base_changes":[{"qube":"scratchpad","kind":"lost-at-shutdown"},{"qube":"notes","kind":"lost-at-shutdown"}],"shards":[]})");
        return FakeRunner::exit_with(0);
    };
    REQUIRE(split_once(fixture.paths, runner, fixture.out).ok());
    CHECK(slurp(fixture.paths.summary()) == "frozen=1\nreview=2\nchanges=3\nlost=2\n");
    CHECK((std::filesystem::status(fixture.paths.summary()).permissions() & std::filesystem::perms::all) ==
          std::filesystem::perms(0644));
    // Cloned away: the next split counts none.
    runner.on_run = [&](const FakeRunner::Call&) -> Result<ProcessResult> {
        spit(report, R"({"operation":"split","base":"written","base_changes":[],"shards":[]})");
        return FakeRunner::exit_with(0);
    };
    REQUIRE(split_once(fixture.paths, runner, fixture.out).ok());
    CHECK(slurp(fixture.paths.summary()) == "frozen=1\nreview=2\nchanges=3\nlost=0\n");
}

TEST_CASE("notice --follow: after login, a notice when a later split finds a qube that ends with the session") {
    TempDir dir;
    const auto run_dir = dir / "run";
    std::filesystem::create_directories(run_dir);
    spit(run_dir / "summary", "frozen=0\nreview=0\nchanges=0\nlost=0\n");  // nothing at login: no notice
    // The stand-in for notify-send records the notice; the one about a lost
    // qube also ends the follower (SIGTERM to its parent, as the session's
    // end would), so the test waits on the outcome, not on a clock.
    spit(dir / "notify-end-on", "will not survive");
    std::optional<Result<ProcessResult>> follower;
    std::thread session([&] {
        ProcessOptions options;
        options.timeout = std::chrono::seconds(120);  // a bound on a hang, not a timing claim
        options.environment.push_back("HOME=" + dir.path().string());
        follower = run_process({session_path, "--run-dir", run_dir.string(), "--notify-send", fake_notify_send,
                                "notice", "--follow"},
                               options);
    });
    // A split during the session finds a qube in a pool of the base.
    spit(run_dir / "summary.new", "frozen=0\nreview=0\nchanges=0\nlost=1\n");
    std::filesystem::rename(run_dir / "summary.new", run_dir / "summary");
    session.join();
    REQUIRE(follower);
    REQUIRE(follower->ok());
    CHECK_FALSE((*follower)->timed_out);
    CHECK((*follower)->exit_code == 0);
    const std::string calls = slurp(dir / "notify-calls");
    CHECK(calls.find("reliant: a new qube will not survive shutdown\n") != std::string::npos);
    CHECK(calls.find("--urgency=critical\n") != std::string::npos);
}
