// A shard file as merge and split read it (read_shard: untrusted input, no
// DOCTYPE, no entities, limits). A shard that reads is written back by
// serialize_shard, and that file reads again and is a fixed point.
#include <cstddef>
#include <cstdint>

#include "healer/shard.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;

namespace {

// The volume the shard claims to lie on, so that the reader gets past the
// header check as often as the fuzzer keeps it intact; sflc_0_1 otherwise.
healer::VolumeId claimed_volume(std::string_view bytes) {
    constexpr std::string_view attribute = "volume=\"";
    const std::size_t start = bytes.find(attribute);
    if (start == std::string_view::npos) return {0, 1};
    const std::size_t value = start + attribute.size();
    const std::size_t end = bytes.find('"', value);
    if (end == std::string_view::npos) return {0, 1};
    return healer::parse_volume_name(bytes.substr(value, end - value)).value_or(healer::VolumeId{0, 1});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const healer::VolumeId volume = claimed_volume(bytes);
    const healer::ShardRead read = healer::read_shard(bytes, volume);
    if (!read.shard) {
        if (read.problems.empty()) fuzz::violated("a shard refused without a reason");
        return 0;
    }
    if (!read.problems.empty()) fuzz::violated("a shard accepted despite problems");
    const std::string written = healer::serialize_shard(*read.shard);
    const healer::ShardRead reread = healer::read_shard(written, volume);
    if (!reread.shard) {
        std::string problems;
        for (const auto& problem : reread.problems) problems += problem + "\n";
        fuzz::violated("a written shard does not read", problems + written);
    }
    if (healer::serialize_shard(*reread.shard) != written) fuzz::violated("writing a shard is not a fixed point", written);
    return 0;
}
