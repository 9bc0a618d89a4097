#include "healer/footprint.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "healer/qubes_schema.h"
#include "healer/references.h"
#include "healer/snapshots.h"

namespace reliant::healer {
namespace {

constexpr int max_chain = 8;  // DispVM -> AppVM -> TemplateVM is 3; a loop ends here

const DefaultVolume* class_default(const Domain& qube, const std::string& volume) {
    const auto klass = qube.klass ? vm_class_named(*qube.klass) : std::nullopt;
    return klass ? default_volume(*klass, volume) : nullptr;
}

// The class's default volumes whose source qubesd takes from the template
// chain ("source": None in the default volume_config of a class with a
// template: AppVM root, DispVM root and private).
bool chain_source_by_default(const Domain& qube, const std::string& volume) {
    const auto klass = qube.klass ? vm_class_named(*qube.klass) : std::nullopt;
    const DefaultVolume* default_config = class_default(qube, volume);
    return klass && has_template(*klass) && default_config && default_config->source_key;
}

// What qubesd makes of snap_on_start: "True"/"False" become booleans, any
// other string stays a (truthy unless empty) string.
bool truthy(const std::string& text) { return !text.empty() && text != "False"; }

bool is_snapshot(const Domain& qube, const std::string& volume, const std::optional<Attributes>& attrs) {
    if (attrs)
        if (const std::string* snap = attrs->get("snap_on_start")) return truthy(*snap);
    const DefaultVolume* default_config = class_default(qube, volume);
    return default_config && default_config->snap_on_start;
}

std::string normal_path(const std::string& text) {
    std::string path = std::filesystem::path(text).lexically_normal().string();
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

class Deriver {
public:
    Deriver(const Shard& shard, const Document& outside) : shard_(shard), outside_(outside) {
        // The first of a name wins, as in Document::domain(); the shard's own
        // first (its names are checked to be new before confinement).
        for (const Document* document : {&shard_.content, &outside_})
            for (const Domain& domain : document->domains)
                if (const auto name = domain.qube_name()) by_name_.emplace(*name, &domain);
        // The last of a name wins, as in Document::pool().
        for (const Pool& pool : shard_.content.pools)
            if (pool.name()) own_pools_[*pool.name()] = &pool;
        for (const Pool& pool : outside_.pools)
            if (pool.name()) outside_pools_[*pool.name()] = &pool;
    }

    std::vector<QubeFootprint> run() {
        std::vector<QubeFootprint> result;
        for (const Domain& qube : shard_.content.domains) result.push_back(footprint(qube));
        return result;
    }

private:
    const Domain* find(const std::string& name) const {
        const auto found = by_name_.find(name);
        return found == by_name_.end() ? nullptr : found->second;
    }
    const Pool* pool(const std::string& name) const {
        if (const auto own = own_pools_.find(name); own != own_pools_.end()) return own->second;
        const auto found = outside_pools_.find(name);
        return found == outside_pools_.end() ? nullptr : found->second;
    }
    bool own_pool(const std::string& name) const { return own_pools_.contains(name); }

    // Where qubesd finds the source of `qube`'s snapshot volume `volume`:
    // the first volume of that name up the template chain that is no
    // snapshot itself (Storage._update_volume_config_source).
    struct Origin {
        const Domain* owner = nullptr;
        std::string pool;
        std::string vid;
    };
    std::optional<Origin> origin(const Domain& qube, const std::string& volume) const {
        const Domain* current = &qube;
        for (int depth = 0; depth < max_chain; ++depth) {
            const auto template_name = current->value("template");
            if (!template_name) return std::nullopt;
            const Domain* next = find(*template_name);
            if (!next || next == current) return std::nullopt;
            const auto attrs = effective_volume(*next, volume);
            if (!attrs && !chain_source_by_default(*next, volume)) return std::nullopt;
            if (!is_snapshot(*next, volume, attrs)) {
                const std::string* pool_name = attrs ? attrs->get("pool") : nullptr;
                if (!pool_name) return std::nullopt;
                Origin found{next, *pool_name, {}};
                if (const std::string* vid = attrs->get("vid"))
                    found.vid = *vid;
                else if (const Pool* p = pool(*pool_name))
                    found.vid = derived_vid(*p, *next, volume);
                return found;
            }
            current = next;
        }
        return std::nullopt;
    }

    // The kernel qubesd uses: the qube's property, else its template's, else
    // the system's default_kernel.
    std::string kernel(const Domain& qube) const {
        const Domain* current = &qube;
        for (int depth = 0; depth < max_chain && current; ++depth) {
            if (const Property* property = current->property("kernel")) return property->value().value_or("");
            const auto template_name = current->value("template");
            current = template_name ? find(*template_name) : nullptr;
        }
        return outside_.value("default_kernel").value_or("");
    }

    QubeFootprint footprint(const Domain& qube) const {
        QubeFootprint result;
        result.qube = &qube;
        result.name = qube.value("name").value_or("");
        if (const Property* property = qube.property("kernel")) result.kernel_property = property->value().value_or("");

        std::vector<std::string> volumes;  // names in first-seen order, as qubesd's dict
        if (qube.volume_config)
            for (const Volume& volume : *qube.volume_config)
                if (volume.name() && std::find(volumes.begin(), volumes.end(), *volume.name()) == volumes.end())
                    volumes.push_back(*volume.name());
        for (const char* name : {"root", "private", "volatile"})
            if (std::find(volumes.begin(), volumes.end(), name) == volumes.end())
                result.storage.push_back({name, StorageRole::defaulted, {}, nullptr, false, false, {}, true, {}});

        for (const std::string& name : volumes) {
            const Attributes attrs = *effective_volume(qube, name);
            StorageTouch image{name, StorageRole::image, {}, nullptr, false, false, {}, false, {}};
            const std::string* source = attrs.get("source");
            // Computed for every volume: qubesd walks the chain for a class
            // default "source": None even when snap_on_start says False.
            const std::optional<Origin> chain = origin(qube, name);
            if (!source && chain_source_by_default(qube, name) && chain) {
                image.pool = chain->pool;  // qubesd overrides the written pool
                image.pool_from_chain = true;
            } else if (const std::string* written = attrs.get("pool")) {
                image.pool = *written;
            }
            image.pool_def = image.pool.empty() ? nullptr : pool(image.pool);
            image.own_pool = !image.pool.empty() && own_pool(image.pool);
            const bool kernel_pool = image.pool_def && image.pool_def->driver() &&
                                     *image.pool_def->driver() == "linux-kernel";
            if (kernel_pool) {
                // LinuxModules ignores the written vid: it is the qube's kernel.
                image.role = StorageRole::kernel;
                image.vid = kernel(qube);
                if (image.vid.empty()) continue;  // no kernel: nothing is opened
                image.object = resolve_object(*image.pool_def, image.vid);
                result.storage.push_back(std::move(image));
                continue;
            }
            if (const std::string* vid = attrs.get("vid")) {
                image.vid = *vid;
            } else if (image.pool_def) {
                image.vid = derived_vid(*image.pool_def, qube, name);
                image.vid_derived = true;
            }
            if (image.pool_def) image.object = resolve_object(*image.pool_def, image.vid);

            // The source is looked up in the volume's own pool
            // (pool.volumes[source]) and opened there (file.py joins the
            // source's vid with this volume's dir_path).
            if (source || (chain && image.pool_from_chain)) {
                StorageTouch from = image;
                from.role = StorageRole::source;
                from.vid = source ? *source : chain->vid;
                from.vid_derived = false;
                from.object = image.pool_def ? resolve_object(*image.pool_def, from.vid) : "";
                if (chain) {
                    from.origin_owner = chain->owner;
                    from.origin_matches = chain->pool == from.pool && chain->vid == from.vid;
                }
                result.storage.push_back(std::move(image));
                result.storage.push_back(std::move(from));
            } else {
                result.storage.push_back(std::move(image));
            }
        }

        for (const DeviceGroup& group : qube.devices)
            for (const Device& device : group.devices) {
                DeviceTouch touch{group.device_class.value_or(""), std::nullopt, "*"};
                if (const std::string* backend = device.attributes.get("backend-domain")) touch.backend = *backend;
                if (const std::string* id = device.attributes.get("id")) touch.port = *id;
                result.devices.push_back(std::move(touch));
            }
        for (const HardReference& reference : hard_references(qube))
            result.names.push_back({reference.property, reference.target});
        return result;
    }

    const Shard& shard_;
    const Document& outside_;
    std::unordered_map<std::string, const Domain*> by_name_;
    std::unordered_map<std::string, const Pool*> own_pools_, outside_pools_;
};

}  // namespace

std::optional<Attributes> effective_volume(const Domain& qube, const std::string& volume) {
    if (!qube.volume_config) return std::nullopt;
    std::optional<Attributes> merged;
    for (const Volume& element : *qube.volume_config) {
        if (!element.name() || *element.name() != volume) continue;
        if (!merged) merged.emplace();
        for (const Attribute& attribute : element.attributes) merged->set(attribute.name, attribute.value);
    }
    return merged;
}

std::string resolve_object(const Pool& pool, const std::string& vid) {
    const std::string* driver = pool.driver();
    if (!driver) return "";
    if (*driver == "lvm_thin") return vid;
    if (*driver != "file" && *driver != "file-reflink" && *driver != "linux-kernel") return "";
    const std::string* dir = pool.attributes.get("dir_path");
    if (!dir) return "";
    // os.path.join: an absolute second part replaces the first.
    if (!vid.empty() && vid.front() == '/') return normal_path(vid);
    return normal_path(*dir + "/" + vid);
}

std::vector<QubeFootprint> shard_footprint(const Shard& shard, const Document& outside) {
    return Deriver(shard, outside).run();
}

}  // namespace reliant::healer
