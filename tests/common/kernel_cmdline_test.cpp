#include "common/kernel_cmdline.h"

#include <doctest/doctest.h>

using reliant::cmdline_truthy;
using reliant::KernelCmdline;

TEST_CASE("splits on whitespace and keeps bare flags") {
    const auto cmdline = KernelCmdline::parse("  root=/dev/vda1 ro\tquiet\nrd.reliant=1 ");
    REQUIRE(cmdline.arguments().size() == 4);
    CHECK(cmdline.get("root") == "/dev/vda1");
    CHECK(cmdline.get("ro") == "");
    CHECK(cmdline.has("quiet"));
    CHECK(cmdline.get("rd.reliant") == "1");
    CHECK_FALSE(cmdline.get("absent").has_value());
}

TEST_CASE("the last occurrence wins, as with dracut's getarg") {
    const auto cmdline = KernelCmdline::parse("rd.reliant.tries=2 rd.reliant.tries=5");
    CHECK(cmdline.get("rd.reliant.tries") == "5");
}

TEST_CASE("quotes group whitespace and are stripped like the kernel does") {
    const auto cmdline = KernelCmdline::parse(R"(a="x y" "b=p q" c=plain d="" "e")");
    CHECK(cmdline.get("a") == "x y");
    CHECK(cmdline.get("b") == "p q");
    CHECK(cmdline.get("c") == "plain");
    CHECK(cmdline.get("d") == "");
    CHECK(cmdline.has("e"));
}

TEST_CASE("values keep later equals signs") {
    const auto cmdline = KernelCmdline::parse("rd.reliant.device=PARTUUID=1234-ab");
    CHECK(cmdline.get("rd.reliant.device") == "PARTUUID=1234-ab");
}

TEST_CASE("hostile input never crashes and yields no empty keys") {
    for (const char* text : {"\"", "\"\"", "=", "=x", "\"=\"", "a=\"unterminated", "   \"  "}) {
        const auto cmdline = KernelCmdline::parse(text);
        for (const auto& argument : cmdline.arguments()) CHECK_FALSE(argument.key.empty());
    }
}

TEST_CASE("booleans follow dracut") {
    CHECK(cmdline_truthy(""));
    CHECK(cmdline_truthy("1"));
    CHECK(cmdline_truthy("yes"));
    CHECK_FALSE(cmdline_truthy("0"));
    CHECK_FALSE(cmdline_truthy("no"));
    CHECK_FALSE(cmdline_truthy("off"));
    CHECK_FALSE(cmdline_truthy("false"));
}
