#include <doctest/doctest.h>

#include "common/hex.h"

using reliant::from_hex;
using reliant::to_hex;

TEST_CASE("hex: every byte value, lower case out, both cases back") {
    std::string all;
    for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
    const std::string hex = to_hex(all);
    CHECK(hex.size() == 512);
    CHECK(hex.substr(0, 6) == "000102");
    CHECK(hex.substr(hex.size() - 4) == "feff");
    CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(from_hex(hex) == all);
    CHECK(from_hex("DEADbeef") == std::string("\xde\xad\xbe\xef"));
    const unsigned char bytes[] = {0x0f, 0xa0};
    CHECK(to_hex(bytes, sizeof bytes) == "0fa0");
    CHECK(to_hex("") == "");
    CHECK(from_hex("") == std::string());
}

TEST_CASE("hex: odd lengths and non-digits are refused") {
    for (const char* bad : {"0", "abc", "0g", "g0", " 0", "0x00", "-1", "zz", "\xc3\xa9"}) {
        CAPTURE(bad);
        CHECK_FALSE(from_hex(bad));
    }
}
