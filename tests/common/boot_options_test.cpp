#include "common/boot_options.h"

#include <doctest/doctest.h>

using reliant::BootMode;
using reliant::KernelCmdline;
using reliant::parse_boot_options;

namespace {

reliant::Result<reliant::BootOptions> parse(const char* text) {
    return parse_boot_options(KernelCmdline::parse(text));
}

}  // namespace

TEST_CASE("defaults without any reliant option") {
    const auto options = parse("root=/dev/vda ro quiet");
    REQUIRE(options.ok());
    CHECK_FALSE(options->enabled);
    CHECK(options->mode == BootMode::normal);
    CHECK(options->tries == 3);
    CHECK(options->timeout_seconds == 0);
    CHECK_FALSE(options->fsck);
    CHECK_FALSE(options->discard);
    CHECK_FALSE(options->dvl.has_value());
    CHECK(options->overlay_size.empty());
    CHECK(options->base == "/dev/vda");  // root= is the fallback
    CHECK_FALSE(options->integrity.has_value());
    CHECK(options->verity_hash.empty());
    CHECK(options->verity_offset == 0);
    CHECK(options->verity_root_hash.empty());
    CHECK(options->hash_sha256.empty());
}

TEST_CASE("every option is read") {
    const auto options = parse(
        "rd.reliant=1 rd.reliant.mode=maintenance rd.reliant.device=PARTUUID=ab-12 rd.reliant.tries=5 "
        "rd.reliant.timeout=60 rd.reliant.fsck rd.reliant.dvl=2 rd.reliant.discard=1 "
        "rd.reliant.overlay.size=2G");
    REQUIRE(options.ok());
    CHECK(options->enabled);
    CHECK(options->mode == BootMode::maintenance);
    CHECK(options->device == "PARTUUID=ab-12");
    CHECK(options->tries == 5);
    CHECK(options->timeout_seconds == 60);
    CHECK(options->fsck);
    CHECK(options->dvl == 2u);
    CHECK(options->discard);
    CHECK(options->overlay_size == "2G");
    CHECK(options->unknown_keys.empty());
}

TEST_CASE("rd.reliant=0 switches reliant off") {
    const auto options = parse("rd.reliant=0");
    REQUIRE(options.ok());
    CHECK_FALSE(options->enabled);
}

TEST_CASE("malformed values are errors that name the option") {
    for (const char* text :
         {"rd.reliant.tries=0",
          "rd.reliant.tries=abc",
          "rd.reliant.tries=3x",
          "rd.reliant.tries=",
          "rd.reliant.dvl=15",
          "rd.reliant.timeout=-1",
          "rd.reliant.mode=rescue",
          "rd.reliant.overlay.size=lots",
          "rd.reliant.overlay.size=0%",
          "rd.reliant.overlay.size=101%",
          "rd.reliant.overlay.size=0",
          "rd.reliant.overlay.size=000G",
          "rd.reliant.integrity=sha1",
          "rd.reliant.integrity=",
          "rd.reliant.verity.offset=4097",
          "rd.reliant.verity.offset=-4096",
          "rd.reliant.verity.offset=4k",
          "rd.reliant.verity.roothash=abc",
          "rd.reliant.verity.roothash=zz00000000000000000000000000000000000000000000000000000000000000",
          "rd.reliant.hash.sha256=00000000000000000000000000000000000000000000000000000000000000000"}) {
        CAPTURE(text);
        const auto options = parse(text);
        REQUIRE_FALSE(options.ok());
        const std::string key(text, std::string_view(text).find('='));
        CHECK(options.error().message().starts_with(key));
    }
}

TEST_CASE("percentages and suffixed sizes are accepted") {
    for (const char* text : {"rd.reliant.overlay.size=25%", "rd.reliant.overlay.size=512M",
                             "rd.reliant.overlay.size=1048576", "rd.reliant.overlay.size=100%"}) {
        CAPTURE(text);
        CHECK(parse(text).ok());
    }
}

TEST_CASE("unknown reliant keys are reported, not fatal") {
    const auto options = parse("rd.reliant=1 rd.reliant.frobnicate=1 rd.reliant.frobnicate=2 rd.other=1");
    REQUIRE(options.ok());
    REQUIRE(options->unknown_keys.size() == 1);
    CHECK(options->unknown_keys[0] == "rd.reliant.frobnicate");
}

TEST_CASE("absurdly large numbers are rejected, not thrown") {
    CHECK_FALSE(parse("rd.reliant.overlay.size=99999999999999999999999%").ok());
    CHECK_FALSE(parse("rd.reliant.tries=99999999999999999999999").ok());
}

TEST_CASE("integrity options are read and hex is normalised to lower case") {
    const std::string upper(64, 'A');
    const auto options = parse(
        ("rd.reliant.base=PARTUUID=11-22 rd.reliant.integrity=verity rd.reliant.verity.hash=LABEL=hashes "
         "rd.reliant.verity.offset=1073741824 rd.reliant.verity.roothash=" +
         upper + " rd.reliant.hash.sha256=" + std::string(64, 'f'))
            .c_str());
    REQUIRE(options.ok());
    CHECK(options->base == "PARTUUID=11-22");
    CHECK(options->integrity == reliant::IntegrityMode::verity);
    CHECK(options->verity_hash == "LABEL=hashes");
    CHECK(options->verity_offset == 1073741824u);
    CHECK(options->verity_root_hash == std::string(64, 'a'));
    CHECK(options->hash_sha256 == std::string(64, 'f'));
    CHECK(options->unknown_keys.empty());
}

TEST_CASE("the base falls back to root= and rd.reliant.base wins over it") {
    CHECK(parse("root=UUID=abc ro")->base == "UUID=abc");
    CHECK(parse("root=UUID=abc rd.reliant.base=/dev/vdb")->base == "/dev/vdb");
    CHECK(parse("rd.reliant.integrity=hash")->integrity == reliant::IntegrityMode::hash);
    CHECK(parse("rd.reliant.integrity=none")->integrity == reliant::IntegrityMode::none);
}
