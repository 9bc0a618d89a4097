// fuzz-seeds DATA_DIR OUT_DIR: seeds for the targets whose input is not a
// plain qubes.xml, derived at run time from the conformance cases and
// fixtures (which are read in place, never copied or changed): each system
// that loads is split as a first split would split it, giving
//   OUT/merge/<case>        its base, then its shards (fuzz_support.h format)
//   OUT/split/<case>        the whole system, then the shards it was split into
//   OUT/split/<case>-first  the whole system alone (a first split)
//   OUT/shard/<case>-<vol>  each shard file
// and OUT/cmdline/* holds command lines from docs/cmdline.md.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "healer/document_reader.h"
#include "healer/serializer.h"
#include "healer/split.h"
#include "tests/fuzz/fuzz_support.h"

namespace fs = std::filesystem;
using namespace reliant;

namespace {

constexpr std::uintmax_t largest_seed = 256u << 10;  // the targets run with -max_len=65536

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

void spit(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::vector<std::pair<std::string, fs::path>> systems(const fs::path& data) {
    std::vector<std::pair<std::string, fs::path>> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data / "conformance" / "qubes-xml", ec))
        if (fs::is_regular_file(entry.path() / "qubes.xml"))
            found.emplace_back(entry.path().filename().string(), entry.path() / "qubes.xml");
    for (const auto& entry : fs::directory_iterator(data / "fixtures", ec))
        if (entry.path().extension() == ".xml") found.emplace_back(entry.path().stem().string(), entry.path());
    return found;
}

int derive_from(const std::string& name, const std::string& bytes, const fs::path& out) {
    healer::Diagnostics diagnostics(name);
    const auto whole = healer::read_document(bytes, diagnostics);
    if (!whole || !fuzz::loads(*whole)) return 0;
    healer::SplitOptions options;
    options.validation = fuzz::validation();
    const healer::SplitResult result = healer::split(*whole, {}, std::nullopt, options);
    if (!result.base) return 0;
    std::vector<std::pair<healer::VolumeId, std::string>> shards;
    for (const healer::Shard& shard : result.shards) {
        shards.emplace_back(shard.volume, healer::serialize_shard(shard));
        spit(out / "shard" / (name + "-" + shard.volume.name()), shards.back().second);
    }
    spit(out / "merge" / name, fuzz::join_input(healer::serialize(*result.base), shards));
    spit(out / "split" / name, fuzz::join_input(bytes, shards));
    spit(out / "split" / (name + "-first"), bytes);
    return 1;
}

// The small fixture with scratch (volume 1) behind sys-proton and created by
// press (volume 2): its shards carry a <restores> section (shards.md,
// "References up").
std::string references_up(const std::string& small) {
    healer::Diagnostics diagnostics("system-small");
    auto whole = healer::read_document(small, diagnostics);
    healer::Domain* scratch = whole ? whole->domain("scratch") : nullptr;
    if (!scratch || !whole->domain("sys-proton") || !whole->domain("press")) return {};
    scratch->set_property("netvm", "sys-proton");
    scratch->tags.push_back(healer::Tag{"created-by-press", 0});
    return healer::serialize(*whole);
}

int derive(const std::string& name, const fs::path& file, const fs::path& out) {
    if (fs::file_size(file) > largest_seed) return 0;
    const std::string bytes = slurp(file);
    int derived = derive_from(name, bytes, out);
    if (name == "system-small")
        if (const std::string up = references_up(bytes); !up.empty()) derived += derive_from(name + "-up", up, out);
    return derived;
}

void command_lines(const fs::path& out) {
    const char* const lines[] = {
        "BOOT_IMAGE=/vmlinuz root=/dev/mapper/qubes_dom0-root ro rd.reliant=1 "
        "rd.reliant.device=PARTUUID=5f1e-04 rd.reliant.tries=3 rd.reliant.timeout=60 quiet",
        "rd.reliant=1 rd.reliant.device=/dev/disk/by-id/virtio-sflc rd.reliant.dvl=1 rd.reliant.fsck=1 "
        "rd.reliant.discard=0 rd.reliant.mode=normal",
        "rd.reliant=1 rd.reliant.mode=maintenance \"rd.reliant.device=LABEL=my disk\" rd.reliant.overlay.size=25%",
        "rd.reliant.base=PARTUUID=5f-03 rd.reliant.integrity=verity rd.reliant.verity.hash=PARTUUID=5f-05 "
        "rd.reliant.verity.offset=8589934592 "
        "rd.reliant.verity.roothash=9bd8a0c4f4e1b7d3a2c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192af4",
        "rd.reliant.base=LABEL=base rd.reliant.integrity=hash "
        "rd.reliant.hash.sha256=C668A0C4F4E1B7D3A2C5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192AEE "
        "rd.reliant.overlay.size=4G rd.reliant.future=1",
        "rd.reliant=\"1\" rd.reliant.integrity=none root=UUID=1234 rd.luks=0 rd.reliant.tries=100"};
    int n = 0;
    for (const char* line : lines) spit(out / "cmdline" / ("doc-" + std::to_string(++n)), line);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: fuzz-seeds DATA_DIR OUT_DIR\n";
        return 2;
    }
    const fs::path data = argv[1], out = argv[2];
    int derived = 0;
    for (const auto& [name, file] : systems(data)) derived += derive(name, file, out);
    command_lines(out);
    std::cout << "fuzz-seeds: " << derived << " systems split into seeds under " << out.string() << '\n';
    return derived > 0 ? 0 : 1;
}
