// reliant-syncconfig-dom0 (docs/syncconfig.md, "Setup" and "dom0"): the
// configuration, qube names, persistence paths, the v5 policy reader, the
// generated policy, placement on Shufflecake volumes (hostile shards
// included), the volume policy block, dry-run and the run through the
// qvm-features seam.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "common/volume_policy.h"
#include "healer/shard_test_support.h"
#include "shufflecake-glue/fakes.h"
#include "syncconfig/dom0_run.h"
#include "syncconfig/profile.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::syncconfig;
using reliant::testing::slurp;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string good_config =
    "# SyncConfig in dom0\n"
    "release 4.3\n"
    "sender config-mgmt\n"
    "profile git allow=.gitconfig allow=.config/git/** secret=.git-credentials\n"
    "profile shell allow=.bashrc exec=.local/bin/* allow=.local/bin/*\n"
    "target work git shell:allow\n"
    "target personal git:ask\n"
    "persist work /etc/NetworkManager/system-connections\n";

Dom0Config parsed(const std::string& text) {
    auto config = parse_dom0_config(text);
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().describe()));
    return std::move(*config);
}

std::string refusal(const std::string& text) {
    auto config = parse_dom0_config(text);
    REQUIRE_MESSAGE(!config.ok(), "accepted: " << text);
    return config.error().describe();
}

// Every qube of system-small.xml: the base's and the two volumes' shards
// (sflc_0_1: sys-vpn, scratch, dvm-hidden, kicksecure-17, intake,
// disp-fieldwork; sflc_0_2: sys-proton, press), written under `root` as
// unlock would have mounted them.
void write_volumes(const fs::path& root) {
    using namespace reliant::healer::testing;
    const System system = split_system(parse_file(reliant::testing::test_data_dir() + "/fixtures/system-small.xml"));
    REQUIRE(system.shards.size() == 2);
    for (const auto& [volume, bytes] : system.shards) {
        fs::create_directories(root / volume.name());
        spit(root / volume.name() / "qubes.xml", bytes);
    }
}

std::string config_for(const std::string& sender, const std::vector<std::string>& targets) {
    std::string text = "sender " + sender + "\nprofile git allow=.gitconfig\n";
    for (const std::string& t : targets) text += "target " + t + " git\n";
    return text;
}

struct Dom0Dirs {
    TempDir dir;
    fs::path volumes() const { return dir.path() / "shufflecake"; }
    fs::path policy() const { return dir.path() / "policy.d"; }
    Dom0Options options() const {
        fs::create_directories(policy());
        return {volumes(), policy(), "qvm-features"};
    }
};

}  // namespace

TEST_CASE("dom0: qube names follow Qubes' validate_name, and dom0 is refused") {
    for (const char* ok : {"work", "config-mgmt", "a", "Work_2.x", "sys-vpn", "abcdefghijklmnopqrstuvwxyz01234"})
        CHECK_MESSAGE(qube_name_problem(ok).empty(), ok);
    for (const char* bad : {"", "abcdefghijklmnopqrstuvwxyz012345", "2work", "-work", ".work", "_work", "none",
                            "default", "Domain-0", "work-dm", "dom0", "@anyvm", "@tag:x", "uuid:1234", "wo rk",
                            "wo/rk", "w\xc3\xa9rk", "*"})
        CHECK_MESSAGE(!qube_name_problem(bad).empty(), bad);
}

TEST_CASE("dom0: a configuration is parsed whole") {
    const Dom0Config config = parsed(good_config);
    CHECK(config.release == QubesRelease::r4_3);
    CHECK(config.sender == "config-mgmt");
    REQUIRE(config.targets.size() == 2);
    CHECK(config.targets[0].name == "work");
    REQUIRE(config.targets[0].profiles.size() == 2);
    CHECK(config.targets[0].profiles[0].action == PolicyAction::ask);
    CHECK(config.targets[0].profiles[1].action == PolicyAction::allow);
    CHECK(config.targets[1].profiles[0].action == PolicyAction::ask);
    CHECK(config.targets[0].persist == std::vector<std::string>{"/etc/NetworkManager/system-connections"});
    CHECK(config.profiles.at("git") == "allow=.gitconfig allow=.config/git/** secret=.git-credentials");
}

TEST_CASE("dom0: what a configuration may not say, with its line") {
    CHECK(refusal("sender a\nsender b\ntarget c x\nprofile x allow=a\n").find("config:2:") != std::string::npos);
    CHECK(refusal("frobnicate 1\n").find("unknown statement") != std::string::npos);
    CHECK(refusal("sender config-mgmt\nprofile git allow=a\n").find("no target") != std::string::npos);
    CHECK(refusal("profile git allow=a\ntarget work git\n").find("no sender") != std::string::npos);
    CHECK(refusal("sender s\ntarget work git\n").find("no profile line defines") != std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget work git:deny\n").find(":ask or :allow") !=
          std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget work git git\n").find("twice") != std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget work git\ntarget work git\n").find("twice") !=
          std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget s git\n").find("sender") != std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget work git\npersist other /etc/x\n").find("no target") !=
          std::string::npos);
    // The receiver's own profile parser judges the value.
    CHECK(refusal("sender s\nprofile git allow=../x\ntarget work git\n").find("config:2:") != std::string::npos);
    CHECK(refusal("sender s\nprofile git bogus=1\ntarget work git\n").find("profile git") != std::string::npos);
    CHECK(refusal("sender s\nprofile Git allow=a\ntarget work git\n").find("[a-z0-9-]") != std::string::npos);
    CHECK(refusal("sender s\nprofile git allow=a\ntarget dom0 git\n").find("dom0") != std::string::npos);
    CHECK(refusal("sender @anyvm\nprofile git allow=a\ntarget work git\n").find("sender") != std::string::npos);
    CHECK(refusal("release 4.1\n").find("4.2 or 4.3") != std::string::npos);
    CHECK(refusal("sender s\x1b[2J\n").find("control") != std::string::npos);
    CHECK(refusal(std::string(dom0_config_max_bytes + 1, '#')).find("64 KiB") != std::string::npos);
    std::string many = "sender s\nprofile git allow=a\n";
    for (int i = 0; i <= 64; ++i) many += "target t" + std::to_string(i) + " git\n";
    CHECK(refusal(many).find("more targets") != std::string::npos);
}

TEST_CASE("dom0: persistence paths are absolute directories of a plain byte set") {
    for (const char* ok : {"/etc/NetworkManager/system-connections", "/var/lib/tor", "/opt/app-1.2/conf.d",
                           "/srv/a+b@c_d"})
        CHECK_MESSAGE(persist_path_problem(ok).empty(), ok);
    for (const char* bad : {"", "etc/x", "/", "/etc/", "/etc//x", "/etc/./x", "/etc/../root", "/home",
                            "/home/user/.config", "/usr/local", "/usr/local/bin", "/rw/config", "/proc/1",
                            "/sys", "/dev/sda", "/run/x", "/tmp/x", "/etc/a b", "/etc/it's", "/etc/a:b",
                            "/etc/a\nb", "/etc/a\\b", "/etc/$(x)", "/etc/\xc3\xa9"})
        CHECK_MESSAGE(!persist_path_problem(bad).empty(), bad);
    CHECK(persist_path_problem("/" + std::string(255, 'a')) == "is longer than 255 bytes");
    std::string deep;
    for (int i = 0; i < 17; ++i) deep += "/a";
    CHECK(!persist_path_problem(deep).empty());
    CHECK(persist_path_problem(deep.substr(2)).empty());
    // /homework is not /home.
    CHECK(persist_path_problem("/homework").empty());
    CHECK(refusal("sender s\nprofile git allow=a\ntarget work git\npersist work /etc/../x\n").find("config:4:") !=
          std::string::npos);
}

TEST_CASE("dom0: the v5 reader follows qrexec's grammar") {
    auto line = parse_policy_line("qubes.SyncConfig  +git\tconfig-mgmt work ask default_target=work");
    REQUIRE(line.ok());
    CHECK(line->service == "qubes.SyncConfig");
    CHECK(line->argument == "+git");
    CHECK(*line->param("default_target") == "work");
    CHECK(parse_policy_line("* * @anyvm @anyvm deny").ok());
    CHECK(parse_policy_line("qubes.Filecopy * @tag:work @dispvm:dvm allow").ok());
    CHECK(parse_policy_line("qubes.Filecopy + @anyvm @default ask default_target=@dispvm").ok());
    CHECK(parse_policy_line("qubes.Filecopy * work @default allow target=vault user=root autostart=no").ok());
    for (const char* bad : {
             "qubes.SyncConfig +git config-mgmt work",              // four fields
             "* +git a b allow",                                    // an argument for a * service
             "qubes.Sync+Config * a b allow",                       // + in the service
             "qubes.SyncConfig git a b allow",                      // argument without +
             "qubes.SyncConfig +g/t a b allow",                     // argument charset
             "qubes.SyncConfig +git a b permit",                    // action
             "qubes.SyncConfig +git a b allow user=x user=y",       // a parameter twice
             "qubes.SyncConfig +git a b allow notify=maybe",        // yes|no
             "qubes.SyncConfig +git a b allow default_target=b",    // ask's parameter on allow
             "qubes.SyncConfig +git a b deny target=b",             // deny takes notify only
             "qubes.SyncConfig +git a b allow target=@anyvm",       // not a redirect token
             "qubes.SyncConfig +git a @default allow",              // @default allow without target=
             "qubes.SyncConfig +git @default b allow",              // @default is no source
             "qubes.SyncConfig +git @dispvm b allow",               // nor is @dispvm
             "qubes.SyncConfig +git @tag:@x b allow",               // a prefix's value starting with @
             "qubes.SyncConfig +git @bogus b allow",                // unknown token
             "qubes.SyncConfig +git a b allow target",              // a parameter without =
             "qubes.SyncConfig +git a\xc2\xa0 b allow",             // Python splits on NBSP
             "qubes.SyncConfig +git a b\r allow",                   // control byte
         })
        CHECK_MESSAGE(!parse_policy_line(bad).ok(), bad);
    auto text = parse_policy_text("# comment\n\n  \nqubes.SyncConfig +git a b allow\n!include other\n");
    REQUIRE(!text.ok());
    CHECK(text.error().input_line() == 5);
}

TEST_CASE("dom0: wide grants are found, denies are not") {
    const auto wide = [](const char* text) {
        auto line = parse_policy_line(text);
        REQUIRE_MESSAGE(line.ok(), text);
        return wide_grant(*line);
    };
    CHECK(wide("qubes.SyncConfig +git config-mgmt work ask default_target=work").empty());
    CHECK(wide("qubes.SyncConfig +git config-mgmt work allow").empty());
    CHECK(!wide("qubes.SyncConfig +git @anyvm work allow").empty());
    CHECK(!wide("qubes.SyncConfig +git config-mgmt @anyvm ask").empty());
    CHECK(!wide("qubes.SyncConfig +git @tag:mgmt work allow").empty());
    CHECK(!wide("qubes.SyncConfig +git config-mgmt @type:AppVM ask").empty());
    CHECK(!wide("qubes.SyncConfig +git config-mgmt @dispvm:dvm allow").empty());
    CHECK(!wide("qubes.SyncConfig * config-mgmt work allow").empty());
    CHECK(!wide("qubes.SyncConfig +git config-mgmt @default ask default_target=@dispvm").empty());
    CHECK(!wide("qubes.SyncConfig +git config-mgmt work allow target=@adminvm").empty());
    CHECK(wide("qubes.SyncConfig * @anyvm @anyvm deny").empty());
}

TEST_CASE("dom0: the generated base policy has one explicit line per profile and target") {
    const Dom0Config config = parsed(good_config);
    QubePlaces places;
    places.where = {{"config-mgmt", std::nullopt}, {"work", std::nullopt}, {"personal", std::nullopt}};
    auto rules = policy_rules(config, places);
    REQUIRE(rules.ok());
    CHECK(rules->volumes.empty());
    const std::string text = base_policy_text(rules->base);
    auto lines = parse_policy_text(text);
    REQUIRE(lines.ok());
    REQUIRE(lines->size() == 3);
    std::set<std::string> seen;
    for (const PolicyLine& line : *lines) {
        CHECK(wide_grant(line).empty());
        CHECK(line.source == "config-mgmt");
        seen.insert(format_policy_line(line));
    }
    CHECK(seen == std::set<std::string>{
                      "qubes.SyncConfig +git config-mgmt work ask default_target=work",
                      "qubes.SyncConfig +shell config-mgmt work allow",
                      "qubes.SyncConfig +git config-mgmt personal ask default_target=personal",
                  });
    // No catch-all: a wide deny here would shadow the volumes' files.
    CHECK(text.find("@anyvm") == std::string::npos);
}

TEST_CASE("dom0: qubes are placed by the open volumes' shards") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    fs::create_directories(dirs.volumes() / "sflc_0_3");  // open, no shard: holds no qube
    auto places = locate_qubes(dirs.volumes(), {"work", "intake", "press", "vault"});
    REQUIRE_MESSAGE(places.ok(), places.error().describe());
    CHECK(places->open_volumes.size() == 3);
    CHECK(!places->where.at("work").has_value());
    CHECK(!places->where.at("vault").has_value());
    REQUIRE(places->where.at("intake").has_value());
    CHECK(places->where.at("intake")->name() == "sflc_0_1");
    CHECK(places->where.at("press")->name() == "sflc_0_2");
    // No volume root at all: every qube is a base qube.
    auto none = locate_qubes(dirs.dir.path() / "absent", {"intake"});
    REQUIRE(none.ok());
    CHECK(!none->where.at("intake").has_value());
}

TEST_CASE("dom0: a shard that cannot be read refuses the run") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    const fs::path shard = dirs.volumes() / "sflc_0_2" / "qubes.xml";
    const std::string bytes = slurp(shard);
    SUBCASE("a symlink") {
        spit(dirs.dir.path() / "elsewhere.xml", bytes);
        fs::remove(shard);
        fs::create_symlink(dirs.dir.path() / "elsewhere.xml", shard);
    }
    SUBCASE("a FIFO (never opened, so never blocks)") {
        fs::remove(shard);
        REQUIRE(::mkfifo(shard.c_str(), 0600) == 0);
    }
    SUBCASE("a directory") {
        fs::remove(shard);
        fs::create_directory(shard);
    }
    SUBCASE("larger than the budget") {
        spit(shard, bytes + std::string(64 * 1024, ' '));
    }
    SUBCASE("malformed") {
        spit(shard, bytes.substr(0, bytes.size() / 2));
    }
    healer::ShardBudget budget;  // room for both shards as written, not for the larger one
    budget.per_shard = std::max(bytes.size(), fs::file_size(dirs.volumes() / "sflc_0_1/qubes.xml")) + 100;
    auto places = locate_qubes(dirs.volumes(), {"work", "press"}, budget);
    REQUIRE(!places.ok());
    CHECK_MESSAGE(places.error().describe().find("sflc_0_2") != std::string::npos, places.error().describe());
    CHECK(places.error().describe().find("cannot be read") != std::string::npos);
}

TEST_CASE("dom0: pairs on one volume go into that volume's file, never into the base") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    auto config = parse_dom0_config(config_for("scratch", {"intake", "sys-vpn"}));
    REQUIRE(config.ok());
    auto plan = plan_dom0(*config, dirs.options());
    REQUIRE_MESSAGE(plan.ok(), plan.error().describe());
    REQUIRE(plan->files.size() == 2);
    const PlannedFile& base = plan->files[0];
    CHECK(base.path == dirs.policy() / "30-reliant-syncconfig.policy");
    for (const char* hidden : {"scratch", "intake", "sys-vpn"}) CHECK(base.content.find(hidden) == std::string::npos);
    CHECK(plan->files[1].path == volume_policy_path(dirs.volumes() / "sflc_0_1"));
    CHECK(plan->files[1].path == dirs.volumes() / "sflc_0_1" / "qrexec.policy");
    auto lines = parse_policy_text(plan->files[1].content);
    REQUIRE(lines.ok());
    CHECK(lines->size() == 2);
}

TEST_CASE("dom0: sender and target on different volumes, or base and volume, are refused") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    for (const auto& pair : std::vector<std::pair<std::string, std::string>>{
             {"scratch", "press"}, {"work", "intake"}, {"press", "work"}}) {
        const std::string sender = pair.first, target = pair.second;
        auto config = parse_dom0_config(config_for(sender, {"personal", target}));
        REQUIRE(config.ok());
        auto plan = plan_dom0(*config, dirs.options());
        REQUIRE_MESSAGE(!plan.ok(), sender << " -> " << target);
        const std::string message = plan.error().describe();
        CHECK(message.find("different volumes") != std::string::npos);
        CHECK(message.find(sender + " (") != std::string::npos);
        CHECK(message.find("-> " + target + " (") != std::string::npos);
    }
}

TEST_CASE("dom0: the volume file keeps what is not SyncConfig's") {
    const std::vector<PolicyLine> lines = {*parse_policy_line("qubes.SyncConfig +git a b allow")};
    CHECK(!volume_policy_text(std::nullopt, {}).value().has_value());
    const std::string fresh = **volume_policy_text(std::nullopt, lines);
    CHECK(fresh.starts_with(policy_block_begin));
    const std::string other = "# someone else's\nqubes.Filecopy * a b ask\n";
    const std::string merged = **volume_policy_text(other, lines);
    CHECK(merged.starts_with(other));
    CHECK(merged.find("qubes.SyncConfig +git a b allow\n") != std::string::npos);
    // Rerun: the block is replaced in place, the rest stays.
    const std::vector<PolicyLine> next = {*parse_policy_line("qubes.SyncConfig +shell a b ask")};
    const std::string again = **volume_policy_text(merged + "qubes.Gpg * a b ask\n", next);
    CHECK(again.find("+git") == std::string::npos);
    CHECK(again.find("+shell") != std::string::npos);
    CHECK(again.find("qubes.Gpg * a b ask") != std::string::npos);
    CHECK(again.find("qubes.Filecopy") < again.find("+shell"));
    CHECK(again.find("+shell") < again.find("qubes.Gpg"));
    // No rules left: the block goes, the rest stays.
    CHECK(**volume_policy_text(merged, {}) == other);
    // A broken block is not guessed at.
    CHECK(!volume_policy_text(std::string(policy_block_begin) + "\nx\n", lines).ok());
    CHECK(!volume_policy_text(std::string(policy_block_end) + "\n", lines).ok());
    CHECK(!volume_policy_text(fresh + fresh, lines).ok());
}

TEST_CASE("dom0: features are exactly the keys the receiver reads, persistence per release") {
    Dom0Dirs dirs;
    auto plan = plan_dom0(parsed(good_config), dirs.options());
    REQUIRE(plan.ok());
    std::vector<std::string> calls;
    for (const auto& argv : plan->feature_calls) {
        REQUIRE(argv.size() == 5);
        CHECK(argv[0] == "qvm-features");
        CHECK(argv[1] == "--");
        calls.push_back(argv[2] + " " + argv[3] + "=" + argv[4]);
    }
    const std::string persist_key = custom_persist_key("/etc/NetworkManager/system-connections");
    CHECK(persist_key.size() == std::string("custom-persist.syncconfig-").size() + 16);
    CHECK(calls == std::vector<std::string>{
                       "work vm-config.syncconfig.profiles=git shell",
                       "work vm-config.syncconfig.profile.git=allow=.gitconfig allow=.config/git/** "
                       "secret=.git-credentials",
                       "work vm-config.syncconfig.profile.shell=allow=.bashrc exec=.local/bin/* allow=.local/bin/*",
                       "work " + persist_key + "=dir:root:root:0755:/etc/NetworkManager/system-connections",
                       "personal vm-config.syncconfig.profiles=git",
                       "personal vm-config.syncconfig.profile.git=allow=.gitconfig allow=.config/git/** "
                       "secret=.git-credentials",
                   });
    // The receiver's QubesDB keys are these features' names under /vm-config/,
    // and the features the tool owns (and unsets when stale) are these.
    CHECK(std::string(qubesdb_profiles_key) == "/vm-config/syncconfig.profiles");
    CHECK(std::string(owned_feature_prefixes[0]) == "vm-config." + std::string(qubesdb_profile_prefix.substr(11)));
    CHECK(persist_key.starts_with(owned_feature_prefixes[1]));
    CHECK(plan->owned.at("work").size() == 3);  // profile.git, profile.shell, the custom-persist key
    CHECK(plan->owned.at("personal").size() == 1);
    CHECK(!owned_feature("vm-config.syncconfig.profiles"));
    CHECK(plan->bind_dirs.empty());
    CHECK(plan->notes.size() == 1);

    auto old = plan_dom0(parsed("release 4.2\n" + good_config.substr(good_config.find("sender"))), dirs.options());
    REQUIRE(old.ok());
    for (const auto& argv : old->feature_calls) CHECK(argv[3].find("custom-persist") == std::string::npos);
    REQUIRE(old->bind_dirs.contains("work"));
    CHECK(old->bind_dirs.at("work").find("binds+=( '/etc/NetworkManager/system-connections' )\n") !=
          std::string::npos);
    CHECK(!old->bind_dirs.contains("personal"));
}

TEST_CASE("dom0: dry-run prints everything and runs nothing") {
    Dom0Dirs dirs;
    auto plan = plan_dom0(parsed(good_config), dirs.options());
    REQUIRE(plan.ok());
    std::ostringstream out;
    print_dom0_plan(*plan, out);
    CHECK(out.str().find("would run: qvm-features -- work vm-config.syncconfig.profiles 'git shell'") !=
          std::string::npos);
    CHECK(out.str().find("would write " + (dirs.policy() / "30-reliant-syncconfig.policy").string()) !=
          std::string::npos);
    CHECK(out.str().find("qubes.SyncConfig +shell config-mgmt work allow") != std::string::npos);
    CHECK(fs::is_empty(dirs.policy()));
}

TEST_CASE("dom0: apply runs the seam in order, the policy last, and writes atomically") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    auto plan = plan_dom0(parsed(config_for("scratch", {"intake"})), dirs.options());
    REQUIRE(plan.ok());
    reliant::testing::FakeRunner runner;
    std::size_t calls_when_policy_absent = 0;
    runner.on_run = [&](const reliant::testing::FakeRunner::Call&) {
        if (!fs::exists(volume_policy_path(dirs.volumes() / "sflc_0_1"))) calls_when_policy_absent++;
        return Result<ProcessResult>(reliant::testing::FakeRunner::exit_with(0));
    };
    std::ostringstream out;
    SUBCASE("success") {
        REQUIRE(apply_dom0_plan(*plan, runner, out).ok());
        CHECK(runner.calls.size() == 4);  // two checks, two features
        CHECK(calls_when_policy_absent == runner.calls.size());
        CHECK(runner.calls[0].argv == std::vector<std::string>{"qvm-features", "--", "scratch"});
        CHECK(slurp(volume_policy_path(dirs.volumes() / "sflc_0_1")) == plan->files[1].content);
        CHECK(slurp(dirs.policy() / "30-reliant-syncconfig.policy") == plan->files[0].content);
        struct stat st {};
        REQUIRE(::stat((dirs.policy() / "30-reliant-syncconfig.policy").c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0644);
        // No temporary is left beside the files.
        for (const auto& entry : fs::directory_iterator(dirs.policy()))
            CHECK(entry.path().filename() == "30-reliant-syncconfig.policy");
    }
    SUBCASE("a qube that does not exist: nothing set, nothing written") {
        runner.on_run = [](const reliant::testing::FakeRunner::Call& call) {
            return Result<ProcessResult>(reliant::testing::FakeRunner::exit_with(call.argv.size() == 3 ? 2 : 0));
        };
        auto status = apply_dom0_plan(*plan, runner, out);
        REQUIRE(!status.ok());
        CHECK(status.error().describe().find("does not exist") != std::string::npos);
        CHECK(runner.calls.size() == 1);
        CHECK(fs::is_empty(dirs.policy()));
    }
    SUBCASE("a feature refused: no policy written") {
        runner.on_run = [](const reliant::testing::FakeRunner::Call& call) {
            return Result<ProcessResult>(reliant::testing::FakeRunner::exit_with(call.argv.size() == 5 ? 1 : 0));
        };
        REQUIRE(!apply_dom0_plan(*plan, runner, out).ok());
        CHECK(fs::is_empty(dirs.policy()));
        CHECK(!fs::exists(volume_policy_path(dirs.volumes() / "sflc_0_1")));
    }
    SUBCASE("owned features the configuration no longer asks for are unset, others kept") {
        runner.on_run = [](const reliant::testing::FakeRunner::Call& call) {
            ProcessResult result = reliant::testing::FakeRunner::exit_with(0);
            if (call.argv.size() == 3 && call.argv[2] == "intake")
                result.out = "vm-config.syncconfig.profile.old   allow=x\n"
                             "vm-config.syncconfig.profiles      git\n"
                             "vm-config.syncconfig.profile.git   allow=.gitconfig\n"
                             "custom-persist.syncconfig-0123456789abcdef dir:root:root:0755:/etc/x\n"
                             "custom-persist.home                /home\n"
                             "vm-config.syncconfig.profile.      x\n"
                             "other.feature 1\n";
            if (call.argv.size() == 3 && call.argv[2] == "scratch")  // the sender is never cleaned
                result.out = "vm-config.syncconfig.profile.old allow=x\n";
            return Result<ProcessResult>(result);
        };
        REQUIRE(apply_dom0_plan(*plan, runner, out).ok());
        std::vector<std::string> unset;
        for (const auto& call : runner.calls)
            if (call.argv.size() > 1 && call.argv[1] == "--unset") unset.push_back(show_command(call.argv));
        CHECK(unset == std::vector<std::string>{
                           "qvm-features --unset -- intake vm-config.syncconfig.profile.old",
                           "qvm-features --unset -- intake custom-persist.syncconfig-0123456789abcdef",
                       });
        CHECK(runner.calls.back().argv[1] == "--unset");  // after the features that are set
    }
    SUBCASE("no policy directory: nothing set") {
        fs::remove(dirs.policy());
        REQUIRE(!apply_dom0_plan(*plan, runner, out).ok());
        CHECK(runner.calls.size() == 2);  // the checks only
        CHECK(!fs::exists(volume_policy_path(dirs.volumes() / "sflc_0_1")));
    }
    SUBCASE("a policy file that is a symlink is never written through") {
        spit(dirs.dir.path() / "victim", "keep\n");
        fs::create_symlink(dirs.dir.path() / "victim", dirs.policy() / "30-reliant-syncconfig.policy");
        auto status = apply_dom0_plan(*plan, runner, out);
        REQUIRE(!status.ok());
        CHECK(slurp(dirs.dir.path() / "victim") == "keep\n");
        CHECK(runner.calls.size() == 2);  // the checks only: nothing set
    }
}

TEST_CASE("dom0: a volume's policy file that is not a regular file is refused") {
    Dom0Dirs dirs;
    write_volumes(dirs.volumes());
    const fs::path file = volume_policy_path(dirs.volumes() / "sflc_0_2");
    SUBCASE("symlink") { fs::create_symlink("/etc/passwd", file); }
    SUBCASE("FIFO") { REQUIRE(::mkfifo(file.c_str(), 0600) == 0); }
    SUBCASE("too large") { spit(file, std::string((1u << 20) + 1, '#')); }
    auto plan = plan_dom0(parsed(config_for("work", {"personal"})), dirs.options());
    REQUIRE(!plan.ok());
    CHECK(plan.error().describe().find("qrexec.policy") != std::string::npos);
}
