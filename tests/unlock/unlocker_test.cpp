#include "unlock/unlocker.h"

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>

using namespace reliant;
using namespace reliant::unlock;
using shufflecake::OpenOutcome;
using shufflecake::OpenVerdict;
using shufflecake::Volume;
using namespace std::chrono_literals;

namespace {

class FakeClock final : public Clock {
public:
    time_point now() override { return current; }
    void sleep_until(time_point when) override {
        if (on_sleep) on_sleep();
        if (when > current) current = when;
    }
    void advance(std::chrono::milliseconds by) { current += by; }

    time_point current{};
    std::function<void()> on_sleep;
};

// Answers from a script: a passphrase, or "<timeout>" / "<cancel>".
class ScriptedSource final : public PassphraseSource {
public:
    explicit ScriptedSource(std::deque<std::string> answers) : answers_(std::move(answers)) {}
    Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) override {
        out.clear();
        prompts.push_back(prompt.text);
        timeouts.push_back(prompt.timeout);
        if (answers_.empty()) return Answer::cancelled;
        const std::string answer = answers_.front();
        answers_.pop_front();
        if (answer == "<timeout>") return Answer::timed_out;
        if (answer == "<cancel>") return Answer::cancelled;
        REQUIRE(out.append(std::as_bytes(std::span(answer))));
        return Answer::given;
    }

    std::vector<std::string> prompts;
    std::vector<std::chrono::seconds> timeouts;

private:
    std::deque<std::string> answers_;
};

std::vector<Volume> volumes_up_to(unsigned highest) {
    std::vector<Volume> volumes;
    for (unsigned n = 0; n <= highest; ++n)
        volumes.push_back(Volume{"sflc_0_" + std::to_string(n), 0, n, static_cast<dev_t>(0xfd00 + n)});
    return volumes;
}

// A device whose passphrases open volumes 0..k; opening costs `cost[k]` of
// fake time, and a rejection costs `reject_cost`.
class FakeOpener final : public shufflecake::VolumeOpener {
public:
    explicit FakeOpener(FakeClock& clock) : clock_(clock) {}
    Status ready() override {
        if (module_missing) return Error("the kernel has no device-mapper target shufflecake");
        return success();
    }
    Result<OpenOutcome> open(const BlockDevice&, const SecretBuffer& passphrase) override {
        last_passphrase = &passphrase;
        const std::string given(reinterpret_cast<const char*>(passphrase.bytes().data()), passphrase.size());
        seen.push_back(given);
        if (failing.contains(given)) {
            clock_.advance(reject_cost);
            return Error("shufflecake open left an incomplete set of volumes", EIO);
        }
        if (const auto verdict = verdicts.find(given); verdict != verdicts.end()) {
            clock_.advance(reject_cost);
            return OpenOutcome{verdict->second, {}, Error("what happened")};
        }
        const auto found = passphrases.find(given);
        if (found == passphrases.end()) {
            clock_.advance(reject_cost);
            return OpenOutcome{};
        }
        clock_.advance(open_cost * (found->second + 1));
        return OpenOutcome{OpenVerdict::opened, volumes_up_to(found->second), std::nullopt};
    }
    Status close(std::span<const Volume> volumes) override {
        std::vector<std::string> names;
        for (const auto& volume : volumes) names.push_back(volume.name);
        closed.push_back(names);
        return close_fails ? Status(Error("busy", EBUSY)) : success();
    }

    std::map<std::string, unsigned> passphrases;
    std::set<std::string> failing;                     // open() errors
    std::map<std::string, OpenVerdict> verdicts;       // Shufflecake's own failures
    bool module_missing = false;
    std::chrono::milliseconds reject_cost{300};
    std::chrono::milliseconds open_cost{400};
    std::vector<std::string> seen;
    std::vector<std::vector<std::string>> closed;
    const SecretBuffer* last_passphrase = nullptr;
    bool close_fails = false;

private:
    FakeClock& clock_;
};

class FakeFilesystem final : public Filesystem {
public:
    Result<FsType> probe(const std::string& device) override {
        log.push_back("probe " + device);
        return FsType::ext4;
    }
    Status check(const std::string& device, FsType) override {
        log.push_back("check " + device);
        if (device == failing_check) return Error("e2fsck exited with status 4", EUCLEAN);
        return success();
    }
    Status mount(const std::string& device, const std::filesystem::path& target, FsType,
                 bool discard) override {
        log.push_back("mount " + device + " " + target.string() + (discard ? " discard" : ""));
        if (device == failing_mount) return Error("mount failed", EINVAL);
        return success();
    }
    Result<bool> make_directory(const std::filesystem::path& path) override {
        log.push_back("mkdir " + path.string());
        return path != "/run/shufflecake";  // the root already exists
    }
    void remove_directory(const std::filesystem::path& path) override {
        log.push_back("rmdir " + path.string());
    }

    std::vector<std::string> log;
    std::string failing_check;
    std::string failing_mount;
};

class RecordedMessages final : public UserMessages {
public:
    explicit RecordedMessages(FakeClock& clock) : clock_(clock) {}
    void show(std::string_view message) override {
        shown.emplace_back(message);
        at.push_back(clock_.now());
    }
    std::vector<std::string> shown;
    std::vector<Clock::time_point> at;

private:
    FakeClock& clock_;
};

struct Rig {
    FakeClock clock;
    FakeOpener opener{clock};
    FakeFilesystem filesystem;
    RecordedMessages messages{clock};
    UnlockSettings settings;
    BlockDevice device{"/dev/vdb", 0xfe10};

    Rig() { opener.passphrases = {{"decoy", 0}, {"middle", 1}, {"hidden", 2}}; }
    UnlockReport run(ScriptedSource& source) {
        return Unlocker(source, opener, filesystem, clock, messages, settings).run(device);
    }
};

}  // namespace

TEST_CASE("the decoy passphrase mounts exactly the decoy volume, silently") {
    Rig rig;
    ScriptedSource source({"decoy"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(report.mounted == 1);
    CHECK(rig.messages.shown.empty());
    CHECK(rig.filesystem.log == std::vector<std::string>{
                                    "mkdir /run/shufflecake",
                                    "probe /dev/mapper/sflc_0_0",
                                    "mkdir /run/shufflecake/sflc_0_0",
                                    "mount /dev/mapper/sflc_0_0 /run/shufflecake/sflc_0_0",
                                });
    CHECK(source.prompts == std::vector<std::string>{"reliant passphrase (1/3):"});
    CHECK(exit_code(report.outcome) == 0);
    CHECK(result_line(report) == "reliant-unlock: 1 volume mounted");
}

TEST_CASE("a hidden passphrase mounts every volume up to it, in index order") {
    Rig rig;
    ScriptedSource source({"hidden"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(report.mounted == 3);
    std::vector<std::string> mounts;
    for (const auto& entry : rig.filesystem.log)
        if (entry.starts_with("mount ")) mounts.push_back(entry);
    CHECK(mounts == std::vector<std::string>{
                        "mount /dev/mapper/sflc_0_0 /run/shufflecake/sflc_0_0",
                        "mount /dev/mapper/sflc_0_1 /run/shufflecake/sflc_0_1",
                        "mount /dev/mapper/sflc_0_2 /run/shufflecake/sflc_0_2",
                    });
    CHECK(result_line(report) == "reliant-unlock: 3 volumes mounted");
    CHECK(result_line(report).find("sflc") == std::string::npos);
}

TEST_CASE("wrong then right: one fixed message, then mounted on the retry") {
    Rig rig;
    ScriptedSource source({"wrong", "middle"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(report.mounted == 2);
    CHECK(rig.messages.shown == std::vector<std::string>{std::string(not_accepted_message)});
    CHECK(source.prompts ==
          std::vector<std::string>{"reliant passphrase (1/3):", "reliant passphrase (2/3):"});
}

TEST_CASE("every try wrong: the tries are used up and nothing is mounted") {
    Rig rig;
    rig.settings.tries = 4;
    ScriptedSource source({"a", "b", "c", "d", "hidden"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::not_accepted);
    CHECK(rig.opener.seen.size() == 4);
    CHECK(rig.messages.shown.size() == 4);
    CHECK(rig.filesystem.log.empty());
    CHECK(exit_code(report.outcome) == 4);
}

TEST_CASE("an error while opening looks like a wrong passphrase and uses a try") {
    Rig rig;
    rig.opener.failing = {"broken"};
    ScriptedSource source({"broken", "decoy"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(rig.messages.shown == std::vector<std::string>{std::string(not_accepted_message)});
}

TEST_CASE("Shufflecake's kernel module missing: one clear message, no prompt, nothing opened") {
    Rig rig;
    rig.opener.module_missing = true;
    ScriptedSource source({"hidden"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::unavailable);
    CHECK(source.prompts.empty());
    CHECK(rig.opener.seen.empty());
    CHECK(rig.messages.shown == std::vector<std::string>{std::string(module_missing_message)});
    CHECK(exit_code(report.outcome) == 8);
    CHECK(result_line(report) == "reliant-unlock: 0 volumes mounted (Shufflecake unavailable)");
}

TEST_CASE("Shufflecake failing is said as such, never as a wrong passphrase, and a retry may work") {
    Rig rig;
    rig.opener.verdicts = {{"crash", OpenVerdict::shufflecake_failed}};
    ScriptedSource source({"crash", "middle"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(rig.messages.shown == std::vector<std::string>{std::string(shufflecake_failed_message)});

    Rig again;
    again.opener.verdicts = {{"crash", OpenVerdict::shufflecake_failed}};
    ScriptedSource crashing({"crash", "crash", "crash"});
    const auto failed = again.run(crashing);
    CHECK(failed.outcome == Outcome::unavailable);
    CHECK(again.messages.shown.size() == 3);
    for (const auto& shown : again.messages.shown) CHECK(shown == shufflecake_failed_message);
}

TEST_CASE("volumes of a kind not recognised: said once, no more prompts, nothing mounted") {
    Rig rig;
    rig.opener.verdicts = {{"hidden-elsewhere", OpenVerdict::unrecognised}};
    ScriptedSource source({"hidden-elsewhere", "decoy"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::unavailable);
    CHECK(source.prompts.size() == 1);
    CHECK(rig.messages.shown == std::vector<std::string>{std::string(unrecognised_message)});
    CHECK(rig.filesystem.log.empty());
    CHECK(std::string(unrecognised_message).find("not accepted") == std::string::npos);
}

// Notes when each attempt starts (the answer is in) and sets how long the
// next rejection takes, as if the device held more or fewer volumes.
class PacedSource final : public PassphraseSource {
public:
    PacedSource(ScriptedSource& inner, FakeClock& clock, FakeOpener& opener,
                std::deque<std::chrono::milliseconds> reject_costs)
        : inner_(inner), clock_(clock), opener_(opener), reject_costs_(std::move(reject_costs)) {}
    Result<Answer> ask(const Prompt& prompt, SecretBuffer& out) override {
        if (!reject_costs_.empty()) {
            opener_.reject_cost = reject_costs_.front();
            reject_costs_.pop_front();
        }
        starts.push_back(clock_.now());
        return inner_.ask(prompt, out);
    }
    std::vector<Clock::time_point> starts;

private:
    ScriptedSource& inner_;
    FakeClock& clock_;
    FakeOpener& opener_;
    std::deque<std::chrono::milliseconds> reject_costs_;
};

TEST_CASE("every attempt lasts the same from the passphrase to the verdict") {
    Rig rig;
    rig.settings.attempt_floor = 2000ms;
    rig.opener.open_cost = 400ms;  // the hidden passphrase: 3 volumes, 1200 ms
    ScriptedSource script({"wrong-1", "wrong-2", "hidden"});
    PacedSource source(script, rig.clock, rig.opener, {100ms, 1500ms});
    const auto report =
        Unlocker(source, rig.opener, rig.filesystem, rig.clock, rig.messages, rig.settings).run(rig.device);
    REQUIRE(report.outcome == Outcome::mounted);
    REQUIRE(rig.messages.at.size() == 2);
    REQUIRE(source.starts.size() == 3);
    CHECK(rig.messages.at[0] - source.starts[0] == 2000ms);
    CHECK(rig.messages.at[1] - source.starts[1] == 2000ms);
    CHECK(rig.clock.now() - source.starts[2] == 2000ms);  // mounting takes no fake time
}

TEST_CASE("the floor pads short attempts and never shortens long ones") {
    Rig rig;
    rig.settings.attempt_floor = 2000ms;
    SUBCASE("a quick rejection is padded to the floor") {
        rig.opener.reject_cost = 100ms;
        ScriptedSource source({"wrong"});
        rig.settings.tries = 1;
        rig.run(source);
        REQUIRE(rig.messages.at.size() == 1);
        CHECK(rig.messages.at[0] - Clock::time_point{} == 2000ms);
    }
    SUBCASE("a slow rejection is not padded further") {
        rig.opener.reject_cost = 2500ms;
        ScriptedSource source({"wrong"});
        rig.settings.tries = 1;
        rig.run(source);
        REQUIRE(rig.messages.at.size() == 1);
        CHECK(rig.messages.at[0] - Clock::time_point{} == 2500ms);
    }
    SUBCASE("an acceptance is padded the same way before anything is mounted") {
        rig.opener.open_cost = 100ms;
        ScriptedSource source({"hidden"});
        rig.run(source);
        CHECK(rig.clock.now() - Clock::time_point{} == 2000ms);
    }
}

TEST_CASE("the passphrase is zeroed as soon as open returns, before the pacing sleep") {
    Rig rig;
    bool empty_when_sleeping = false;
    rig.clock.on_sleep = [&] {
        REQUIRE(rig.opener.last_passphrase != nullptr);
        empty_when_sleeping = rig.opener.last_passphrase->empty();
    };
    ScriptedSource source({"decoy"});
    rig.run(source);
    CHECK(empty_when_sleeping);
}

TEST_CASE("dvl closes the volumes above it before mounting the rest") {
    Rig rig;
    rig.settings.dvl = 1;
    ScriptedSource source({"hidden"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::mounted);
    CHECK(report.mounted == 2);
    REQUIRE(rig.opener.closed.size() == 1);
    CHECK(rig.opener.closed[0] == std::vector<std::string>{"sflc_0_2"});
    for (const auto& entry : rig.filesystem.log) CHECK(entry.find("sflc_0_2") == std::string::npos);
}

TEST_CASE("dvl at or above the opened volumes closes nothing") {
    Rig rig;
    rig.settings.dvl = 5;
    ScriptedSource source({"middle"});
    const auto report = rig.run(source);
    CHECK(report.mounted == 2);
    CHECK(rig.opener.closed.empty());
}

TEST_CASE("fsck runs only when asked, before each mount") {
    Rig rig;
    rig.settings.fsck = true;
    ScriptedSource source({"middle"});
    rig.run(source);
    CHECK(rig.filesystem.log == std::vector<std::string>{
                                    "mkdir /run/shufflecake",
                                    "probe /dev/mapper/sflc_0_0",
                                    "check /dev/mapper/sflc_0_0",
                                    "mkdir /run/shufflecake/sflc_0_0",
                                    "mount /dev/mapper/sflc_0_0 /run/shufflecake/sflc_0_0",
                                    "probe /dev/mapper/sflc_0_1",
                                    "check /dev/mapper/sflc_0_1",
                                    "mkdir /run/shufflecake/sflc_0_1",
                                    "mount /dev/mapper/sflc_0_1 /run/shufflecake/sflc_0_1",
                                });
}

TEST_CASE("fsck failing on volume 2 closes everything and removes the mount points") {
    Rig rig;
    rig.settings.fsck = true;
    rig.filesystem.failing_check = "/dev/mapper/sflc_0_2";
    ScriptedSource source({"hidden"});
    const auto report = rig.run(source);
    CHECK(report.outcome == Outcome::prepare_failed);
    CHECK(report.mounted == 0);
    CHECK(exit_code(report.outcome) == 5);
    REQUIRE(rig.opener.closed.size() == 1);
    CHECK(rig.opener.closed[0] == std::vector<std::string>{"sflc_0_0", "sflc_0_1", "sflc_0_2"});
    const std::vector<std::string> tail(rig.filesystem.log.end() - 2, rig.filesystem.log.end());
    CHECK(tail ==
          std::vector<std::string>{"rmdir /run/shufflecake/sflc_0_1", "rmdir /run/shufflecake/sflc_0_0"});
    CHECK(result_line(report).find("sflc") == std::string::npos);
}

TEST_CASE("a mount failure closes everything too, and a failed close is reported as such") {
    Rig rig;
    rig.filesystem.failing_mount = "/dev/mapper/sflc_0_1";
    ScriptedSource source({"hidden"});
    CHECK(rig.run(source).outcome == Outcome::prepare_failed);

    Rig stuck;
    stuck.filesystem.failing_mount = "/dev/mapper/sflc_0_1";
    stuck.opener.close_fails = true;
    ScriptedSource again({"hidden"});
    const auto report = stuck.run(again);
    CHECK(report.outcome == Outcome::cleanup_failed);
    CHECK(exit_code(report.outcome) == 6);
}

TEST_CASE("discard reaches the mount only when configured") {
    Rig rig;
    rig.settings.discard = true;
    ScriptedSource source({"decoy"});
    rig.run(source);
    CHECK(rig.filesystem.log.back() == "mount /dev/mapper/sflc_0_0 /run/shufflecake/sflc_0_0 discard");
}

TEST_CASE("a prompt that times out, is cancelled or answered empty ends without opening") {
    for (const char* answer : {"<timeout>", "<cancel>", ""}) {
        Rig rig;
        rig.settings.prompt_timeout = 30s;
        ScriptedSource source({answer, "decoy"});
        const auto report = rig.run(source);
        CHECK(report.outcome == Outcome::no_passphrase);
        CHECK(rig.opener.seen.empty());
        CHECK(source.timeouts == std::vector<std::chrono::seconds>{30s});
        CHECK(exit_code(report.outcome) == 7);
    }
}

TEST_CASE("settings come from the boot options") {
    auto options = parse_boot_options(KernelCmdline::parse(
        "rd.reliant=1 rd.reliant.tries=5 rd.reliant.timeout=60 rd.reliant.fsck=1 rd.reliant.dvl=2 "
        "rd.reliant.discard=1"));
    REQUIRE(options.ok());
    const auto settings = UnlockSettings::from(*options);
    CHECK(settings.tries == 5);
    CHECK(settings.prompt_timeout == 60s);
    CHECK(settings.fsck);
    CHECK(settings.dvl == 2u);
    CHECK(settings.discard);
    CHECK(settings.mount_root == "/run/shufflecake");
}
