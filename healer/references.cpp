#include "healer/references.h"

#include <algorithm>
#include <sstream>

#include "healer/qubes_schema.h"

namespace reliant::healer {
namespace {

// Features whose value lists qube names (qubes-xml.md §1.6).
constexpr const char* name_features[] = {"preload-dispvm", "deferred-netvm-original", "set-created-guivm"};
// Tags qubesd maintains with a qube's name in them.
constexpr const char* name_tag_prefixes[] = {"created-by-", "guivm-", "audiovm-", "relayvm-"};

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> result;
    for (std::string word; in >> word;) result.push_back(word);
    return result;
}

constexpr InheritedDefault inheritable[] = {{"netvm", "default_netvm"}, {"default_dispvm", "default_dispvm"}};

}  // namespace

std::vector<InheritedDefault> inherited_defaults(const Domain& domain) {
    std::vector<InheritedDefault> result;
    const auto klass = domain.klass ? vm_class_named(*domain.klass) : std::nullopt;
    if (!klass || domain.is_admin()) return result;
    for (const InheritedDefault& entry : inheritable) {
        if (entry.property == "netvm" && domain.klass == "TemplateVM") continue;
        if (entry.property == "default_dispvm" && domain.klass == "DispVM") continue;
        if (!vm_property(*klass, entry.property) || domain.property(entry.property)) continue;
        result.push_back(entry);
    }
    return result;
}

bool is_inheritable_global(std::string_view global) {
    return std::any_of(std::begin(inheritable), std::end(inheritable),
                       [&](const InheritedDefault& entry) { return entry.global == global; });
}

std::vector<HardReference> hard_references(const Domain& domain) {
    std::vector<HardReference> references;
    const auto klass = domain.klass ? vm_class_named(*domain.klass) : std::nullopt;
    if (!klass) return references;
    for (const Property& property : domain.properties) {
        if (!property.name) continue;
        const PropertySpec* spec = vm_property(*klass, *property.name);
        if (!spec || spec->kind != ValueKind::vm_reference) continue;
        const auto value = property.value();
        if (value && !value->empty()) references.push_back({*property.name, *value});
    }
    return references;
}

std::vector<HardReference> global_references(const Document& document) {
    std::vector<HardReference> references;
    for (const Property& property : document.properties) {
        if (!property.name) continue;
        const PropertySpec* spec = global_property(*property.name);
        if (!spec || spec->kind != ValueKind::vm_reference) continue;
        const auto value = property.value();
        if (value && !value->empty()) references.push_back({*property.name, *value});
    }
    return references;
}

std::vector<SoftReference> soft_references(const Domain& domain) {
    std::vector<SoftReference> references;
    for (const DeviceGroup& group : domain.devices)
        for (const Device& device : group.devices)
            if (const std::string* backend = device.attributes.get("backend-domain");
                backend && !backend->empty())
                references.push_back({SoftKind::device_backend, group.device_class.value_or(""), *backend});
    for (const char* name : name_features)
        if (const Feature* feature = domain.feature(name))
            for (const std::string& word : words(feature->value))
                references.push_back({SoftKind::feature, name, word});
    for (const Tag& tag : domain.tags) {
        if (!tag.name) continue;
        for (const char* prefix : name_tag_prefixes)
            if (tag.name->starts_with(prefix) && tag.name->size() > std::string_view(prefix).size())
                references.push_back(
                    {SoftKind::tag, *tag.name, tag.name->substr(std::string_view(prefix).size())});
    }
    return references;
}

int remove_soft_references(Domain& domain, const std::string& target) {
    int removed = 0;
    for (DeviceGroup& group : domain.devices)
        removed += static_cast<int>(std::erase_if(group.devices, [&](const Device& device) {
            const std::string* backend = device.attributes.get("backend-domain");
            return backend && *backend == target;
        }));
    for (Feature& feature : domain.features) {
        if (!feature.name || std::none_of(std::begin(name_features), std::end(name_features),
                                          [&](const char* n) { return *feature.name == n; }))
            continue;
        std::string kept;
        for (const std::string& word : words(feature.value)) {
            if (word == target) {
                ++removed;
                continue;
            }
            kept += (kept.empty() ? "" : " ") + word;
        }
        feature.value = kept;
    }
    removed += static_cast<int>(std::erase_if(domain.tags, [&](const Tag& tag) {
        if (!tag.name) return false;
        for (const char* prefix : name_tag_prefixes)
            if (*tag.name == std::string(prefix) + target) return true;
        return false;
    }));
    return removed;
}

}  // namespace reliant::healer
