// Hostile qubes.xml: each gets a clear error[V1], in bounded memory and time.
// The command runs under a 256 MiB address-space limit (prlimit), except in
// the sanitizer build, whose runtime reserves terabytes of address space.
#include <doctest/doctest.h>

#include "healer_cli_support.h"

using namespace reliant;
using reliant::testing::TempDir;

namespace {

// reliant-healer check under the address-space limit; a hang fails the test.
healer::testing::Run check_file(const std::filesystem::path& file) {
    return healer::testing::healer_run({"check", file.string()}, true);
}

// A loadable document with `inject` inside the first <domains> child.
std::string document(const std::string& prologue, const std::string& inject) {
    return prologue +
           "<qubes><labels><label id=\"label-8\" "
           "color=\"0x000000\">black</label></labels><pools/><properties/>"
           "<domains><domain id=\"domain-0\" class=\"AdminVM\"><properties><property "
           "name=\"label\">black</property>"
           "</properties><features>" +
           inject + "</features><tags/></domain></domains></qubes>\n";
}

void expect_v1_error(const std::string& content, const std::string& message_part) {
    TempDir dir;
    const auto file = dir / "qubes.xml";
    reliant::testing::spit(file, content);
    const auto outcome = check_file(file);
    CAPTURE(outcome.out);
    CHECK(outcome.status == 1);
    CHECK(outcome.out.find("error[V1]") != std::string::npos);
    CHECK(outcome.out.find(message_part) != std::string::npos);
}

}  // namespace

TEST_CASE("the plain document loads") {
    TempDir dir;
    reliant::testing::spit(dir / "qubes.xml", document("", "<feature name=\"x\">1</feature>"));
    CHECK(check_file(dir / "qubes.xml").status == 0);
}

TEST_CASE("billion laughs") {
    expect_v1_error(document(reliant::healer::testing::billion_laughs_doctype("qubes"),
                             "<feature name=\"x\">&lol9;</feature>"),
                    "not loadable XML");
}

TEST_CASE("internal entities cannot amplify past the expansion budget") {
    const std::string chunk(200 * 1024, 'a');
    std::string features;
    for (int i = 0; i < 8; ++i) features += "<feature name=\"f" + std::to_string(i) + "\">&big;</feature>";
    expect_v1_error(document("<!DOCTYPE qubes [<!ENTITY big \"" + chunk + "\">]>\n", features),
                    "entity expansion");
}

TEST_CASE("an external entity is never fetched") {
    TempDir dir;
    reliant::testing::spit(dir / "secret.txt", "TOP-SECRET-CONTENT");
    const std::string prologue =
        "<!DOCTYPE qubes [<!ENTITY xxe SYSTEM \"file://" + (dir / "secret.txt").string() + "\">]>\n";
    reliant::testing::spit(dir / "qubes.xml", document(prologue, "<feature name=\"x\">&xxe;</feature>"));
    const auto outcome = check_file(dir / "qubes.xml");
    CHECK(outcome.status == 1);
    CHECK(outcome.out.find("external or undefined entity 'xxe'") != std::string::npos);
    CHECK(outcome.out.find("TOP-SECRET-CONTENT") == std::string::npos);
}

TEST_CASE("an external DTD is never fetched and only warned about") {
    TempDir dir;
    reliant::testing::spit(dir / "qubes.xml",
                           document("<!DOCTYPE qubes SYSTEM \"http://attacker.example/qubes.dtd\">\n", ""));
    const auto outcome = check_file(dir / "qubes.xml");
    CHECK(outcome.status == 0);
    CHECK(outcome.out.find("warning[V1]") != std::string::npos);
}

TEST_CASE("a 100 MiB file is refused without being parsed") {
    TempDir dir;
    const auto file = dir / "qubes.xml";
    std::string big = document("", "");
    big.insert(big.size() - 9, std::string(100u << 20, ' '));
    reliant::testing::spit(file, big);
    const auto outcome = check_file(file);
    CHECK(outcome.status == 1);
    CHECK(outcome.out.find("larger than the limit") != std::string::npos);
}

TEST_CASE("10,000-deep nesting") {
    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += "<x>";
    for (int i = 0; i < 10000; ++i) deep += "</x>";
    expect_v1_error(document("", deep), "not loadable XML");
}

TEST_CASE("invalid UTF-8") {
    expect_v1_error(document("", "<feature name=\"x\">caf\xe9</feature>"), "not loadable XML");
    expect_v1_error(document("", "<feature name=\"x\">\xed\xa0\x80</feature>"), "not loadable XML");
}
