// Running reliant-healer as the boot and shutdown units do, on a system laid
// out as at boot: the base, and shards/sflc_0_N/qubes.xml.
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/process.h"
#include "shard_test_support.h"

namespace reliant::healer::testing {

inline const std::string healer_path = reliant::testing::binary_dir() + "/healer/reliant-healer";
inline const std::string small_fixture = reliant::testing::test_data_dir() + "/fixtures/system-small.xml";

// A split system laid out as at boot: base.xml and shards/sflc_0_N/qubes.xml.
struct Layout {
    reliant::testing::TempDir dir;
    std::filesystem::path base = dir / "base.xml";
    std::filesystem::path shards = dir / "shards";
    std::filesystem::path run = dir / "run";

    explicit Layout(const std::string& fixture = small_fixture) {
        const System system = split_system(parse_file(fixture));
        reliant::testing::spit(base, serialize(system.base));
        std::filesystem::create_directories(run);
        for (const auto& [volume, bytes] : system.shards) {
            std::filesystem::create_directories(shards / volume.name());
            reliant::testing::spit(shards / volume.name() / "qubes.xml", bytes);
        }
        std::filesystem::create_directories(shards / "sflc_0_0");  // the decoy volume holds no shard
    }
};

struct Run {
    int status = -1;
    std::string out, err;
};

// The sanitizer runtime reserves terabytes of address space: no limit there.
// (GCC defines __SANITIZE_ADDRESS__; clang 14 only answers __has_feature.)
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool address_limit = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool address_limit = false;
#else
inline constexpr bool address_limit = true;
#endif
#else
inline constexpr bool address_limit = true;
#endif

// Any healer run beyond this hangs (the hostile inputs must be refused, not
// worked through): killed, and the test fails. Not a timing claim.
inline constexpr std::chrono::seconds hang_bound{60};

// reliant-healer with `arguments`, independent of the host (fixed PCI root
// buses, no kernels, unless the arguments name a --root), under a 256 MiB address-space limit when `limited`.
inline Run healer_run(std::vector<std::string> arguments, bool limited = false) {
    const auto given = [&](const char* option) {
        return std::find(arguments.begin(), arguments.end(), option) != arguments.end();
    };
    const bool host_independent = arguments.empty() || (arguments[0] != "list" && arguments[0] != "journal" && arguments[0] != "repair");
    if (host_independent && !given("--pci-root-buses")) arguments.insert(arguments.end(), {"--pci-root-buses", "0000:00"});
    if (host_independent && !given("--root")) arguments.insert(arguments.end(), {"--root", "/nonexistent-root"});
    arguments.insert(arguments.begin(), healer_path);
    if (limited && address_limit) arguments.insert(arguments.begin(), {"prlimit", "--as=268435456", "--"});
    ProcessOptions options;
    options.timeout = hang_bound;
    const auto result = run_process(arguments, options);
    REQUIRE(result.ok());
    REQUIRE_MESSAGE(!result->timed_out, "reliant-healer hung: " << arguments[0] << " " << arguments[1]);
    return {result->exited ? result->exit_code : -1, result->out, result->err};
}

// A DOCTYPE for `root` whose entity lol9 expands to 10^9 "lol"s.
inline std::string billion_laughs_doctype(const std::string& root) {
    std::string prologue = "<!DOCTYPE " + root + " [\n<!ENTITY lol \"lol\">\n";
    std::string previous = "lol";
    for (int level = 1; level <= 9; ++level) {
        const std::string name = "lol" + std::to_string(level);
        prologue += "<!ENTITY " + name + " \"";
        for (int i = 0; i < 10; ++i) prologue += "&" + previous + ";";
        prologue += "\">\n";
        previous = name;
    }
    return prologue + "]>\n";
}

// Every file under `root` with its content.
inline std::map<std::string, std::string> tree(const std::filesystem::path& root) {
    std::map<std::string, std::string> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
        if (entry.is_regular_file())
            files[std::filesystem::relative(entry.path(), root).string()] = reliant::testing::slurp(entry.path());
    return files;
}

}  // namespace reliant::healer::testing
