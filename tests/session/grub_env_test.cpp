#include "session/grub_env.h"

#include <doctest/doctest.h>

#include "common/process.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::session;
using reliant::testing::slurp;
using reliant::testing::spit;

namespace {
const std::string seal =
    "rd.reliant.base=PARTUUID=5f-03 rd.reliant.integrity=verity rd.reliant.verity.hash=PARTUUID=5f-05 "
    "rd.reliant.verity.roothash=9bd8f4d6c1e6f2f8a0a4b9b6f7c8e9d0a1b2c3d4e5f60718293a4b5c6d7e8f90";
}

TEST_CASE("grub env: a block of exactly 1024 bytes, '#'-padded, that reads back") {
    GrubEnv env;
    REQUIRE(env.set("reliant_seal", seal).ok());
    REQUIRE(env.set("reliant_seal_status", "sealed").ok());
    REQUIRE(env.set("reliant_seal_status", "failed").ok());  // replaces
    auto bytes = env.render();
    REQUIRE(bytes.ok());
    CHECK(bytes->size() == 1024);
    CHECK(bytes->starts_with("# GRUB Environment Block\nreliant_seal=" + seal + "\nreliant_seal_status=failed\n#"));
    CHECK(bytes->back() == '#');
    auto parsed = GrubEnv::parse(*bytes);
    REQUIRE(parsed.ok());
    CHECK(parsed->variables().size() == 2);
    CHECK(parsed->get("reliant_seal") == seal);
    CHECK(parsed->get("reliant_seal_status") == "failed");
}

TEST_CASE("grub env: refusals") {
    GrubEnv env;
    CHECK_FALSE(env.set("bad-name", "x").ok());
    CHECK_FALSE(env.set("9x", "x").ok());
    CHECK_FALSE(env.set("x", "back\\slash").ok());
    CHECK_FALSE(env.set("x", "new\nline").ok());
    REQUIRE(env.set("x", std::string(1000, 'a')).ok());
    CHECK_FALSE(env.render().ok());
    CHECK_FALSE(GrubEnv::parse("not a block").ok());
    CHECK_FALSE(GrubEnv::parse("# GRUB Environment Block\n=novalue\n").ok());
}

TEST_CASE("grub env: GRUB's own tool reads what we write, and we read what it writes") {
    reliant::testing::TempDir dir;
    GrubEnv env;
    REQUIRE(env.set("reliant_seal", seal).ok());
    REQUIRE(env.set("reliant_seal_status", "sealed").ok());
    spit(dir / "ours.env", *env.render());
    auto listed = run_process({"grub-editenv", (dir / "ours.env").string(), "list"});
    REQUIRE(listed.ok());
    CHECK(listed->succeeded());
    CHECK(listed->out == "reliant_seal=" + seal + "\nreliant_seal_status=sealed\n");

    const auto theirs = dir / "theirs.env";
    REQUIRE(run_process({"grub-editenv", theirs.string(), "create"})->succeeded());
    REQUIRE(run_process({"grub-editenv", theirs.string(), "set", "saved_entry=reliant-normal", "reliant_seal=" + seal})
                ->succeeded());
    auto parsed = GrubEnv::parse(slurp(theirs));
    REQUIRE(parsed.ok());
    CHECK(parsed->get("saved_entry") == "reliant-normal");
    CHECK(parsed->get("reliant_seal") == seal);
    CHECK(slurp(theirs).size() == 1024);
}
