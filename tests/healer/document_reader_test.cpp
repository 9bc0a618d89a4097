#include "healer/document_reader.h"

#include <doctest/doctest.h>

using namespace reliant::healer;

namespace {

struct Read {
    Diagnostics diagnostics{"in.xml"};
    std::optional<Document> document;
};

Read read(const std::string& xml, ReadOptions options = {}) {
    Read result;
    result.document = read_document(xml, result.diagnostics, options);
    return result;
}

}  // namespace

TEST_CASE("values are read as lxml gives them to qubesd") {
    const auto r = read(
        "<qubes><domains><domain class=\"AppVM\" id=\"domain-3\"><properties>"
        "<property name=\"netvm\"></property>"
        "<property name=\"label\" ref=\"label-1\"/>"
        "<property name=\"name\"> spaced </property>"
        "<property name=\"kernel\">a<!-- c -->b</property>"
        "</properties></domain></domains></qubes>");
    REQUIRE(r.document);
    const Domain& d = r.document->domains.at(0);
    CHECK(d.klass == "AppVM");
    CHECK(d.id == "domain-3");
    REQUIRE(d.property("netvm"));
    CHECK_FALSE(d.property("netvm")->value().has_value());  // empty: None
    CHECK_FALSE(d.property("template"));                    // absent: the default
    CHECK(d.value("label") == "label-1");                   // ref wins over text
    CHECK(d.value("name") == " spaced ");                   // verbatim
    CHECK(d.value("kernel") == "a");                        // text before the comment only
    CHECK(r.diagnostics.has("V2", Severity::warning));      // the comment
}

TEST_CASE("lines point into the source") {
    const auto r =
        read("<qubes>\n<labels>\n<label id=\"label-1\" color=\"0xcc0000\">red</label>\n</labels>\n</qubes>");
    REQUIRE(r.document);
    CHECK(r.document->labels.at(0).line == 3);
}

TEST_CASE("unknown elements and attributes are reported and left out") {
    const auto r = read(
        "<qubes><pools><pool name=\"p\" driver=\"file\" dir_path=\"/x\"><child/></pool></pools>"
        "<domains><domain class=\"AppVM\" "
        "shard=\"1\"><properties/><extra/></domain></domains><other/></qubes>");
    REQUIRE(r.document);
    int v2 = 0;
    for (const auto& d : r.diagnostics.items()) v2 += d.rule == "V2";
    CHECK(v2 == 4);  // <child/>, shard=, <extra/>, <other/>
    CHECK(r.document->pools.at(0).attributes.size() == 3);
    CHECK_FALSE(r.diagnostics.has_errors());
}

TEST_CASE("internal entities are expanded, within a budget") {
    const std::string doctype = "<!DOCTYPE qubes [<!ENTITY net \"sys-net\">]>";
    const auto r =
        read(doctype +
             "<qubes><properties><property name=\"default_netvm\">&net;</property></properties></qubes>");
    REQUIRE(r.document);
    CHECK(r.document->value("default_netvm") == "sys-net");
    CHECK(r.diagnostics.has("V1", Severity::warning));
    CHECK_FALSE(r.diagnostics.has_errors());

    ReadOptions small;
    small.limits.max_entity_expansion = 4;
    const auto limited = read(
        doctype + "<qubes><properties><property name=\"x\">&net;</property></properties></qubes>", small);
    CHECK(limited.diagnostics.has("V1", Severity::error));
}

TEST_CASE("a DOCTYPE in untrusted input is an error") {
    ReadOptions strict;
    strict.doctype = DoctypePolicy::reject;
    const auto r = read("<!DOCTYPE qubes><qubes/>", strict);
    CHECK(r.diagnostics.has("V1", Severity::error));
}

TEST_CASE("malformed XML is an error with its line, and no document") {
    const auto r = read("<qubes>\n<labels>\n</qubes>");
    CHECK_FALSE(r.document);
    REQUIRE(r.diagnostics.items().size() == 1);
    CHECK(r.diagnostics.items()[0].rule == "V1");
    CHECK(r.diagnostics.items()[0].line == 3);
}

TEST_CASE("the size limit is enforced before parsing") {
    ReadOptions tiny;
    tiny.limits.max_bytes = 10;
    const auto r = read("<qubes>                 </qubes>", tiny);
    CHECK_FALSE(r.document);
    CHECK(r.diagnostics.has("V1", Severity::error));
}

TEST_CASE("a namespaced root hides everything from qubesd") {
    const auto r = read(
        "<qubes xmlns=\"http://qubes-os.org/qubes/3\"><labels><label "
        "id=\"label-1\">red</label></labels></qubes>");
    REQUIRE(r.document);
    CHECK(r.document->labels.empty());
    CHECK(r.diagnostics.has("V2", Severity::warning));
}
