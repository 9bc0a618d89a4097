// reliant-healer check on the 2000-qube fixture (tests/data/fixtures/system-large.xml)
// against libxml2 parsing the same bytes, in the same run.
//   build/static/tests/bench/bench-healer-check [ROUNDS]
#include <libxml/parser.h>

#include <cstdio>
#include <cstdlib>

#include "bench.h"
#include "common/file_io.h"
#include "healer/document_reader.h"
#include "healer/validator.h"

using namespace reliant;
using namespace reliant::healer;

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 30;
    const std::string path = std::string(RELIANT_TEST_DATA_DIR) + "/fixtures/system-large.xml";
    auto bytes = read_file(path, 64u << 20);
    if (!bytes) {
        std::fprintf(stderr, "%s\n", bytes.error().describe().c_str());
        return 2;
    }
    bool loads = false;
    const auto results =
        bench::run({{"libxml2 parse alone (baseline)",
                     [&] {
                         xmlDoc* doc = xmlReadMemory(bytes->data(), static_cast<int>(bytes->size()), nullptr,
                                                     nullptr, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
                         xmlFreeDoc(doc);
                     }},
                    {"check: parse + model + validate",
                     [&] {
                         Diagnostics diagnostics(path);
                         ValidationOptions options;
                         options.pci_root_buses = std::vector<std::string>{"0000:00"};
                         if (const auto document = read_document(*bytes, diagnostics))
                             validate(*document, diagnostics, options);
                         loads = !diagnostics.has_errors();
                     }}},
                   rounds);
    std::printf("system-large.xml: %zu bytes, %s\n", bytes->size(), loads ? "loads" : "DOES NOT LOAD");
    bench::print(results);
    std::printf("check / parse ratio (median): %.2f\n", results[1].median() / results[0].median());
    return loads ? 0 : 1;
}
