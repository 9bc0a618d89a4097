// dracut/install/45-reliant.install, run as kernel-install runs its plugins:
// a kernel without Shufflecake's module fails loudly, naming the kernel.
#include <doctest/doctest.h>

#include "common/process.h"
#include "test_support.h"

using reliant::run_process;
using reliant::testing::spit;
using reliant::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string plugin = reliant::testing::source_dir() + "/dracut/install/45-reliant.install";

reliant::ProcessResult run_plugin(const fs::path& modules, const std::vector<std::string>& arguments) {
    std::vector<std::string> argv = {plugin};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    reliant::ProcessOptions options;
    options.environment.push_back("RELIANT_MODULES_DIR=" + modules.string());
    auto result = run_process(argv, options);
    REQUIRE(result.ok());
    return *result;
}

}  // namespace

TEST_CASE("kernel-install plugin: add fails for a kernel without dm-sflc.ko, naming it and what to do") {
    TempDir modules;
    fs::create_directories(modules / "6.12.103-1.qubes.fc41.x86_64/kernel/drivers/md");
    spit(modules / "6.12.103-1.qubes.fc41.x86_64/kernel/drivers/md/dm-crypt.ko.xz", "");
    const auto refused = run_plugin(modules.path(), {"add", "6.12.103-1.qubes.fc41.x86_64",
                                                     "/boot/x", "/boot/vmlinuz-6.12.103-1.qubes.fc41.x86_64"});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("kernel 6.12.103-1.qubes.fc41.x86_64 has no Shufflecake module") != std::string::npos);
    CHECK(refused.err.find("dracut -f --kver 6.12.103-1.qubes.fc41.x86_64") != std::string::npos);
}

TEST_CASE("kernel-install plugin: add passes with the module in extra/ or updates/, compressed or not") {
    for (const char* file : {"extra/dm-sflc.ko", "updates/dkms/dm-sflc.ko.xz", "extra/dm_sflc.ko.zst"}) {
        TempDir modules;
        fs::create_directories((modules / "6.1.0-28-amd64" / file).parent_path());
        spit(modules / "6.1.0-28-amd64" / file, "");
        const auto passed = run_plugin(modules.path(), {"add", "6.1.0-28-amd64", "/boot/x", "/boot/vmlinuz"});
        CHECK_MESSAGE(passed.succeeded(), file << ": " << passed.err);
        CHECK(passed.err.empty());
    }
}

TEST_CASE("kernel-install plugin: remove and other commands do nothing, a missing version is an error") {
    TempDir modules;
    CHECK(run_plugin(modules.path(), {"remove", "6.1.0-28-amd64", "/boot/x"}).succeeded());
    CHECK(run_plugin(modules.path(), {"inspect"}).succeeded());
    CHECK(run_plugin(modules.path(), {"add"}).exit_code == 1);
    CHECK(run_plugin(modules.path(), {"add", "../../etc", "/boot/x"}).exit_code == 1);
}
