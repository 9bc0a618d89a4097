// reliant-overlay's command line on image files (no root, no devices): seal
// prints and records the kernel arguments, verify accepts exactly those, and
// bad arguments are errors.
#include <doctest/doctest.h>

#include "common/process.h"
#include "overlay/overlay_root.h"
#include "overlay_support.h"
#include "test_support.h"

using reliant::testing::TempDir;

namespace fs = std::filesystem;

namespace {

struct Tool {
    fs::path dir;

    reliant::ProcessResult run(const std::string& cmdline, std::vector<std::string> args) const {
        reliant::testing::spit(dir / "cmdline", cmdline + "\n");
        std::vector<std::string> argv = {reliant::testing::binary_dir() + "/overlay/reliant-overlay",
                                         "--cmdline", (dir / "cmdline").string(), "--run-dir",
                                         (dir / "run").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return reliant::run_process(argv).value();
    }
};

fs::path make_base(const TempDir& dir) {
    fs::create_directories(dir / "tree/etc");
    reliant::testing::spit(dir / "tree/etc/os-release", "ID=reliant-test\n");
    reliant::testing::make_ext4(dir / "base.img", dir / "tree", "8M");
    return dir / "base.img";
}

}  // namespace

TEST_CASE("seal prints and records the arguments, and verify accepts them") {
    TempDir dir;
    const fs::path base = make_base(dir);
    const Tool tool{dir.path()};
    const auto sealed = tool.run(
        "", {"seal", "--mode", "hash", "--base", base.string(), "--record", (dir / "seal.conf").string()});
    INFO(sealed.err);
    REQUIRE(sealed.succeeded());
    const std::string digest = reliant::testing::run_ok({"sha256sum", base.string()}).substr(0, 64);
    const std::string line =
        "rd.reliant.base=" + base.string() + " rd.reliant.integrity=hash rd.reliant.hash.sha256=" + digest;
    CHECK(sealed.out == line + "\n");
    CHECK(reliant::testing::slurp(dir / "seal.conf") == line + "\n");

    const auto verified = tool.run(line, {"verify"});
    INFO(verified.err);
    CHECK(verified.succeeded());
    const auto recorded = reliant::overlay::read_verified_base(reliant::overlay::RootLayout{dir / "run"});
    REQUIRE(recorded.ok());
    CHECK(recorded->mode == "hash");
    CHECK(recorded->device == base);
}

TEST_CASE("seal takes its defaults from the command line, verity included") {
    TempDir dir;
    const fs::path base = make_base(dir);
    const Tool tool{dir.path()};
    const auto sealed = tool.run(
        "rd.reliant.base=" + base.string() + " rd.reliant.verity.hash=" + (dir / "base.verity").string(),
        {"seal"});
    INFO(sealed.err);
    REQUIRE(sealed.succeeded());
    CHECK(sealed.out.starts_with("rd.reliant.base=" + base.string() + " rd.reliant.integrity=verity " +
                                 "rd.reliant.verity.hash=" + (dir / "base.verity").string() +
                                 " rd.reliant.verity.roothash="));
    CHECK(fs::file_size(dir / "base.verity") > 0);
}

TEST_CASE("bad arguments are refused with a message, not ignored") {
    TempDir dir;
    const fs::path base = make_base(dir);
    const Tool tool{dir.path()};
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"seal", "--base", base.string(), "--hash-offset", "12x"},
                                               {"seal", "--base", base.string(), "--mode", "sha1"},
                                               {"seal", "--base", base.string(), "--colour", "blue"},
                                               {"seal"},
                                               {"loops", "--sysroot"}}) {
        CAPTURE(args[0]);
        const auto result = tool.run("", args);
        CHECK(result.exit_code == 1);
        CHECK_FALSE(result.err.empty());
    }
    CHECK(tool.run("", {"frobnicate"}).exit_code == 2);
    // A malformed rd.reliant.* value stops every command.
    CHECK(tool.run("rd.reliant.integrity=maybe", {"mount-options"}).exit_code == 1);
}

TEST_CASE("maintenance mode: protect, verify and loops do nothing, prepare and mount-root refuse") {
    TempDir dir;
    const Tool tool{dir.path()};
    for (const char* command : {"protect", "verify", "loops"}) {
        CAPTURE(command);
        const auto result = tool.run("rd.reliant.mode=maintenance", {command});
        CHECK(result.succeeded());
        CHECK(result.err.find("maintenance mode") != std::string::npos);
    }
    for (const char* command : {"prepare", "mount-root"}) {
        CAPTURE(command);
        const auto result = tool.run("rd.reliant.mode=maintenance", {command});
        CHECK(result.exit_code == 1);
        CHECK(result.err.find("maintenance mode uses the base directly") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(dir / "run"));
}
