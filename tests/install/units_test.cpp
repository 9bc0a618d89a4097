// The real-root units: systemd-analyze verify accepts them (in a root that
// holds systemd's own units and reliant-session), and the properties the
// shutdown split and the seal depend on are there: inert without
// rd.reliant, ordered after qubesd, no shell.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "common/process.h"
#include "test_support.h"

using namespace reliant;
using reliant::testing::slurp;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path units_dir = fs::path(reliant::testing::source_dir()) / "dracut/units";
const std::string session_path = reliant::testing::binary_dir() + "/session/reliant-session";
const std::vector<std::string> units = {"reliant-shutdown.service", "reliant-split-save.path",
                                        "reliant-split-save.service", "reliant-seal.service",
                                        "reliant-journal.service", "reliant-summary.service"};

// KEY -> every value it is given, in order.
std::multimap<std::string, std::string> directives(const std::string& unit) {
    std::multimap<std::string, std::string> result;
    std::istringstream in(slurp(units_dir / unit));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line[0] == '[') continue;
        const auto equals = line.find('=');
        REQUIRE_MESSAGE(equals != std::string::npos, unit << ": " << line);
        result.emplace(line.substr(0, equals), line.substr(equals + 1));
    }
    return result;
}

std::vector<std::string> values(const std::multimap<std::string, std::string>& map, const std::string& key) {
    std::vector<std::string> found;
    for (auto [it, end] = map.equal_range(key); it != end; ++it) found.push_back(it->second);
    return found;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

TEST_CASE("units: systemd-analyze verify accepts every unit, without a warning") {
    TempDir root;
    const fs::path unit_dir = root / "usr/lib/systemd/system";
    fs::create_directories(unit_dir);
    fs::copy("/usr/lib/systemd/system", unit_dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    for (const auto& unit : units) fs::copy_file(units_dir / unit, unit_dir / unit);
    fs::create_directories(root / "usr/libexec/reliant");
    fs::copy_file(session_path, root / "usr/libexec/reliant/reliant-session");

    std::vector<std::string> command = {"systemd-analyze", "verify", "--man=no", "--root=" + root.path().string()};
    for (const auto& unit : units) command.push_back("/usr/lib/systemd/system/" + unit);
    auto verified = run_process(command);
    REQUIRE(verified.ok());
    INFO(verified->out << verified->err);
    CHECK(verified->succeeded());
    CHECK(verified->out.empty());
    CHECK(verified->err.empty());

    // The same check notices a missing binary: it does look at ExecStart=.
    fs::remove(root / "usr/libexec/reliant/reliant-session");
    auto missing = run_process(command);
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->succeeded());
}

TEST_CASE("units: inert without rd.reliant, each in its own kind of boot") {
    for (const auto& unit : units) {
        const auto conditions = values(directives(unit), "ConditionKernelCommandLine");
        CHECK_MESSAGE(contains(conditions, "rd.reliant"), unit);
        const bool maintenance = unit == "reliant-seal.service" || unit == "reliant-journal.service";
        CHECK_MESSAGE(contains(conditions, maintenance ? "rd.reliant.mode=maintenance" : "!rd.reliant.mode=maintenance"),
                      unit);
    }
}

TEST_CASE("units: no shell, every command is a static binary in /usr/libexec/reliant") {
    // std::regex is avoided: GCC 12 warns about its internals under ASan.
    const std::set<std::string> exec_keys = {"ExecStart",    "ExecStop",   "ExecStartPre", "ExecStartPost",
                                             "ExecStopPost", "ExecReload", "ExecCondition"};
    int commands = 0;
    for (const auto& unit : units) {
        for (const auto& directive : directives(unit)) {  // not a structured binding: the CHECKs' lambdas (clang)
            const std::string& key = directive.first;
            const std::string& value = directive.second;
            if (!exec_keys.contains(key)) {
                CHECK_MESSAGE(!key.starts_with("Exec"), unit << ": " << key);
                continue;
            }
            ++commands;
            const std::string command = value.starts_with("-") ? value.substr(1) : value;
            CHECK_MESSAGE(command.starts_with("/usr/libexec/reliant/reliant-session "), unit << ": " << value);
            CHECK_MESSAGE(command.find_first_of(";|&$`<>") == std::string::npos, unit << ": " << value);
        }
    }
    CHECK(commands == 7);
}

TEST_CASE("units: the base journal notes the qubes before qubesd starts and after it stopped") {
    const auto journal = directives("reliant-journal.service");
    CHECK(contains(values(journal, "Before"), "qubesd.service"));  // stopped after qubesd: its last save is in
    CHECK(contains(values(journal, "After"), "local-fs.target"));  // stopped before the base is unmounted
    CHECK(values(journal, "RemainAfterExit") == std::vector<std::string>{"yes"});
    CHECK(values(journal, "ExecStart") == std::vector<std::string>{"/usr/libexec/reliant/reliant-session journal"});
    CHECK(values(journal, "ExecStop") == std::vector<std::string>{"/usr/libexec/reliant/reliant-session journal"});
}

TEST_CASE("units: the shutdown split runs after qubesd stopped, before the volumes are unmounted") {
    const auto shutdown = directives("reliant-shutdown.service");
    // Stop order is the reverse of start order: starting Before= qubesd means
    // stopping after it.
    std::string before;
    for (const auto& value : values(shutdown, "Before")) before += " " + value + " ";
    for (const char* unit : {"qubesd.service", "qubes-core.service", "libvirtd.service", "reliant-split-save.service"})
        CHECK_MESSAGE(before.find(std::string(" ") + unit + " ") != std::string::npos, unit);
    for (const auto& value : values(shutdown, "After"))
        CHECK_MESSAGE(value.find("qube") == std::string::npos, "After=" << value);
    std::string mounts;
    for (const auto& value : values(shutdown, "RequiresMountsFor")) mounts += " " + value + " ";
    for (int index = 0; index <= 14; ++index)
        CHECK(mounts.find(" /run/shufflecake/sflc_0_" + std::to_string(index) + " ") != std::string::npos);
    CHECK(values(shutdown, "ExecStop") ==
          std::vector<std::string>{"-/usr/libexec/reliant/reliant-session split --console",
                                   "/usr/libexec/reliant/reliant-session close"});
    CHECK(values(shutdown, "RemainAfterExit") == std::vector<std::string>{"yes"});
    CHECK(values(shutdown, "RefuseManualStop") == std::vector<std::string>{"yes"});
    CHECK(values(directives("reliant-split-save.service"), "RequiresMountsFor") ==
          values(shutdown, "RequiresMountsFor"));
    CHECK(values(directives("reliant-split-save.path"), "PathChanged") ==
          std::vector<std::string>{"/var/lib/qubes/qubes.xml"});
}
