// The static units of dracut/modules.d/50reliant against the rules of the
// boot path: they exist under the names the generator uses, module-setup.sh
// installs them, they are inert until the generator pulls them in (no
// [Install]), they run reliant's static binaries (or modprobe) directly with
// no shell, and every step ends in the failure unit when it fails.
#include <doctest/doctest.h>

#include <sstream>

#include "dracut/boot/generator.h"
#include "test_support.h"

using namespace reliant::boot;
using reliant::testing::slurp;
namespace fs = std::filesystem;

namespace {

fs::path module_dir() { return fs::path(reliant::testing::source_dir()) / "dracut/modules.d/50reliant"; }

std::vector<std::string> lines_starting(const std::string& text, std::string_view prefix) {
    std::vector<std::string> found;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(prefix)) found.push_back(line);
    return found;
}

const char* const steps[] = {protect_unit, unlock_unit, verify_unit, prepare_unit, heal_unit, loops_unit};

}  // namespace

TEST_CASE("every unit the generator names is in the module and installed by module-setup.sh") {
    const std::string setup = slurp(module_dir() / "module-setup.sh");
    std::vector<std::string> units(std::begin(steps), std::end(steps));
    units.push_back(failed_template);
    units.push_back(close_unit);
    for (const auto& unit : units) {
        CAPTURE(unit);
        CHECK(fs::is_regular_file(module_dir() / unit));
        CHECK(setup.find(unit) != std::string::npos);
    }
}

TEST_CASE("the units are inert until the generator pulls them in, and run no shell") {
    for (const auto& entry : fs::directory_iterator(module_dir())) {
        if (entry.path().extension() != ".service") continue;
        const std::string unit = slurp(entry.path());
        CAPTURE(entry.path().filename().string());
        CHECK(unit.find("[Install]") == std::string::npos);
        CHECK(lines_starting(unit, "DefaultDependencies=no").size() == 1);
        const auto execs = lines_starting(unit, "Exec");
        CHECK_FALSE(execs.empty());
        for (const auto& line : execs) {
            CAPTURE(line);
            std::string command = line.substr(line.find('=') + 1);
            if (command.starts_with("-")) command.erase(0, 1);  // systemd: a failure is not the unit's
            CHECK((command.starts_with("/usr/libexec/reliant/reliant-") || command.starts_with("/usr/sbin/modprobe ")));
            CHECK(command.find("sh ") == std::string::npos);
            CHECK(command.find_first_of(";|&$`") == std::string::npos);
        }
    }
}

TEST_CASE("every step stops the boot with the failure message when it fails, the volumes closed first") {
    for (const char* unit : steps) {
        CAPTURE(unit);
        const std::string text = slurp(module_dir() / unit);
        CHECK(lines_starting(text, "OnFailure=") == std::vector<std::string>{"OnFailure=reliant-failed@%n.service"});
        CHECK(lines_starting(text, "OnFailureJobMode=replace-irreversibly").size() == 1);
        CHECK(lines_starting(text, "Type=oneshot").size() == 1);
    }
    const std::string failed = slurp(module_dir() / failed_template);
    CHECK(lines_starting(failed, "OnSuccess=") == std::vector<std::string>{"OnSuccess=emergency.target"});
    CHECK(lines_starting(failed, "ExecStart=") ==
          std::vector<std::string>{"ExecStart=/usr/libexec/reliant/reliant-boot failed %i"});
    // The volumes are closed first, once for every failing step (two
    // instances closing at once raced: boot-heal-fails), whatever becomes of
    // that (the message still follows): never an emergency shell with them open.
    CHECK(lines_starting(failed, "Wants=") == std::vector<std::string>{"Wants=reliant-close.service"});
    CHECK(lines_starting(failed, "After=") == std::vector<std::string>{"After=reliant-close.service"});
    const std::string close = slurp(module_dir() / close_unit);
    CHECK(lines_starting(close, "ExecStart=") ==
          std::vector<std::string>{"ExecStart=-/usr/libexec/reliant/reliant-unlock --close"});
    CHECK(lines_starting(close, "RemainAfterExit=yes").size() == 1);
}

TEST_CASE("the steps run in the order of docs/boot.md") {
    auto after = [](const char* unit) { return lines_starting(slurp(module_dir() / unit), "After="); };
    auto has = [](const std::vector<std::string>& lines, std::string_view what) {
        for (const auto& line : lines)
            if (line.find(what) != std::string::npos) return true;
        return false;
    };
    CHECK(has(after(unlock_unit), protect_unit));
    CHECK(has(after(verify_unit), unlock_unit));
    CHECK(has(after(prepare_unit), verify_unit));
    CHECK(has(after(heal_unit), "sysroot.mount"));
    CHECK(has(after(loops_unit), heal_unit));
    CHECK(has(lines_starting(slurp(module_dir() / prepare_unit), "Before="), "sysroot.mount"));
    CHECK(has(lines_starting(slurp(module_dir() / unlock_unit), "Before="), "cryptsetup.target"));
    for (const char* unit : {heal_unit, loops_unit})
        CHECK(has(lines_starting(slurp(module_dir() / unit), "Before="), "initrd-cleanup.service"));
    // A hung merge (a hostile shard) ends in the failure message: oneshots have no start timeout.
    CHECK(lines_starting(slurp(module_dir() / heal_unit), "TimeoutStartSec=") ==
          std::vector<std::string>{"TimeoutStartSec=180"});
}
