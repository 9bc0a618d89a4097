#include "session/settings.h"

#include <doctest/doctest.h>

#include "common/process.h"
#include "test_support.h"

using namespace reliant;
using namespace reliant::session;

TEST_CASE("settings: the sh assignments both readers agree on") {
    auto settings = Settings::parse(
        "# reliant boot settings\n"
        "\n"
        "RELIANT_DEVICE=PARTUUID=5f3a-04\n"
        "  RELIANT_BASE=\"LABEL=base system\"   \n"
        "RELIANT_EXTRA='rd.reliant.fsck=1 $notexpanded'\n"
        "EMPTY=\n"
        "EMPTY_QUOTED=\"\"\n");
    REQUIRE(settings.ok());
    CHECK(settings->get("RELIANT_DEVICE") == "PARTUUID=5f3a-04");
    CHECK(settings->get("RELIANT_BASE") == "LABEL=base system");
    CHECK(settings->get("RELIANT_EXTRA") == "rd.reliant.fsck=1 $notexpanded");
    CHECK(settings->get("EMPTY") == "");
    CHECK(settings->get("EMPTY_QUOTED") == "");
    CHECK_FALSE(settings->get("MISSING").has_value());
    CHECK(settings->get_or("EMPTY", "fallback") == "fallback");
    CHECK(settings->get_or("RELIANT_DEVICE", "fallback") == "PARTUUID=5f3a-04");
}

TEST_CASE("settings: what sh would read differently is refused with its line") {
    for (const char* text : {"A=$(reboot)\n", "A=\"$HOME\"\n", "A=`id`\n", "A=\"a\\\"b\"\n", "A=two words\n",
                             "A=\"unterminated\n", "export A=1\n", "1A=x\n", "A='x'y'\n", "A=x;reboot\n",
                             "just words\n"}) {
        auto settings = Settings::parse(std::string("B=1\n") + text);
        CHECK_MESSAGE(!settings.ok(), text);
        if (!settings.ok()) CHECK(settings.error().describe().find("line 2") != std::string::npos);
    }
}

TEST_CASE("settings: sh reads the accepted file to the same values") {
    reliant::testing::TempDir dir;
    const std::string text =
        "RELIANT_DEVICE=PARTUUID=5f3a-04\nRELIANT_BASE=\"LABEL=base system\"\nRELIANT_EXTRA='a $b `c` \\d'\n";
    reliant::testing::spit(dir / "reliant", text);
    auto settings = Settings::parse(text);
    REQUIRE(settings.ok());
    auto shell = run_process({"/bin/sh", "-c",
                              ". \"$0\" && printf '%s|%s|%s' \"$RELIANT_DEVICE\" \"$RELIANT_BASE\" \"$RELIANT_EXTRA\"",
                              (dir / "reliant").string()});
    REQUIRE(shell.ok());
    CHECK(shell->out == *settings->get("RELIANT_DEVICE") + "|" + *settings->get("RELIANT_BASE") + "|" +
                            *settings->get("RELIANT_EXTRA"));
}

TEST_CASE("settings: the record location") {
    auto settings = Settings::parse("RELIANT_RECORD_DEVICE=UUID=1234\nRELIANT_RECORD_FSTYPE=ext4\n");
    REQUIRE(settings.ok());
    auto location = record_location(*settings);
    REQUIRE(location.ok());
    CHECK(location->device == "UUID=1234");
    CHECK(location->fstype == "ext4");
    CHECK(location->path == "reliant/seal.env");

    for (const char* bad : {"RELIANT_RECORD_FSTYPE=ext4\n", "RELIANT_RECORD_DEVICE=UUID=1\n",
                            "RELIANT_RECORD_DEVICE=UUID=1\nRELIANT_RECORD_FSTYPE=ext4\nRELIANT_RECORD_PATH=/abs\n",
                            "RELIANT_RECORD_DEVICE=UUID=1\nRELIANT_RECORD_FSTYPE=ext4\nRELIANT_RECORD_PATH=a/../../x\n",
                            "RELIANT_RECORD_DEVICE=UUID=1\nRELIANT_RECORD_FSTYPE=ext4\nRELIANT_RECORD_PATH=dir/\n"}) {
        auto parsed = Settings::parse(bad);
        REQUIRE(parsed.ok());
        CHECK_MESSAGE(!record_location(*parsed).ok(), bad);
    }
}
