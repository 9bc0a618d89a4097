#include "healer/confinement.h"

#include <set>
#include <unordered_map>

#include "healer/snapshots.h"

namespace reliant::healer {
namespace {

namespace fs = std::filesystem;

// Pools that live in a directory: the only kind a volume can hold.
bool directory_driver(const Pool& pool) {
    const std::string* driver = pool.driver();
    return driver && (*driver == "file" || *driver == "file-reflink" || *driver == "linux-kernel");
}

bool is_kernel_pool(const Pool& pool) { return pool.driver() && *pool.driver() == "linux-kernel"; }

// `path` names something below `root` (component-wise, both already normal).
bool below(const fs::path& path, const fs::path& root) {
    auto p = path.begin();
    for (auto r = root.begin(); r != root.end(); ++r, ++p) {
        if (r->empty()) continue;
        if (p == path.end() || *p != *r) return false;
    }
    return p != path.end();
}

// The pool directory as the running system resolves it, symlinks included.
bool resolves_inside(const std::string& dir_path, const fs::path& volume_dir) {
    std::error_code ec;
    const fs::path real = fs::weakly_canonical(dir_path, ec);
    if (ec) return false;
    const fs::path root = fs::weakly_canonical(volume_dir, ec);
    return !ec && below(real, root);
}

// A vid that stays in its pool's directory: relative, and no empty, "." or
// ".." component.
bool contained(const std::string& vid) {
    if (vid.empty() || vid.front() == '/') return false;
    for (std::size_t start = 0; start <= vid.size();) {
        const std::size_t end = std::min(vid.find('/', start), vid.size());
        const std::string_view part = std::string_view(vid).substr(start, end - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = end + 1;
    }
    return true;
}

std::string key(const std::string& pool, const std::string& vid) { return pool + '\0' + vid; }

class Checker {
public:
    Checker(const Shard& shard, const Document& outside, const fs::path& volume_root)
        : shard_(shard), outside_(outside), volume_dir_(volume_root / shard.volume.name()) {
        // The first of a name wins, as in Document::domain(); the shard's own first.
        for (const Document* document : {&shard_.content, &outside_})
            for (const Domain& domain : document->domains)
                if (const auto name = domain.qube_name()) by_name_.emplace(*name, &domain);
        for (const Domain& domain : outside_.domains)
            if (domain.volume_config)
                for (const Volume& volume : *domain.volume_config)
                    if (volume.pool() && volume.attributes.get("vid"))
                        taken_.insert(key(*volume.pool(), *volume.attributes.get("vid")));
    }

    std::vector<std::string> run() {
        for (const Pool& pool : shard_.content.pools) check_pool(pool);
        for (const Domain& domain : shard_.content.domains)
            if (domain.volume_config)
                for (const Volume& volume : *domain.volume_config) check_volume(domain, volume);
        return std::move(reasons_);
    }

private:
    void check_pool(const Pool& pool) {
        const std::string name = "pool '" + (pool.name() ? *pool.name() : "") + "'";
        if (!directory_driver(pool))
            reasons_.push_back(name + " is not a directory pool (file, file-reflink, linux-kernel)");
        const std::string* dir = pool.attributes.get("dir_path");
        if (dir && !resolves_inside(*dir, volume_dir_))
            reasons_.push_back(name + " resolves outside " + shard_.volume.name() + " (a symlink?)");
    }

    void check_volume(const Domain& qube, const Volume& volume) {
        const std::string where = "'" + qube.value("name").value_or("") + "' volume '" +
                                  (volume.name() ? *volume.name() : "") + "'";
        const std::string* pool_name = volume.pool();
        if (!pool_name || !volume.name()) {
            reasons_.push_back(where + " names no pool");
            return;
        }
        const std::string* vid = volume.attributes.get("vid");
        const std::string* source = volume.attributes.get("source");
        if (const Pool* own = shard_.content.pool(*pool_name)) {
            if (!is_kernel_pool(*own) && ((vid && !contained(*vid)) || (source && !contained(*source))))
                reasons_.push_back(where + " leaves its pool's directory");
            return;
        }
        const Pool* pool = outside_.pool(*pool_name);
        if (!pool || is_kernel_pool(*pool)) return;  // unknown: the validator says so; kernels are read-only
        if (pool->driver() && *pool->driver() != "lvm_thin" && !directory_driver(*pool)) {
            reasons_.push_back(where + " lies in a pool of driver '" + *pool->driver() +
                               "', which a shard may not use");
            return;
        }
        // In a pool of the base or of a lower volume: only the qube's own
        // volume, under the name qubesd gives it, and a snapshot only of
        // what its template chain gives.
        if (vid && (*vid != derived_vid(*pool, qube, *volume.name()) || taken_.contains(key(*pool_name, *vid))))
            reasons_.push_back(where + " takes vid '" + *vid + "' in pool '" + *pool_name +
                               "', which is not its own");
        if (source && !source->empty()) {
            const DomainLookup find = [&](std::string_view name) -> const Domain* {
                const auto found = by_name_.find(std::string(name));
                return found == by_name_.end() ? nullptr : found->second;
            };
            const Volume* origin = snapshot_origin(qube, *volume.name(), find);
            const std::string* expected = origin ? origin->attributes.get("vid") : nullptr;
            if (!expected || *expected != *source)
                reasons_.push_back(where + " is a snapshot of '" + *source +
                                   "', which its template chain does not give");
        }
    }

    const Shard& shard_;
    const Document& outside_;
    const fs::path volume_dir_;
    std::unordered_map<std::string, const Domain*> by_name_;  // the shard's qubes over those outside
    std::set<std::string> taken_;                               // pool + vid of the volumes outside
    std::vector<std::string> reasons_;
};

}  // namespace

std::vector<std::string> storage_escapes(const Shard& shard, const Document& outside,
                                         const std::filesystem::path& volume_root) {
    return Checker(shard, outside, volume_root).run();
}

}  // namespace reliant::healer
