// reliant-healer merge of tests/data/fixtures/system-large.xml split into its 8
// shards, against libxml2 alone parsing the same 9 files, in the same run.
// Files are held in memory: this measures the work, not the disk.
//   build/static/tests/bench/bench-healer-merge [ROUNDS]
#include <libxml/parser.h>

#include <cstdio>
#include <cstdlib>

#include "bench.h"
#include "common/file_io.h"
#include "healer/document_reader.h"
#include "healer/merge.h"
#include "healer/serializer.h"
#include "healer/split.h"

using namespace reliant;
using namespace reliant::healer;

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 30;
    const std::string path = std::string(RELIANT_TEST_DATA_DIR) + "/fixtures/system-large.xml";
    auto bytes = read_file(path, 64u << 20);
    if (!bytes) return 2;
    Diagnostics read_diagnostics(path);
    const auto whole = read_document(*bytes, read_diagnostics);
    ValidationOptions validation;
    validation.pci_root_buses = std::vector<std::string>{"0000:00"};
    SplitOptions split_options;
    split_options.validation = validation;
    const SplitResult parts = split(*whole, {}, std::nullopt, split_options);
    if (!parts.base) return 2;
    const std::string base_bytes = serialize(*parts.base);
    std::vector<ShardInput> shards;
    std::size_t total = base_bytes.size();
    for (const Shard& shard : parts.shards) {
        shards.push_back({shard.volume, serialize_shard(shard), {}});
        total += shards.back().bytes->size();
    }
    MergeOptions options;
    options.validation = validation;
    // The output is checked against the original: default_pool as it is
    // (a boot points it at the highest volume; docs/shards.md, "New qubes").
    options.new_qubes = NewQubes::base;
    std::size_t merged_qubes = 0;
    bool identical = false;
    const auto results =
        bench::run({{"libxml2 parse of base + 8 shards (baseline)",
                     [&] {
                         auto parse = [](const std::string& text) {
                             xmlFreeDoc(xmlReadMemory(text.data(), static_cast<int>(text.size()), nullptr,
                                                      nullptr, XML_PARSE_NONET | XML_PARSE_BIG_LINES));
                         };
                         parse(base_bytes);
                         for (const auto& shard : shards) parse(*shard.bytes);
                     }},
                    {"merge: parse + fix + validate + serialize",
                     [&] {
                         Diagnostics diagnostics("base");
                         const auto base = read_document(base_bytes, diagnostics);
                         const MergeResult result = merge(*base, shards, options);
                         const std::string out = serialize(*result.merged);
                         merged_qubes = result.merged->domains.size();
                         identical = out == *bytes;
                     }}},
                   rounds);
    std::printf("%zu shards, %zu bytes in, %zu qubes out, output %s the original\n", shards.size(), total,
                merged_qubes, identical ? "identical to" : "DIFFERENT FROM");
    bench::print(results);
    std::printf("merge / parse ratio (median): %.2f\n", results[1].median() / results[0].median());
    return identical ? 0 : 1;
}
