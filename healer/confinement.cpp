#include "healer/confinement.h"

#include <sys/stat.h>

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "healer/footprint.h"
#include "healer/python_values.h"
#include "healer/snapshots.h"

namespace reliant::healer {
namespace {

namespace fs = std::filesystem;
namespace rule = confinement_rule;

// A directory with more entries than this is refused rather than scanned:
// the scan is bounded whatever the volume holds.
constexpr std::size_t max_directory_entries = 65536;

bool driver_is(const Pool* pool, std::string_view driver) {
    return pool && pool->driver() && *pool->driver() == driver;
}
bool directory_pool(const Pool* pool) {
    return driver_is(pool, "file") || driver_is(pool, "file-reflink") || driver_is(pool, "linux-kernel");
}

std::string normal(const std::string& text) {
    std::string path = fs::path(text).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

// `path` lies strictly below `root` (both absolute and lexically normal).
bool below(const std::string& path, const std::string& root) {
    if (root == "/") return path.size() > 1 && path.front() == '/';
    return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

// Letters, digits and _: the names qubesd gives (root, private, volatile,
// kernel) and nothing a path or an lvm name could read differently.
bool plain_volume_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

bool disposable_template(const Domain& qube) {
    if (qube.klass != "AppVM") return false;
    if (const Property* flag = qube.property("template_for_dispvms"))
        return flag->value() && property_bool(*flag->value()).value_or(false);
    if (const Property* legacy = qube.property("dispvm_allowed"))
        return property_bool(legacy->text.value_or("False")).value_or(false);
    return false;
}

// `path` lies below `root` and no part of it below `root` is a symbolic
// link, dangling or not: qubesd, the kernel and the drivers follow links, so
// one planted on the volume could point anywhere, also at a name qubesd
// creates only later.
bool stays_inside(const std::string& path, const std::string& root) {
    const std::string normal_path = normal(path);
    if (!below(normal_path, root)) return false;
    std::string at = root;
    const std::string rest = normal_path.substr(root == "/" ? 1 : root.size() + 1);
    for (std::size_t start = 0; start <= rest.size();) {
        const std::size_t end = std::min(rest.find('/', start), rest.size());
        at += "/" + rest.substr(start, end - start);
        start = end + 1;
        struct stat status {};
        if (::lstat(at.c_str(), &status) != 0) return true;  // not there (yet): created by qubesd, not linked
        if (S_ISLNK(status.st_mode)) return false;
    }
    return true;
}

// The storage every qube occupies (and the pools' own directories and thin
// pools, owner nullptr), to find what a shard qube's object would share.
class Occupied {
public:
    void add_lv(const std::string& group, const std::string& lv, const Domain* owner) { lvs_[group][lv].insert(owner); }
    void add_path(const std::string& path, const Domain* owner) { paths_[path].insert(owner); }

    // A logical volume of another owner in `group` whose name family
    // overlaps `lv`'s. lvm.py names a volume's snapshot, import and
    // revisions <vid>-snap, <vid>-import, <vid>-<n>-back, so
    // vm-vault-private-snap is vault's although it is also the name qubesd
    // derives for volume "snap" of a qube "vault-private".
    bool lv_taken(const std::string& group, const std::string& lv, const Domain* self) const {
        const auto found = lvs_.find(group);
        if (found == lvs_.end()) return false;
        const auto& names = found->second;
        const auto foreign = [&](const std::set<const Domain*>& owners) {
            return owners.size() > 1 || !owners.contains(self);
        };
        const auto taken = [&](const std::string& name) {
            const auto entry = names.find(name);
            return entry != names.end() && foreign(entry->second);
        };
        // lv itself, and every <name> of which lv is <name>-...
        if (taken(lv)) return true;
        for (std::size_t dash = lv.find('-'); dash != std::string::npos; dash = lv.find('-', dash + 1))
            if (taken(lv.substr(0, dash))) return true;
        // every name <lv>-...
        const std::string prefix = lv + "-";
        for (auto it = names.lower_bound(prefix); it != names.end() && it->first.starts_with(prefix); ++it)
            if (foreign(it->second)) return true;
        return false;
    }

    // A path of another owner that is `dir` or lies below it.
    bool dir_taken(const std::string& dir, const Domain* self) const {
        for (auto it = paths_.lower_bound(dir); it != paths_.end(); ++it) {
            if (it->first != dir && !it->first.starts_with(dir + "/")) {
                if (!it->first.starts_with(dir)) break;  // past every name with this prefix
                continue;                                // dir-x, dir.y: not below
            }
            if (it->second.size() > 1 || !it->second.contains(self)) return true;
        }
        return false;
    }

private:
    std::map<std::string, std::map<std::string, std::set<const Domain*>>> lvs_;
    std::map<std::string, std::set<const Domain*>> paths_;
};

class Judge {
public:
    Judge(const Shard& shard, const Document& outside, const fs::path& volume_root)
        : shard_(shard), outside_(outside), volume_dir_(normal((volume_root / shard.volume.name()).string())) {
        for (const Domain& domain : shard_.content.domains)
            if (const auto name = domain.qube_name()) own_.emplace(*name, &domain);
        for (const Domain& domain : outside_.domains)
            if (const auto name = domain.qube_name()) outside_names_.insert(*name);
    }

    std::vector<std::string> run() {
        for (const Pool& pool : shard_.content.pools) check_pool(pool);
        const std::vector<QubeFootprint> all = shard_footprint(shard_, outside_);
        const Occupied occupied = occupancy(all);
        for (const QubeFootprint& qube : all) {
            for (const StorageTouch& touch : qube.storage) check_storage(qube, touch, occupied);
            check_kernel_property(qube);
            for (const DeviceTouch& device : qube.devices) check_device(qube, device);
            for (const NameTouch& name : qube.names) check_name(qube, name);
        }
        return std::move(reasons_);
    }

private:
    void fail(const char* which, const std::string& text) {
        reasons_.push_back(std::string("confinement/") + which + ": " + text);
    }

    void check_pool(const Pool& pool) {
        const std::string name = "pool '" + (pool.name() ? *pool.name() : "") + "'";
        if (!directory_pool(&pool)) {
            fail(rule::pool, name + " is not a directory pool (file, file-reflink, linux-kernel)");
            return;
        }
        const std::string* dir = pool.attributes.get("dir_path");
        if (!dir || dir->empty() || dir->front() != '/') {
            fail(rule::pool, name + " has no absolute dir_path");
            return;
        }
        if (!stays_inside(*dir, volume_dir_))
            fail(rule::pool, name + " resolves outside " + shard_.volume.name() + " (a symlink?)");
    }

    // The storage of every qube, each as qubesd resolves it: the base's,
    // lower volumes' and the shard's.
    Occupied occupancy(const std::vector<QubeFootprint>& shard_qubes) const {
        Occupied occupied;
        const auto add = [&](const Pool& pool, const std::string& object, const Domain* owner) {
            if (object.empty()) return;
            if (driver_is(&pool, "lvm_thin")) {
                const std::string* group = pool.attributes.get("volume_group");
                occupied.add_lv(group ? *group : "", object, owner);
            } else {
                occupied.add_path(object, owner);
            }
        };
        for (const Pool& pool : outside_.pools) {
            if (const std::string* dir = pool.attributes.get("dir_path")) occupied.add_path(normal(*dir), nullptr);
            if (const std::string* thin = pool.attributes.get("thin_pool"); thin && driver_is(&pool, "lvm_thin")) {
                const std::string* group = pool.attributes.get("volume_group");
                const std::string vg = group ? *group : "";
                occupied.add_lv(vg, vg + "/" + *thin, nullptr);
            }
        }
        for (const Domain& domain : outside_.domains) {
            if (!domain.volume_config) continue;
            std::set<std::string> seen;
            for (const Volume& volume : *domain.volume_config) {
                if (!volume.name() || !seen.insert(*volume.name()).second) continue;
                const auto attrs = effective_volume(domain, *volume.name());
                const std::string* pool_name = attrs->get("pool");
                const Pool* pool = pool_name ? outside_.pool(*pool_name) : nullptr;
                if (!pool || driver_is(pool, "linux-kernel")) continue;
                const std::string* vid = attrs->get("vid");
                add(*pool,
                    resolve_object(*pool, vid ? *vid : derived_vid(*pool, domain, *volume.name())),
                    &domain);
            }
        }
        for (const QubeFootprint& qube : shard_qubes)
            for (const StorageTouch& touch : qube.storage)
                if (touch.role == StorageRole::image && touch.pool_def) add(*touch.pool_def, touch.object, qube.qube);
        return occupied;
    }

    void check_storage(const QubeFootprint& qube, const StorageTouch& touch, const Occupied& others) {
        const std::string where = "'" + qube.name + "' volume '" + touch.volume + "'";
        if (!plain_volume_name(touch.volume)) {
            fail(rule::volume_name, where + ": a volume name is letters, digits and _ only");
            return;
        }
        if (touch.role == StorageRole::defaulted) {
            fail(rule::volume_listed, where + " is not written: qubesd would create it in a default pool");
            return;
        }
        if (touch.pool.empty()) {
            fail(rule::volume_pool, where + " names no pool");
            return;
        }
        if (!touch.pool_def) {
            fail(rule::volume_pool, where + " names pool '" + touch.pool + "', which does not exist");
            return;
        }
        if (touch.role == StorageRole::kernel) {
            check_kernel_touch(where, touch);
            return;
        }
        if (touch.own_pool) {
            check_own(where, touch);
            return;
        }
        if (!driver_is(touch.pool_def, "file") && !driver_is(touch.pool_def, "file-reflink") &&
            !driver_is(touch.pool_def, "lvm_thin")) {
            fail(rule::volume_pool, where + " lies in pool '" + touch.pool + "' of a driver a shard may not use");
            return;
        }
        if (touch.role == StorageRole::source) {
            check_source(qube, where, touch);
            return;
        }
        check_name_space(qube, where, touch, others);
    }

    // In one of the shard's own pools: the object stays below the pool's
    // directory, which lies in the volume (check_pool), and what the driver
    // opens there is a regular file, not a link or device node the disk's
    // writer planted.
    void check_own(const std::string& where, const StorageTouch& touch) {
        const std::string* dir = touch.pool_def->attributes.get("dir_path");
        if (!dir || touch.object.empty() || !below(touch.object, normal(*dir))) {
            fail(rule::own_pool, where + (touch.role == StorageRole::source ? " takes a snapshot from outside"
                                                                             : " leaves its pool's directory"));
            return;
        }
        check_files(where, touch.object);
    }

    // The directory of `stem` lies inside the volume through no link, and every entry
    // there whose name starts with the stem's (stem.img, stem-cow.img,
    // stem-dirty.img, revisions, ...) is a regular file.
    void check_files(const std::string& where, const std::string& stem) {
        const fs::path path(stem);
        const std::string directory = path.parent_path().string();
        if (!stays_inside(directory, volume_dir_)) {
            fail(rule::own_pool, where + " resolves outside " + shard_.volume.name() + " (a symlink?)");
            return;
        }
        const Listing& listing = listing_of(directory);
        if (listing.too_many) {
            fail(rule::own_pool, where + ": its directory has too many entries to check");
            return;
        }
        const std::string prefix = path.filename().string();
        for (const auto& [name, regular] : listing.entries)
            if (name.starts_with(prefix) && !regular) {
                fail(rule::own_pool, where + ": a file of the volume is a link, device or directory");
                return;
            }
    }

    // A directory's entries and whether each is a regular file, read once
    // per directory however many volumes lie there (a qube's volumes share
    // one): the healer's file operations stay few, whatever the shard holds.
    struct Listing {
        bool too_many = false;
        std::vector<std::pair<std::string, bool>> entries;  // name, regular file
    };

    const Listing& listing_of(const std::string& directory) {
        const auto known = listings_.find(directory);
        if (known != listings_.end()) return known->second;
        Listing listing;
        std::error_code ec;
        fs::directory_iterator it(directory, ec);
        // Not there yet (ec): qubesd creates regular files.
        for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
            if (listing.entries.size() == max_directory_entries) {
                listing.too_many = true;
                break;
            }
            struct stat status {};
            const bool regular = ::lstat(it->path().c_str(), &status) == 0 && S_ISREG(status.st_mode);
            listing.entries.emplace_back(it->path().filename().string(), regular);
        }
        return listings_.emplace(directory, std::move(listing)).first->second;
    }

    // In a pool outside (the base, a lower volume): exactly the object
    // qubesd derives from the qube's name, which no other qube's storage
    // shares.
    void check_name_space(const QubeFootprint& qube, const std::string& where, const StorageTouch& touch,
                          const Occupied& others) {
        const std::string derived = derived_vid(*touch.pool_def, *qube.qube, touch.volume);
        if (touch.vid != derived) {
            fail(rule::name_space, where + " takes vid '" + touch.vid + "' in pool '" + touch.pool +
                                       "', which is not its own");
            return;
        }
        if (driver_is(touch.pool_def, "lvm_thin")) {
            const std::string* group = touch.pool_def->attributes.get("volume_group");
            if (others.lv_taken(group ? *group : "", touch.object, qube.qube))
                fail(rule::name_space, where + " in pool '" + touch.pool +
                                           "' shares a logical volume name with another qube's");
            return;
        }
        // file / file-reflink: <dir>/<appvms|vm-templates>/<qube>/ is the
        // qube's directory; no other storage may lie in it.
        const std::string qube_dir = fs::path(touch.object).parent_path().string();
        if (others.dir_taken(qube_dir, qube.qube))
            fail(rule::name_space, where + " in pool '" + touch.pool + "' shares a directory with another qube");
    }

    // A snapshot taken in a pool outside: only of what the template chain
    // gives, and only of a template's volume (or a disposable template's,
    // for its DispVMs): never another qube's data.
    void check_source(const QubeFootprint& qube, const std::string& where, const StorageTouch& touch) {
        if (!touch.origin_owner || !touch.origin_matches) {
            fail(rule::snapshot, where + " is a snapshot of '" + touch.vid + "', which its template chain does not give");
            return;
        }
        const Domain& owner = *touch.origin_owner;
        if (owner.klass == "TemplateVM") return;
        if (qube.qube->klass == "DispVM" && disposable_template(owner)) return;
        fail(rule::snapshot, where + " is a snapshot of a qube that is neither a template nor a disposable template");
    }

    // A kernel is read-only and shared: a directory right below a kernel
    // pool's (the base's or the shard's own).
    void check_kernel_touch(const std::string& where, const StorageTouch& touch) {
        const std::string* dir = touch.pool_def->attributes.get("dir_path");
        const fs::path object(touch.object);
        if (!dir || touch.object.empty() || object.parent_path().string() != normal(*dir) ||
            touch.vid.find('/') != std::string::npos || touch.vid == "." || touch.vid == "..") {
            fail(rule::kernel, where + ": kernel '" + touch.vid + "' is no directory of pool '" + touch.pool + "'");
            return;
        }
        if (touch.own_pool) check_files(where, touch.object + "/");
    }

    // libvirt reads <kernels dir>/<kernel>/ even without a kernel volume;
    // qubesd refuses only a '/'.
    void check_kernel_property(const QubeFootprint& qube) {
        if (!qube.kernel_property || qube.kernel_property->empty()) return;
        const std::string& kernel = *qube.kernel_property;
        if (kernel.find('/') != std::string::npos || kernel == "." || kernel == "..")
            fail(rule::kernel, "'" + qube.name + "' names kernel '" + kernel + "', which is no kernel directory");
    }

    // A device comes from a backend; a shard's qube may use only devices
    // its own qubes provide: never dom0's (PCI controllers, disks, the
    // microphone) nor a base or lower qube's (sys-usb's, sys-net's).
    void check_device(const QubeFootprint& qube, const DeviceTouch& device) {
        const std::string what = "'" + qube.name + "' has a " + (device.device_class.empty() ? "" : device.device_class + " ") +
                                 "device '" + device.port + "'";
        if (!device.backend || device.backend->empty()) {
            fail(rule::device, what + " without a backend");
            return;
        }
        const auto backend = own_.find(*device.backend);
        if (backend == own_.end() || backend->second->is_admin())
            fail(rule::device, what + " whose backend is not a qube of " + shard_.volume.name());
    }

    void check_name(const QubeFootprint& qube, const NameTouch& name) {
        if (!own_.contains(name.target) && !outside_names_.contains(name.target))
            fail(rule::reference, "'" + qube.name + "' names " + name.property + " '" + name.target +
                                      "', which is not there");
    }

    const Shard& shard_;
    const Document& outside_;
    const std::string volume_dir_;
    std::unordered_map<std::string, const Domain*> own_;  // the shard's qubes by name
    std::unordered_set<std::string> outside_names_;
    std::vector<std::string> reasons_;
    std::map<std::string, Listing> listings_;  // directory -> what check_files saw there
};

}  // namespace

std::vector<std::string> confinement_violations(const Shard& shard, const Document& outside,
                                                const std::filesystem::path& volume_root) {
    return Judge(shard, outside, volume_root).run();
}

}  // namespace reliant::healer
