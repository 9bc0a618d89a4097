// The confinement property (docs/security.md, G-confine), judged without the
// code under test: an independent, deliberately plain re-derivation of what
// each volume and device assignment of a merged qubes.xml resolves to, the
// way qubes-core-admin does it (os.path.join + normpath of dir_path and
// vid + ".img" for file/file-reflink, /dev/<vid> for lvm_thin, the kernel
// directory for linux-kernel, the backend-domain of each <device>), and a
// mutator that damages a valid shard's pools, volume names, vids and
// devices. Shared by fuzz-confine (libFuzzer) and the seeded unit test
// (tests/healer/confinement_test.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "healer/merge.h"
#include "healer/model.h"

namespace reliant::fuzz::confine {

// Every way a qube of a merged shard reaches storage, hardware or a kernel
// that is not its own (an empty list: none). `owners` maps each qube's name
// to its owner ("base", or the volume "sflc_M_N" of the shard it came
// from); base qubes are trusted and not judged.
std::vector<std::string> reach_violations(const healer::Document& merged,
                                          const std::map<std::string, std::string>& owners,
                                          const std::string& volume_root);

// Where mutation decisions come from: fuzz input bytes or a seeded PRNG.
class Choices {
public:
    virtual ~Choices() = default;
    virtual std::size_t below(std::size_t n) = 0;  // 0 .. n-1 (0 when n is 0)
    virtual std::string raw() = 0;                  // a short arbitrary string
};

class SeededChoices : public Choices {
public:
    explicit SeededChoices(std::uint64_t seed) : engine_(seed) {}
    std::size_t below(std::size_t n) override;
    std::string raw() override;

private:
    std::mt19937_64 engine_;
};

class ByteChoices : public Choices {
public:
    explicit ByteChoices(std::string_view bytes) : bytes_(bytes) {}
    std::size_t below(std::size_t n) override;
    std::string raw() override;
    bool exhausted() const { return at_ >= bytes_.size(); }

private:
    std::string_view bytes_;
    std::size_t at_ = 0;
};

// A valid system to mutate: the small fixture (vault's private and volatile
// moved into the base's file pool, so both drivers are there), split into a
// base and the shards of sflc_0_1 and sflc_0_2. Read from `fixture`.
struct Seed {
    healer::Document base;
    std::map<healer::VolumeId, std::string> shards;  // serialized
};
Seed make_seed(const std::string& fixture_text);

// Mutates one shard of the seed (`rounds` changes) and returns the shard
// inputs for merge.
std::vector<healer::ShardInput> mutate(const Seed& seed, Choices& choices, int rounds);

struct Verdict {
    std::size_t merged = 0;  // shards merged
    std::size_t frozen = 0;
    std::vector<std::string> violations;  // reach_violations of the output, with the shard's text
};

// Merges `inputs` over the seed's base and judges the output with
// reach_violations.
Verdict merge_and_judge(const Seed& seed, const std::vector<healer::ShardInput>& inputs);

}  // namespace reliant::fuzz::confine
