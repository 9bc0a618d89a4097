#include "healer/repair.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "healer/python_values.h"
#include "healer/references.h"

namespace reliant::healer {
namespace {

Domain* shard_qube(Shard& shard, const std::string& name) {
    for (Domain& domain : shard.content.domains)
        if (domain.qube_name() == name) return &domain;
    return nullptr;
}

// Whether a restoration's values name `qube` (they may name only the
// shard's own qubes, which is what makes a rename or a drop reach them).
bool mentions(const Restoration& restoration, const std::string& qube) {
    for (const Domain* side : {&restoration.original, &restoration.confined}) {
        for (const HardReference& reference : hard_references(*side))
            if (reference.target == qube) return true;
        for (const SoftReference& reference : soft_references(*side))
            if (reference.target == qube) return true;
    }
    return false;
}

// The vid qubesd derives for `volume` of a qube named `to`, from the one it
// derived for `from`: <group>/vm-NAME-<volume> (lvm_thin), appvms/NAME/<volume>
// or vm-templates/NAME/<volume> (file drivers). nullopt: not derived from
// the name (left as it is).
std::optional<std::string> renamed_vid(const std::string& vid, const std::string& from, const std::string& to,
                                       const std::string& volume) {
    const std::string lvm_tail = "/vm-" + from + "-" + volume;
    if (vid.ends_with(lvm_tail)) return vid.substr(0, vid.size() - lvm_tail.size()) + "/vm-" + to + "-" + volume;
    for (const std::string prefix : {"appvms/", "vm-templates/"})
        if (vid == prefix + from + "/" + volume) return prefix + to + "/" + volume;
    return std::nullopt;
}

// The volume ids of the renamed qube, and the directories that move with
// them in the shard's own pools.
std::vector<DirectoryMove> rename_volumes(Shard& shard, Domain& qube, const std::string& from, const std::string& to) {
    std::vector<DirectoryMove> moves;
    if (!qube.volume_config) return moves;
    std::vector<std::pair<std::string, std::string>> vids;  // old -> new, for the snapshots made from them
    for (Volume& volume : *qube.volume_config) {
        const std::string* vid = volume.attributes.get("vid");
        if (!vid || !volume.name() || !volume.pool()) continue;
        const auto renamed = renamed_vid(*vid, from, to, *volume.name());
        if (!renamed) continue;
        const std::string old_directory = std::filesystem::path(*vid).parent_path().string();
        const std::string new_directory = std::filesystem::path(*renamed).parent_path().string();
        vids.emplace_back(*vid, *renamed);
        volume.attributes.set("vid", *renamed);
        const Pool* own = shard.content.pool(*volume.pool());
        const std::string* dir_path = own ? own->attributes.get("dir_path") : nullptr;
        if (!dir_path) continue;  // an outside pool: snapshots made at start, nothing to move
        const DirectoryMove move{*dir_path, old_directory, new_directory};
        if (std::none_of(moves.begin(), moves.end(), [&](const DirectoryMove& m) {
                return m.pool_dir == move.pool_dir && m.from == move.from;
            }))
            moves.push_back(move);
    }
    // A DispVM's volumes are made from its disposable template's: source= follows.
    for (Domain& domain : shard.content.domains)
        if (domain.volume_config)
            for (Volume& volume : *domain.volume_config)
                if (const std::string* source = volume.attributes.get("source"))
                    for (const auto& [old_vid, new_vid] : vids)
                        if (*source == old_vid) {
                            volume.attributes.set("source", new_vid);
                            break;
                        }
    return moves;
}

Result<Repaired> rename(Shard& shard, const std::string& from, const std::string& to) {
    if (const std::string problem = qube_name_problem(to); !problem.empty())
        return Error("'" + to + "' is no valid qube name: " + problem, EINVAL);
    if (shard_qube(shard, to)) return Error("the shard already has a qube named '" + to + "'", EEXIST);
    Domain* qube = shard_qube(shard, from);
    if (!qube) return Error("the shard has no qube named '" + from + "'", ENOENT);
    qube->set_property("name", to);
    std::vector<DirectoryMove> moves = rename_volumes(shard, *qube, from, to);
    int mentions_renamed = 0;
    for (Domain& domain : shard.content.domains) mentions_renamed += rename_references(domain, from, to);
    for (Restoration& restoration : shard.restorations)
        for (Domain* side : {&restoration.original, &restoration.confined})
            mentions_renamed += rename_references(*side, from, to);
    Repaired repaired;
    repaired.lines.push_back("renamed '" + from + "' to '" + to + "', and " + std::to_string(mentions_renamed) +
                             " mention(s) of it in the shard");
    for (const DirectoryMove& move : moves)
        repaired.lines.push_back("its volumes move with it: " + move.pool_dir + "/" + move.from + " -> " + move.to);
    repaired.moves = std::move(moves);
    return repaired;
}

Result<Repaired> drop(Shard& shard, const std::string& name) {
    if (!shard_qube(shard, name)) return Error("the shard has no qube named '" + name + "'", ENOENT);
    std::vector<std::string> users;
    for (const Domain& domain : shard.content.domains)
        for (const HardReference& reference : hard_references(domain))
            if (reference.target == name && domain.qube_name() != name)
                users.push_back(domain.qube_name().value_or("?") + " (" + reference.property + ")");
    if (!users.empty()) {
        std::string list;
        for (const std::string& user : users) list += (list.empty() ? "" : ", ") + user;
        return Error("'" + name + "' is still used by " + list, EBUSY)
            .advise("change or drop those qubes first");
    }
    std::erase_if(shard.content.domains, [&](const Domain& domain) { return domain.qube_name() == name; });
    int soft = 0;
    for (Domain& domain : shard.content.domains) soft += remove_soft_references(domain, name);
    const auto restorations = std::erase_if(shard.restorations, [&](const Restoration& r) { return mentions(r, name); });
    Repaired repaired;
    repaired.lines.push_back("dropped '" + name + "' from the shard (its data stays on the volume), " +
                             std::to_string(soft) + " mention(s) of it removed, " + std::to_string(restorations) +
                             " restoration(s) into lower qubes dropped");
    return repaired;
}

}  // namespace

Result<Repaired> repair_shard(Shard& shard, const RepairAction& action) {
    return action.kind == RepairAction::Kind::rename ? rename(shard, action.qube, action.new_name)
                                                     : drop(shard, action.qube);
}

}  // namespace reliant::healer
