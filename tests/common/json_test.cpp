#include "common/json.h"

#include <doctest/doctest.h>

using reliant::json_quote;

TEST_CASE("json_quote escapes what JSON requires") {
    CHECK(json_quote("plain") == "\"plain\"");
    CHECK(json_quote("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_quote("line\nbreak\ttab\r") == R"("line\nbreak\ttab\r")");
    CHECK(json_quote(std::string_view("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
    CHECK(json_quote(std::string_view("nul\0", 4)) == R"("nul\u0000")");
}

TEST_CASE("json_quote keeps UTF-8 and replaces invalid bytes") {
    CHECK(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92") ==
          "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
    CHECK(json_quote("caf\xe9") == R"("caf\ufffd")");
    CHECK(json_quote("\xc0\xaf") == R"("\ufffd\ufffd")");            // overlong
    CHECK(json_quote("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");  // surrogate
    CHECK(json_quote("\xe2\x82") == R"("\ufffd\ufffd")");            // truncated
}

TEST_CASE("json_parse reads what json_quote and the reports write") {
    const auto value = reliant::json_parse(R"({"a":[1,2.5,-3e2],"b":{"c":"x\"y\u00e9\n"},"t":true,"f":false,"n":null})");
    REQUIRE(value.ok());
    const auto* a = value->member("a");
    REQUIRE(a);
    REQUIRE(a->array());
    CHECK(a->array()->size() == 3);
    CHECK(*value->member("b")->member("c")->string() == "x\"y\xc3\xa9\n");
    CHECK(value->member("missing") == nullptr);
    const std::string quoted = json_quote("tab\tquote\"\x01");
    const auto round = reliant::json_parse(quoted);
    REQUIRE(round.ok());
    CHECK(*round->string() == "tab\tquote\"\x01");
}

TEST_CASE("json_parse refuses malformed and too deep input") {
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "1 2", "{\"a\":1}x", "\"\\q\""}) {
        CAPTURE(bad);
        CHECK_FALSE(reliant::json_parse(bad).ok());
    }
    std::string deep(100, '[');
    deep += std::string(100, ']');
    CHECK_FALSE(reliant::json_parse(deep).ok());
    CHECK(reliant::json_parse(deep, 200).ok());
}
