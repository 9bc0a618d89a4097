#include "syncconfig/dom0_placement.h"

#include <set>

namespace reliant::syncconfig {

Result<QubePlaces> locate_qubes(const std::filesystem::path& volume_root, const std::vector<std::string>& names,
                                const healer::ShardBudget& budget) {
    std::error_code ec;
    QubePlaces places;
    for (const std::string& name : names) places.where[name] = std::nullopt;
    if (!std::filesystem::exists(std::filesystem::symlink_status(volume_root, ec))) return places;
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(volume_root, ec)))
        return Error(volume_root.string() + " is not a directory (a link or a file?)")
            .advise("pass --volume-root the directory where reliant-unlock mounted the volumes");
    std::map<std::string, std::set<healer::VolumeId>> found;
    for (const healer::ExistingShard& shard : healer::existing_shards(volume_root, {}, budget)) {
        places.open_volumes.push_back(shard.volume);
        if (!shard.present) continue;
        if (!shard.shard) {
            std::string why = shard.problems.empty() ? std::string("unreadable") : shard.problems.front();
            return Error("the shard of volume " + shard.volume.name() + " cannot be read (" + why +
                         "), so where its qubes live is unknown")
                .advise("repair or close that volume first; nothing was written");
        }
        for (const healer::Domain& domain : shard.shard->content.domains)
            if (auto name = domain.qube_name(); name && places.where.contains(*name))
                found[*name].insert(shard.volume);
    }
    for (const auto& [name, volumes] : found) {
        if (volumes.size() > 1)
            return Error("qube " + name + " is in the shards of " + std::to_string(volumes.size()) + " volumes")
                .advise("merge froze one of them; repair the shards first (reliant-healer list)");
        places.where[name] = *volumes.begin();
    }
    return places;
}

}  // namespace reliant::syncconfig
