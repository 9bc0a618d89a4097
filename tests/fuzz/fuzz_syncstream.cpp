// The SyncConfig stream decoder (syncconfig/wire), fed hostile bytes as a
// sender would send them. Beyond memory safety: an accepted stream carries
// only paths of the grammar, allowed modes, sorted unique and case-unique
// paths, sizes within the limits and summing to the total; every blob the
// sink saw has the size and SHA-256 its entry announced; re-encoding the
// accepted transaction gives back the input bytes exactly; a refusal always
// has a reason. The first byte picks one of two limit sets, so that the
// limit checks are reached with small inputs too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "syncconfig/wire.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;
using namespace reliant::syncconfig;

namespace {

class Sink : public BlobSink {
public:
    Status begin(std::size_t index, const Entry&) override {
        if (index != blobs.size()) fuzz::violated("blobs out of order");
        blobs.emplace_back();
        return success();
    }
    Status write(std::string_view chunk) override {
        blobs.back() += chunk;
        return success();
    }
    Status end(std::size_t) override { return success(); }
    std::vector<std::string> blobs;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    Limits limits;
    if (data[0] & 1) {
        limits.max_entries = 4;
        limits.max_file_bytes = 64;
        limits.max_total_bytes = 128;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    MemorySource source(bytes);
    StreamDecoder decoder(source, limits);
    Manifest manifest;
    Outcome outcome = decoder.read_manifest(manifest);
    Sink sink;
    if (outcome.ok()) {
        if (manifest.entries.empty() || manifest.entries.size() > limits.max_entries)
            fuzz::violated("entry count outside the limits");
        std::uint64_t sum = 0;
        for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
            const Entry& entry = manifest.entries[i];
            if (!check_path(entry.path).ok()) fuzz::violated("an accepted path outside the grammar", entry.path);
            if (!allowed_mode(entry.mode)) fuzz::violated("an accepted mode outside the allowed set");
            if (entry.size > limits.max_file_bytes) fuzz::violated("a file above the limit");
            if (i > 0 && !(manifest.entries[i - 1].path < entry.path)) fuzz::violated("paths not strictly sorted");
            if (i > 0 && fold_case(manifest.entries[i - 1].path) == fold_case(entry.path))
                fuzz::violated("case-folded duplicate accepted");
            sum += entry.size;
        }
        if (sum != manifest.total_size || sum > limits.max_total_bytes) fuzz::violated("sizes and total disagree");
        outcome = decoder.read_blobs(manifest, sink);
    }
    if (!outcome.ok()) {
        if (outcome.reason.empty()) fuzz::violated("a refusal without a reason");
        return 0;
    }
    if (sink.blobs.size() != manifest.entries.size()) fuzz::violated("a blob missing");
    for (std::size_t i = 0; i < sink.blobs.size(); ++i) {
        if (sink.blobs[i].size() != manifest.entries[i].size) fuzz::violated("a blob of the wrong size");
        if (!equal_digests(sha256(sink.blobs[i]), manifest.entries[i].sha256)) fuzz::violated("a blob hash mismatch");
    }
    std::vector<Entry> entries = manifest.entries;
    if (encode_stream(manifest.generation, manifest.profile, entries, sink.blobs) != bytes)
        fuzz::violated("an accepted stream that does not re-encode to itself");
    return 0;
}
