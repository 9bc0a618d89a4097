#include "healer/python_values.h"

#include <doctest/doctest.h>

#include <climits>

using namespace reliant::healer;

TEST_CASE("python_int follows int()") {
    CHECK(python_int("42") == 42);
    CHECK(python_int(" 21 ") == 21);
    CHECK(python_int("\t-7\n") == -7);
    CHECK(python_int("+3") == 3);
    CHECK(python_int("007") == 7);
    CHECK(python_int("1_000") == 1000);
    CHECK(python_int("99999999999999999999999") == LLONG_MAX);
    CHECK(python_int("-99999999999999999999999") == LLONG_MIN);
    for (const char* bad : {"", " ", "+", "1_", "_1", "1__0", "1.0", "0x10", "one", "1 2"}) {
        CAPTURE(bad);
        CHECK_FALSE(python_int(bad).has_value());
    }
}

TEST_CASE("booleans as qubes.property.bool and qubes.utils.parse_bool") {
    CHECK(property_bool("TRUE") == true);
    CHECK(property_bool("Off") == false);
    CHECK_FALSE(property_bool("maybe").has_value());
    CHECK_FALSE(property_bool(" True").has_value());
    CHECK(utils_parse_bool("") == false);
    CHECK(utils_parse_bool("on") == true);
    CHECK_FALSE(utils_parse_bool("false").has_value());
    CHECK(is_canonical_bool("True"));
    CHECK_FALSE(is_canonical_bool("true"));
}

TEST_CASE("UUIDs as uuid.UUID") {
    const auto canonical = python_uuid("0f552c94-02cd-42af-99de-2bc1b4ff00ae");
    REQUIRE(canonical);
    CHECK(canonical_uuid(*canonical) == "0f552c94-02cd-42af-99de-2bc1b4ff00ae");
    for (const char* same :
         {"0F552C94-02CD-42AF-99DE-2BC1B4FF00AE", "{0f552c94-02cd-42af-99de-2bc1b4ff00ae}",
          "urn:uuid:0f552c9402cd42af99de2bc1b4ff00ae", "0f552c94-02cd42af99de-2bc1b4ff00ae"}) {
        CAPTURE(same);
        const auto parsed = python_uuid(same);
        REQUIRE(parsed);
        CHECK(*parsed == *canonical);
    }
    CHECK_FALSE(python_uuid("not-a-uuid"));
    CHECK_FALSE(python_uuid("0f552c94-02cd-42af-99de-2bc1b4ff00a"));
    CHECK(is_nil(*python_uuid("00000000-0000-0000-0000-000000000000")));
}

TEST_CASE("IP addresses and derived IPs") {
    CHECK(python_ipv4("10.137.0.5"));
    CHECK_FALSE(python_ipv4("10.137.0.05"));
    CHECK_FALSE(python_ipv4("10.137.0.256"));
    CHECK_FALSE(python_ipv4("10.137.0"));
    CHECK(python_ipv6("fd09:24ef:4179::a89:5"));
    CHECK_FALSE(python_ipv6("fd09::24ef::1"));
    // The table of qubes-xml.md §2.6.
    CHECK(vmid_to_ipv4("10.137", 1) == "10.137.0.1");
    CHECK(vmid_to_ipv4("10.137", 254) == "10.137.0.254");
    CHECK(vmid_to_ipv4("10.137", 255) == "10.137.1.1");
    CHECK(vmid_to_ipv4("10.137", 508) == "10.137.1.254");
    CHECK(vmid_to_ipv4("10.137", 509) == "10.137.2.1");
    CHECK(vmid_to_ipv4("10.137", 10000) == "10.137.39.94");
    CHECK(vmid_to_ipv4("10.138", 646) == "10.138.2.138");
}

TEST_CASE("qube names as validate_name") {
    CHECK(qube_name_problem("sys-net").empty());
    CHECK(qube_name_problem("a.b_c-D9").empty());
    CHECK_FALSE(qube_name_problem("9lives").empty());
    CHECK_FALSE(qube_name_problem("my journal!").empty());
    CHECK_FALSE(qube_name_problem("journal-dm").empty());
    CHECK_FALSE(qube_name_problem("none").empty());
    CHECK_FALSE(qube_name_problem(std::string(32, 'a')).empty());
    CHECK(qube_name_problem(std::string(31, 'a')).empty());
}

TEST_CASE("python_int takes Unicode digits and spaces as int() does") {
    CHECK(python_int("\u0664\u0662") == 42);           // Arabic-Indic
    CHECK(python_int("\uff14\uff12") == 42);           // fullwidth
    CHECK(python_int("\u0966_\u0967") == 1);           // Devanagari, with an underscore
    CHECK(python_int("\U0001D7CE\U0001D7CF") == 1);    // mathematical bold (4-byte UTF-8)
    CHECK(python_int("\u00a0 42\u2003\u3000") == 42);  // no-break, em and ideographic spaces
    CHECK(python_int("\u2028-7\u0085") == -7);         // line separator, NEL
    for (const char* bad : {"4\u00b2", "\u2460", "\u0664\u00a0\u0662", "\u200b42", "4\u0301", "\xff"}) {
        CAPTURE(bad);  // superscript, circled digit, inner space, zero-width space, combining mark, bad UTF-8
        CHECK_FALSE(python_int(bad).has_value());
    }
}

TEST_CASE("python_length counts characters, not bytes") {
    CHECK(python_length("abc") == 3);
    CHECK(python_length("\u00e9\u20ac\U0001F600") == 3);
    CHECK(python_length("") == 0);
    CHECK_FALSE(python_length("\xc3").has_value());
}

TEST_CASE("UUIDs in the spellings int(hex, 16) adds") {
    const auto canonical = python_uuid("0f552c94-02cd-42af-99de-2bc1b4ff00ae");
    REQUIRE(canonical);
    // 32 characters after braces, urn:, uuid: and hyphens are removed; then
    // int(hex, 16): surrounding spaces, '+', '0x', underscores, Unicode digits.
    const auto zero_padded = python_uuid(" 0f552c9402cd42af99de2bc1b4ff00a");
    REQUIRE(zero_padded);
    CHECK(canonical_uuid(*zero_padded) == "00f552c9-402c-d42a-f99d-e2bc1b4ff00a");
    CHECK(python_uuid("+0f552c9402cd42af99de2bc1b4ff00a") == zero_padded);
    CHECK(python_uuid("0x0f552c9402cd42af99de2bc1b4ff00") == python_uuid("000f552c9402cd42af99de2bc1b4ff00"));
    CHECK(python_uuid("0f552c94_2cd42af99de2bc1b4ff00ae") == python_uuid("00f552c942cd42af99de2bc1b4ff00ae"));
    CHECK(python_uuid("\u0660f552c9402cd42af99de2bc1b4ff00ae") == canonical);
    CHECK(python_uuid("{{0f552c94-02cd-42af-99de-2bc1b4ff00ae}}") == canonical);
    CHECK(python_uuid("+-0f552c9402cd42af99de2bc1b4ff00a") == zero_padded);  // '-' goes first
    for (const char* bad : {"0f552c94_2cd42af99de2bc1b4ff00a_", "__0f552c9402cd42af99de2bc1b4ff00",
                            "0f552c94 2cd42af99de2bc1b4ff00ae", " 0f552c9402cd42af99de2bc1b4ff00ae",
                            "0f552c9402cd42af99de2bc1b4ff00a\u00e9", "{}"}) {
        CAPTURE(bad);
        CHECK_FALSE(python_uuid(bad).has_value());
    }
}

// Hostile bytes (truncated and overlong UTF-8, lone continuation bytes,
// surrogates) never make the parsers read past the text (run under ASan) and
// never turn into a value: only decodable text can be a number or a UUID.
TEST_CASE("python values on malformed UTF-8 decline, never overrun") {
    const std::string tails[] = {"\xc3", "\xe2\x82", "\xf0\x9f\x98", "\x80", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80"};
    for (const std::string& tail : tails) {
        for (const std::string& head : {std::string("42"), std::string("\u0664"), std::string(31, 'a')}) {
            const std::string text = head + tail;
            CAPTURE(text);
            CHECK_FALSE(python_int(text).has_value());
            CHECK_FALSE(python_uuid(text).has_value());
            (void)python_length(text);
        }
    }
    // Every split point of a multi-byte digit: only the whole one is a digit.
    const std::string four = "\U0001D7D2";  // MATHEMATICAL BOLD DIGIT FOUR
    for (std::size_t cut = 1; cut < four.size(); ++cut) CHECK_FALSE(python_int(four.substr(0, cut)).has_value());
    CHECK(python_int(four) == 4);
}
