#include "shufflecake-glue/glue.h"

#include <doctest/doctest.h>

#include "fakes.h"
#include "shufflecake-glue/libdevmapper_device_mapper.h"

using namespace reliant;
using namespace reliant::shufflecake;
using reliant::testing::backing_device;
using reliant::testing::FakeDeviceMapper;
using reliant::testing::FakeMountTable;
using reliant::testing::FakeRunner;
using reliant::testing::other_device;
using reliant::shufflecake::OpenVerdict;

namespace {

struct Rig {
    FakeRunner runner;
    FakeDeviceMapper dm;
    FakeMountTable mounts;
    ShufflecakeGlue glue{runner, dm, mounts};
    BlockDevice device{"/dev/vdb", backing_device};
    SecretBuffer passphrase = [] {
        auto buffer = SecretBuffer::create(64);
        REQUIRE(buffer.ok());
        const std::string_view text = "hidden horse battery";
        REQUIRE(buffer->append(std::as_bytes(std::span(text))));
        return std::move(*buffer);
    }();

    // The command "opens" these volumes and exits with `code`.
    void plays(std::vector<std::string> names, int code = 0) {
        runner.on_run = [this, names, code](const FakeRunner::Call&) -> Result<ProcessResult> {
            for (const auto& name : names) dm.add(name);
            return FakeRunner::exit_with(code);
        };
    }

    std::vector<Volume> open_three() {
        plays({"sflc_0_0", "sflc_0_1", "sflc_0_2"});
        auto outcome = glue.open(device, passphrase);
        REQUIRE(outcome.ok());
        return outcome->volumes;
    }
};

std::vector<std::string> names_of(const std::vector<Volume>& volumes) {
    std::vector<std::string> names;
    for (const auto& volume : volumes) names.push_back(volume.name);
    return names;
}

}  // namespace

TEST_CASE("volume names are exactly sflc_<M>_<N>") {
    const auto parsed = parse_volume_name("sflc_3_14");
    REQUIRE(parsed.has_value());
    CHECK(parsed->device_id == 3);
    CHECK(parsed->index == 14);
    CHECK(parse_volume_name("sflc_0_0").has_value());
    for (const char* bad : {"sflc_0", "sflc__1", "sflc_0_", "sflc_a_1", "sflc_0_1x", "sflc_01_1", "sflc_-1_2",
                            "sflc-0-1", "xsflc_0_1", "sflc_0_1_2", "sflc_0_+1", "luks-sflc_0_1"})
        CHECK_MESSAGE(!parse_volume_name(bad).has_value(), bad);
}

TEST_CASE("the passphrase goes to `shufflecake open <device>` on stdin only") {
    Rig rig;
    rig.plays({"sflc_0_0"});
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    REQUIRE(rig.runner.calls.size() == 1);
    const auto& call = rig.runner.calls.front();
    CHECK(call.argv == std::vector<std::string>{"shufflecake", "open", "/dev/vdb"});
    CHECK(call.input == "hidden horse battery");
    CHECK(call.timeout.count() > 0);
    for (const auto& variable : call.environment) CHECK(variable.find("horse") == std::string::npos);
}

TEST_CASE("opened volumes of the device are returned by index, others are ignored") {
    Rig rig;
    rig.dm.add("sflc_7_0", other_device);              // another Shufflecake device
    rig.dm.add("sflc_9_0", backing_device, "linear");  // not a Shufflecake target
    rig.dm.add("luks-root", backing_device, "crypt");
    rig.plays({"sflc_0_2", "sflc_0_0", "sflc_0_1"});
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::opened);
    CHECK(names_of(outcome->volumes) == std::vector<std::string>{"sflc_0_0", "sflc_0_1", "sflc_0_2"});
    CHECK(outcome->volumes[2].index == 2);
    CHECK(outcome->volumes[2].dm_path() == "/dev/mapper/sflc_0_2");
    CHECK(rig.dm.removed.empty());
}

TEST_CASE("a rejected passphrase is not an error and leaves nothing behind") {
    Rig rig;
    rig.plays({}, 1);
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::not_accepted);
    CHECK(outcome->volumes.empty());

    rig.plays({}, 0);  // a release that exits 0 but opened nothing
    outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::not_accepted);
}

TEST_CASE("a failed open that left volumes behind closes them, most secret first") {
    Rig rig;
    rig.plays({"sflc_0_1", "sflc_0_2"}, 1);
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE_FALSE(outcome.ok());
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_2", "sflc_0_1"});
    CHECK(rig.dm.devices.empty());
}

TEST_CASE("a success that opened a gappy set is closed as half-open") {
    Rig rig;
    rig.plays({"sflc_0_0", "sflc_0_2"});
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE_FALSE(outcome.ok());
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_2", "sflc_0_0"});
}

TEST_CASE("a timeout is Shufflecake failing, not a wrong passphrase, and closes what it left") {
    Rig rig;
    rig.runner.on_run = [&rig](const FakeRunner::Call&) -> Result<ProcessResult> {
        rig.dm.add("sflc_0_0");
        ProcessResult result;
        result.timed_out = true;
        result.signal = 9;
        return result;
    };
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::shufflecake_failed);
    REQUIRE(outcome->reason.has_value());
    CHECK(outcome->reason->code() == ETIMEDOUT);
    CHECK(rig.dm.devices.empty());
}

TEST_CASE("a command that cannot start, or is killed, is Shufflecake failing") {
    Rig rig;
    rig.runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        return Error("shufflecake not found", ENOENT);
    };
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::shufflecake_failed);
    CHECK(outcome->reason->code() == ENOENT);

    rig.runner.on_run = [](const FakeRunner::Call&) -> Result<ProcessResult> {
        ProcessResult result;
        result.signal = 11;
        return result;
    };
    outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::shufflecake_failed);
    CHECK(outcome->reason->describe().find("signal 11") != std::string::npos);
}

TEST_CASE("ready: the kernel must have the volume target, else the module and kernel are named") {
    Rig rig;
    CHECK(rig.glue.ready().ok());
    rig.dm.target_types = {"linear", "crypt"};
    const Status missing = rig.glue.ready();
    REQUIRE_FALSE(missing.ok());
    const std::string said = missing.error().describe();
    CHECK(said.find("no device-mapper target shufflecake") != std::string::npos);
    CHECK(said.find("dm_sflc is not loaded") != std::string::npos);
    CHECK(said.find("needs dm_sflc built for it") != std::string::npos);
    CHECK(rig.runner.calls.empty());
    rig.dm.fail_list = true;
    CHECK_FALSE(rig.glue.ready().ok());
}

TEST_CASE("devices the open made that are not volumes as configured are all closed, volumes included") {
    Rig rig;
    rig.runner.on_run = [&rig](const FakeRunner::Call&) -> Result<ProcessResult> {
        rig.dm.add("sflc_0_0");                                   // a volume
        rig.dm.add("sflc_0_1", backing_device, "shufflecake-v2");  // another target type
        rig.dm.add("luks-other", other_device, "crypt");          // not on this device: not ours
        return FakeRunner::exit_with(0);
    };
    rig.dm.add("sflc_5_0", backing_device, "linear");  // there before the open: not its doing
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::unrecognised);
    CHECK(outcome->volumes.empty());
    REQUIRE(outcome->reason.has_value());
    const std::string said = outcome->reason->describe();
    CHECK(said.find("target shufflecake-v2; reliant accepts shufflecake") != std::string::npos);
    CHECK(said.find("sflc_0") == std::string::npos);  // neither names nor a count
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_0", "sflc_0_1"});
    CHECK(rig.dm.devices.contains("luks-other"));
    CHECK(rig.dm.devices.contains("sflc_5_0"));
}

TEST_CASE("devices stacked on what the open made are closed first, whatever their names") {
    Rig rig;
    rig.runner.on_run = [&rig](const FakeRunner::Call&) -> Result<ProcessResult> {
        for (const std::string name : {"sflc_0_0", "sflc_0_1"}) {
            rig.dm.add(name + "-inner", backing_device, "crypt");
            rig.dm.add(name, rig.dm.devices.at(name + "-inner").number, "linear");
        }
        return FakeRunner::exit_with(0);
    };
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE(outcome.ok());
    CHECK(outcome->verdict == OpenVerdict::unrecognised);
    CHECK(rig.dm.devices.empty());
    // Each linear device before the crypt device beneath it.
    const auto at = [&](const std::string& name) {
        return std::find(rig.dm.removed.begin(), rig.dm.removed.end(), name) - rig.dm.removed.begin();
    };
    CHECK(at("sflc_0_0") < at("sflc_0_0-inner"));
    CHECK(at("sflc_0_1") < at("sflc_0_1-inner"));
    CHECK(outcome->reason->describe().find("target crypt, linear;") != std::string::npos);
}

TEST_CASE("unrecognised devices that cannot be closed are an error, not a verdict") {
    Rig rig;
    rig.runner.on_run = [&rig](const FakeRunner::Call&) -> Result<ProcessResult> {
        rig.dm.add("sflc_0_0", backing_device, "shufflecake-v2");
        return FakeRunner::exit_with(0);
    };
    rig.dm.refuse_remove.insert("sflc_0_0");
    const auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().code() == EBUSY);
}

TEST_CASE("volumes already open on the device are refused before running anything") {
    Rig rig;
    rig.dm.add("sflc_0_0");
    auto outcome = rig.glue.open(rig.device, rig.passphrase);
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().code() == EBUSY);
    CHECK(rig.runner.calls.empty());
    CHECK(rig.dm.removed.empty());
}

TEST_CASE("close unmounts each volume before removing it, highest index first") {
    Rig rig;
    const auto volumes = rig.open_three();
    rig.mounts.mounts[volumes[0].number] = {"/run/shufflecake/sflc_0_0"};
    rig.mounts.mounts[volumes[2].number] = {"/run/shufflecake/sflc_0_2", "/mnt/again"};
    REQUIRE(rig.glue.close(volumes).ok());
    CHECK(rig.mounts.unmounted ==
          std::vector<std::string>{"/run/shufflecake/sflc_0_2", "/mnt/again", "/run/shufflecake/sflc_0_0"});
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_2", "sflc_0_1", "sflc_0_0"});
}

TEST_CASE("close goes on after a failure and reports the first one") {
    Rig rig;
    const auto volumes = rig.open_three();
    rig.mounts.mounts[volumes[1].number] = {"/run/shufflecake/sflc_0_1"};
    rig.mounts.refuse.insert("/run/shufflecake/sflc_0_1");
    rig.dm.refuse_remove.insert("sflc_0_0");
    const auto closed = rig.glue.close(volumes);
    REQUIRE_FALSE(closed.ok());
    CHECK(closed.error().code() == EBUSY);
    // Volume 1 stays (still mounted, so not removed); 2 and 0 were tried.
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_2", "sflc_0_0"});
    CHECK(rig.dm.devices.contains("sflc_0_1"));
}

TEST_CASE("close_device finds and closes what is open on the device only") {
    Rig rig;
    rig.dm.add("sflc_0_0");
    rig.dm.add("sflc_0_1");
    rig.dm.add("sflc_1_0", other_device);
    REQUIRE(rig.glue.close_device(backing_device).ok());
    CHECK(rig.dm.removed == std::vector<std::string>{"sflc_0_1", "sflc_0_0"});
    CHECK(rig.dm.devices.contains("sflc_1_0"));
}

TEST_CASE("the accepted target types are configurable (the test stand-in uses crypt)") {
    FakeRunner runner;
    FakeDeviceMapper dm;
    FakeMountTable mounts;
    GlueConfig config;
    config.volume_targets = {"crypt"};
    ShufflecakeGlue glue(runner, dm, mounts, config);
    dm.add("sflc_0_0", backing_device, "crypt");
    dm.add("sflc_0_1", backing_device, "shufflecake");
    const auto volumes = glue.find_volumes(backing_device);
    REQUIRE(volumes.ok());
    CHECK(names_of(*volumes) == std::vector<std::string>{"sflc_0_0"});
}

TEST_CASE("a device-mapper failure is an error, not an empty result") {
    Rig rig;
    rig.dm.fail_list = true;
    CHECK_FALSE(rig.glue.find_volumes(backing_device).ok());
    CHECK_FALSE(rig.glue.open(rig.device, rig.passphrase).ok());
    CHECK(rig.runner.calls.empty());
}

TEST_CASE("dm ioctl device numbers decode like the kernel's huge_encode_dev") {
    CHECK(dm_decode_dev((253u << 8) | 4u) == makedev(253, 4));
    // minor 0x12345: low byte in bits 0-7, the rest above bit 20
    const std::uint64_t encoded = 0x45u | (253u << 8) | (0x123ull << 20);
    CHECK(dm_decode_dev(encoded) == makedev(253, 0x12345));
}

TEST_CASE("mountinfo: the device's mount points, most recent first, escapes decoded") {
    const std::string mountinfo =
        "22 1 0:21 / /run rw,nosuid shared:5 - tmpfs tmpfs rw\n"
        "30 22 253:1 / /run/shufflecake/sflc_0_1 rw - ext4 /dev/mapper/sflc_0_1 rw\n"
        "31 22 253:10 / /run/other rw - ext4 /dev/dm-10 rw\n"
        "32 1 253:1 /sub /mnt/with\\040space rw - ext4 /dev/mapper/sflc_0_1 rw\n";
    CHECK(parse_mount_points(mountinfo, makedev(253, 1)) ==
          std::vector<std::string>{"/mnt/with space", "/run/shufflecake/sflc_0_1"});
    CHECK(parse_mount_points(mountinfo, makedev(253, 2)).empty());
}
