#include "healer/ownership.h"

#include <charconv>

namespace reliant::healer {
namespace {

std::optional<int> small_number(std::string_view text) {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value < 0 || value > 1023 ||
        (text.size() > 1 && text.front() == '0'))
        return std::nullopt;
    return value;
}

}  // namespace

std::optional<VolumeId> parse_volume_name(std::string_view name) {
    if (!name.starts_with("sflc_")) return std::nullopt;
    name.remove_prefix(5);
    const std::size_t underscore = name.find('_');
    if (underscore == std::string_view::npos) return std::nullopt;
    const auto device = small_number(name.substr(0, underscore));
    const auto index = small_number(name.substr(underscore + 1));
    if (!device || !index || *index > 14) return std::nullopt;  // Shufflecake: at most 15 volumes
    return VolumeId{*device, *index};
}

std::optional<VolumeId> pool_volume(const Pool& pool, const std::filesystem::path& volume_root) {
    const std::string* dir = pool.attributes.get("dir_path");
    if (!dir || dir->empty() || dir->front() != '/') return std::nullopt;
    // Lexically normal, so "sflc_0_1/../../etc" is not under a volume.
    const std::filesystem::path path = std::filesystem::path(*dir).lexically_normal();
    const std::filesystem::path root = volume_root.lexically_normal();
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p) {
        if (r->empty()) continue;  // a trailing separator of the root
        if (p == path.end() || *p != *r) return std::nullopt;
    }
    if (p == path.end()) return std::nullopt;
    return parse_volume_name(p->string());
}

std::optional<VolumeId> qube_volume(const Domain& qube, const Document& document,
                                    const std::filesystem::path& volume_root) {
    if (!qube.volume_config) return std::nullopt;
    const Volume* chosen = nullptr;
    for (const Volume& volume : *qube.volume_config) {
        const std::string* name = volume.name();
        if (name && *name == "private")
            chosen = &volume;
        else if (name && *name == "root" && !chosen)
            chosen = &volume;
    }
    if (!chosen || !chosen->pool()) return std::nullopt;
    const Pool* pool = document.pool(*chosen->pool());
    return pool ? pool_volume(*pool, volume_root) : std::nullopt;
}

QidRange shard_qid_range(const VolumeId& volume) {
    const long long first = base_qid_range.last + 1 + shard_qid_block * volume.index;
    return {first, first + shard_qid_block - 1};
}

}  // namespace reliant::healer
