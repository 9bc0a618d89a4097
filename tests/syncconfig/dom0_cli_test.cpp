// reliant-syncconfig-dom0 as a user runs it, with the qvm-features stand-in
// (tests/fixtures/fake-qvm-features) in place of dom0's: what it records is
// what the real CLI would have been asked.
#include <doctest/doctest.h>

#include "common/process.h"
#include "test_support.h"

using reliant::ProcessResult;
using reliant::testing::slurp;
using reliant::testing::spit;
namespace fs = std::filesystem;

namespace {

class Dom0 {
public:
    Dom0() {
        fs::create_directories(bin());
        fs::copy_file(fs::path(reliant::testing::source_dir()) / "tests/fixtures/fake-qvm-features/qvm-features",
                      bin() / "qvm-features");
        fs::permissions(bin() / "qvm-features", fs::perms::owner_all);
        fs::create_directories(dir_.path() / "policy.d");
    }
    fs::path bin() const { return dir_.path() / "bin"; }
    fs::path config() const { return dir_.path() / "syncconfig.conf"; }
    fs::path policy() const { return dir_.path() / "policy.d/30-reliant-syncconfig.policy"; }
    fs::path log() const { return bin() / "qvm-features.log"; }
    void qube(const std::string& name) const { fs::create_directories(bin() / "qubes" / name); }
    std::string feature(const std::string& qube, const std::string& name) const {
        const fs::path file = bin() / "qubes" / qube / "features" / name;
        return fs::exists(file) ? slurp(file) : "(unset)";
    }
    ProcessResult run(std::vector<std::string> args) const {
        std::vector<std::string> argv{reliant::testing::binary_dir() + "/bin/reliant-syncconfig-dom0"};
        argv.insert(argv.end(), args.begin(), args.end());
        if (args.front() == "apply")
            argv.insert(argv.end(), {"--volume-root", (dir_.path() / "shufflecake").string(), "--policy-dir",
                                     (dir_.path() / "policy.d").string(), "--qvm-features",
                                     (bin() / "qvm-features").string()});
        auto result = reliant::run_process(argv, {});
        REQUIRE(result.ok());
        return *result;
    }

private:
    reliant::testing::TempDir dir_;
};

const std::string config_text =
    "sender config-mgmt\n"
    "profile git allow=.gitconfig allow=.config/git/**\n"
    "target work git:allow\n"
    "target personal git\n";

}  // namespace

TEST_CASE("dom0 cli: apply sets the features through qvm-features and writes the policy") {
    Dom0 dom0;
    for (const char* q : {"config-mgmt", "work", "personal"}) dom0.qube(q);
    spit(dom0.config(), config_text + "persist work /etc/NetworkManager/system-connections\n");
    const ProcessResult result = dom0.run({"apply", "--config", dom0.config().string()});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(dom0.feature("work", "vm-config.syncconfig.profiles") == "git");
    CHECK(dom0.feature("work", "vm-config.syncconfig.profile.git") == "allow=.gitconfig allow=.config/git/**");
    CHECK(dom0.feature("personal", "vm-config.syncconfig.profiles") == "git");
    CHECK(dom0.feature("config-mgmt", "vm-config.syncconfig.profiles") == "(unset)");
    // The fake accepted the custom-persist value by qubesd's own rules.
    bool persisted = false;
    for (const auto& entry : fs::directory_iterator(dom0.bin() / "qubes/work/features"))
        if (entry.path().filename().string().starts_with("custom-persist.syncconfig-"))
            persisted = slurp(entry.path()) == "dir:root:root:0755:/etc/NetworkManager/system-connections";
    CHECK(persisted);
    const std::string policy = slurp(dom0.policy());
    CHECK(policy.find("qubes.SyncConfig +git config-mgmt work allow\n") != std::string::npos);
    CHECK(policy.find("qubes.SyncConfig +git config-mgmt personal ask default_target=personal\n") !=
          std::string::npos);
    // Every call passed the names after "--", so no value is taken for an option.
    const std::string log = slurp(dom0.log());
    CHECK(log.find("--\037work\037vm-config.syncconfig.profiles\037git\037\n") != std::string::npos);
    // The generated file passes the tool's own lint; a wide allow does not.
    CHECK(dom0.run({"lint", dom0.policy().string()}).exit_code == 0);
    spit(dom0.config().string() + ".policy", "qubes.SyncConfig +git @anyvm work allow\n");
    const ProcessResult lint = dom0.run({"lint", dom0.config().string() + ".policy"});
    CHECK(lint.exit_code == 1);
    CHECK(lint.out.find("@anyvm") != std::string::npos);
    // A second run changes nothing.
    REQUIRE(dom0.run({"apply", "--config", dom0.config().string()}).exit_code == 0);
    CHECK(slurp(dom0.policy()) == policy);
    // Without the persistence line and with another profile, what the tool
    // set before and no longer asks for is unset; the rest stays.
    spit(dom0.config(), "sender config-mgmt\nprofile vim allow=.vimrc\ntarget work vim\ntarget personal vim\n");
    spit(dom0.bin() / "qubes/work/features/custom-persist.home", "/home");
    REQUIRE(dom0.run({"apply", "--config", dom0.config().string()}).exit_code == 0);
    CHECK(dom0.feature("work", "vm-config.syncconfig.profiles") == "vim");
    CHECK(dom0.feature("work", "vm-config.syncconfig.profile.vim") == "allow=.vimrc");
    CHECK(dom0.feature("work", "vm-config.syncconfig.profile.git") == "(unset)");
    CHECK(dom0.feature("work", "custom-persist.home") == "/home");
    for (const auto& entry : fs::directory_iterator(dom0.bin() / "qubes/work/features"))
        CHECK(!entry.path().filename().string().starts_with("custom-persist.syncconfig-"));
    CHECK(slurp(dom0.policy()).find("+git") == std::string::npos);
}

TEST_CASE("dom0 cli: dry-run runs and writes nothing") {
    Dom0 dom0;
    spit(dom0.config(), config_text);
    const ProcessResult result = dom0.run({"apply", "--dry-run", "--config", dom0.config().string()});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    CHECK(result.out.find("would run: ") != std::string::npos);
    CHECK(result.out.find("qubes.SyncConfig +git config-mgmt work allow") != std::string::npos);
    CHECK(!fs::exists(dom0.log()));
    CHECK(!fs::exists(dom0.policy()));
}

TEST_CASE("dom0 cli: a missing qube or a refused configuration changes nothing") {
    Dom0 dom0;
    dom0.qube("config-mgmt");
    dom0.qube("work");  // personal does not exist
    spit(dom0.config(), config_text);
    ProcessResult result = dom0.run({"apply", "--config", dom0.config().string()});
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("does not exist") != std::string::npos);
    CHECK(dom0.feature("work", "vm-config.syncconfig.profiles") == "(unset)");
    CHECK(!fs::exists(dom0.policy()));

    spit(dom0.config(), config_text + "target evil git\nprofile evil allow=../../etc\n");
    result = dom0.run({"apply", "--config", dom0.config().string()});
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(dom0.config().string() + ":6:") != std::string::npos);
}

TEST_CASE("dom0 cli: the qvm-features stand-in refuses what qubesd refuses") {
    Dom0 dom0;
    dom0.qube("work");
    const std::string fake = (dom0.bin() / "qvm-features").string();
    const auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), fake);
        auto result = reliant::run_process(args, {});
        REQUIRE(result.ok());
        return result->exit_code;
    };
    CHECK(run({"--", "work", "vm-config.ok", "a b"}) == 0);
    CHECK(run({"--", "work", "vm-config.ok"}) == 0);
    CHECK(run({"--", "work", "vm-config.unset"}) == 1);
    CHECK(run({"--", "nobody", "vm-config.ok", "x"}) == 2);                    // no such domain
    CHECK(run({"--", "work", "vm-config.1x", "x"}) == 1);                      // must start with a letter
    CHECK(run({"--", "work", "vm-config." + std::string(53, 'a'), "x"}) == 1);  // over 52 bytes
    CHECK(run({"--", "work", "a/b", "x"}) == 1);                               // feature name charset
    CHECK(run({"--", "work", "vm-config.ok", "tab\there"}) == 1);              // printable ASCII only
    CHECK(run({"--", "work", "custom-persist.k", "relative/path"}) == 1);
    CHECK(run({"--", "work", "custom-persist.k", "dir:root:root:0999:/x"}) == 1);
    CHECK(run({"--", "work", "custom-persist.k", "link:root:root:0755:/x"}) == 1);
    CHECK(run({"--", "work", "custom-persist." + std::string(55, 'k'), "/x"}) == 1);
    CHECK(run({"--", "work", "custom-persist.k", "dir:root:root:0755:/x"}) == 0);
    CHECK(run({"--unset", "--", "work", "vm-config.ok", "x"}) == 2);
    CHECK(run({"--unset", "--", "work", "vm-config.ok"}) == 0);
    CHECK(dom0.feature("work", "vm-config.ok") == "(unset)");
    CHECK(dom0.feature("work", "custom-persist.k") == "dir:root:root:0755:/x");
}
