#include "common/arguments.h"

#include <doctest/doctest.h>

using reliant::Arguments;
using reliant::ArgumentSpec;

namespace {
const ArgumentSpec spec{{"json", "dry-run"}, {"out", "base"}};
}

TEST_CASE("flags, options in both spellings, and operands") {
    const auto parsed =
        Arguments::parse({"--json", "--out", "o.xml", "--base=b.xml", "a.xml", "b.xml"}, spec);
    REQUIRE(parsed.ok());
    CHECK(parsed->flag("json"));
    CHECK_FALSE(parsed->flag("dry-run"));
    CHECK(parsed->option("out") == "o.xml");
    CHECK(parsed->option("base") == "b.xml");
    CHECK_FALSE(parsed->option("missing").has_value());
    CHECK(parsed->operands() == std::vector<std::string>{"a.xml", "b.xml"});
}

TEST_CASE("-- ends options and - is an operand") {
    const auto parsed = Arguments::parse({"--", "--json", "-"}, spec);
    REQUIRE(parsed.ok());
    CHECK_FALSE(parsed->flag("json"));
    CHECK(parsed->operands() == std::vector<std::string>{"--json", "-"});
}

TEST_CASE("mistakes are errors") {
    CHECK_FALSE(Arguments::parse({"--jsn"}, spec).ok());
    CHECK_FALSE(Arguments::parse({"-x"}, spec).ok());
    CHECK_FALSE(Arguments::parse({"--out"}, spec).ok());
    CHECK_FALSE(Arguments::parse({"--json=1"}, spec).ok());
}
