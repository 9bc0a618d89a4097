// confine: the confinement property (docs/security.md, G-confine). The
// input drives mutations of a valid shard of the small fixture (its pools,
// volume names, vids, sources, devices, kernels, names; confine_oracle.h);
// merge runs over the fixture's base, and no qube of a merged shard may
// reach another qube's storage or hardware, as judged by the oracle's own
// re-derivation (never by healer/confinement.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "healer/serializer.h"
#include "tests/fuzz/confine_oracle.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

namespace {

const fuzz::confine::Seed* seed = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::ifstream in(RELIANT_TEST_DATA_DIR "/fixtures/system-small.xml", std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().empty()) fuzz::violated("cannot read the fixture", RELIANT_TEST_DATA_DIR);
    seed = new fuzz::confine::Seed(fuzz::confine::make_seed(text.str()));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::confine::ByteChoices choices({reinterpret_cast<const char*>(data), size});
    const int rounds = 1 + static_cast<int>(choices.below(6));
    const auto inputs = fuzz::confine::mutate(*seed, choices, rounds);
    const fuzz::confine::Verdict verdict = fuzz::confine::merge_and_judge(*seed, inputs);
    if (!verdict.violations.empty()) {
        std::string detail;
        for (const std::string& violation : verdict.violations) detail += violation + "\n";
        for (const auto& input : inputs) detail += "--- " + input.volume.name() + "\n" + *input.bytes;
        fuzz::violated("a merged shard's qube reaches what is not its own", detail);
    }
    return 0;
}
