#include "healer/serializer.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "healer/document_reader.h"
#include "test_support.h"

using namespace reliant::healer;
using reliant::testing::test_data_dir;
using reliant::testing::slurp;

namespace fs = std::filesystem;

namespace {

std::string round_trip(const std::string& xml) {
    Diagnostics diagnostics("input.xml");
    const auto document = read_document(xml, diagnostics);
    REQUIRE(document.has_value());
    return serialize(*document);
}

}  // namespace

TEST_CASE("files qubesd wrote come back byte-identical") {
    std::vector<fs::path> files = {test_data_dir() + "/fixtures/system-small.xml",
                                   test_data_dir() + "/fixtures/system-large.xml"};
    for (const char* name :
         {"001-valid-base-only", "002-valid-small-lvm", "003-valid-reflink-base", "004-valid-file-base",
          "005-valid-medium", "006-valid-large", "007-valid-written-by-main", "008-valid-decoy-no-hidden"})
        files.push_back(test_data_dir() + "/conformance/qubes-xml/" + name + "/qubes.xml");
    for (const auto& file : files) {
        CAPTURE(file);
        const std::string original = slurp(file);
        REQUIRE_FALSE(original.empty());
        CHECK(round_trip(original) == original);
    }
}

TEST_CASE("empty, absent and escaped values survive") {
    const std::string xml =
        "<qubes>\n"
        "  <labels/>\n"
        "  <pools>\n"
        "    <pool name=\"p\" dir_path=\"/a &amp; b&quot;&#10;\" driver=\"file\"/>\n"
        "  </pools>\n"
        "  <properties/>\n"
        "  <domains>\n"
        "    <domain id=\"domain-3\" class=\"AppVM\">\n"
        "      <properties>\n"
        "        <property name=\"netvm\"></property>\n"
        "        <property name=\"name\">a&lt;b&gt;&amp;c</property>\n"
        "      </properties>\n"
        "      <features>\n"
        "        <feature name=\"empty\"></feature>\n"
        "        <feature name=\"multi\">line one\nline \"two\"</feature>\n"
        "      </features>\n"
        "      <tags/>\n"
        "      <devices class=\"pci\"/>\n"
        "      <volume-config/>\n"
        "    </domain>\n"
        "  </domains>\n"
        "</qubes>\n";
    CHECK(round_trip(xml) == xml);
}

TEST_CASE("normalizations: self-closed empty values, ref attributes, missing sections") {
    const std::string input =
        "<qubes><domains><domain id=\"domain-1\" class=\"AppVM\"><properties>"
        "<property name=\"netvm\"/><property name=\"label\" ref=\"label-6\"/>"
        "</properties><features><feature name=\"f\"/></features></domain></domains></qubes>";
    const std::string expected =
        "<qubes>\n"
        "  <labels/>\n"
        "  <pools/>\n"
        "  <properties/>\n"
        "  <domains>\n"
        "    <domain id=\"domain-1\" class=\"AppVM\">\n"
        "      <properties>\n"
        "        <property name=\"netvm\"></property>\n"
        "        <property name=\"label\">label-6</property>\n"
        "      </properties>\n"
        "      <features>\n"
        "        <feature name=\"f\"></feature>\n"
        "      </features>\n"
        "      <tags/>\n"
        "    </domain>\n"
        "  </domains>\n"
        "</qubes>\n";
    CHECK(round_trip(input) == expected);
}
