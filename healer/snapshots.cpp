#include "healer/snapshots.h"

namespace reliant::healer {
namespace {

const Volume* volume_named(const Domain& domain, std::string_view name) {
    if (!domain.volume_config) return nullptr;
    for (const Volume& volume : *domain.volume_config)
        if (volume.name() && *volume.name() == name) return &volume;
    return nullptr;
}

bool is_snapshot(const Volume& volume) {
    const std::string* snap = volume.attributes.get("snap_on_start");
    return snap && *snap == "True";
}

}  // namespace

const Volume* snapshot_origin(const Domain& qube, std::string_view name, const DomainLookup& find_domain) {
    const Domain* current = &qube;
    for (int depth = 0; depth < 4; ++depth) {  // DispVM -> AppVM -> TemplateVM at most
        const auto template_name = current->value("template");
        if (!template_name) return nullptr;
        const Domain* next = find_domain(*template_name);
        if (!next) return nullptr;
        const Volume* volume = volume_named(*next, name);
        if (!volume || !is_snapshot(*volume)) return volume;
        current = next;
    }
    return nullptr;
}

std::string derived_vid(const Pool& pool, const Domain& qube, std::string_view volume) {
    const std::string name = qube.value("name").value_or("");
    const std::string* driver = pool.driver();
    if (driver && *driver == "lvm_thin") {
        const std::string* group = pool.attributes.get("volume_group");
        return (group ? *group : "") + "/vm-" + name + "-" + std::string(volume);
    }
    const bool is_template = qube.klass && *qube.klass == "TemplateVM";
    return std::string(is_template ? "vm-templates/" : "appvms/") + name + "/" + std::string(volume);
}

bool retarget_snapshots(Domain& qube, const DomainLookup& find_domain, const PoolLookup& find_pool) {
    if (!qube.volume_config) return false;
    bool changed = false;
    for (Volume& volume : *qube.volume_config) {
        if (!is_snapshot(volume) || !volume.name()) continue;
        const Volume* source = snapshot_origin(qube, *volume.name(), find_domain);
        if (!source || !source->pool() || !source->attributes.get("vid")) continue;
        const std::string new_pool = *source->pool();
        const std::string* old_pool = volume.pool();
        if (!old_pool || *old_pool != new_pool) {
            if (const Pool* pool = find_pool(new_pool))
                volume.attributes.set("vid", derived_vid(*pool, qube, *volume.name()));
            volume.attributes.set("pool", new_pool);
            changed = true;
        }
        const std::string new_source = *source->attributes.get("vid");
        if (const std::string* old_source = volume.attributes.get("source");
            !old_source || *old_source != new_source) {
            volume.attributes.set("source", new_source);
            changed = true;
        }
        if (const std::string* size = source->attributes.get("size")) {
            if (const std::string* old_size = volume.attributes.get("size");
                !old_size || *old_size != *size) {
                volume.attributes.set("size", *size);
                changed = true;
            }
        }
    }
    return changed;
}

}  // namespace reliant::healer
