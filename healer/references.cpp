#include "healer/references.h"

#include <algorithm>
#include <sstream>

#include "healer/qubes_schema.h"

namespace reliant::healer {
namespace {

// Features whose value lists qube names (qubes-xml.md §1.6).
constexpr const char* name_features[] = {"preload-dispvm", "deferred-netvm-original", "set-created-guivm"};
// Tags qubesd maintains with a qube's name in them (qubes-core-admin:
// qubes/api/admin.py adds created-by- and disp-created-by-, qubes/ext/gui.py,
// audio.py and relay.py the others).
constexpr const char* name_tag_prefixes[] = {"created-by-", "disp-created-by-", "guivm-", "audiovm-",
                                             "relayvm-"};

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> result;
    for (std::string word; in >> word;) result.push_back(word);
    return result;
}

constexpr std::string_view restorable[] = {"netvm", "default_dispvm", "guivm", "audiovm", "management_dispvm"};

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
    for (const Tag& tag : domain.tags)
        if (const auto target = tag.name ? tag_target(*tag.name) : std::nullopt)
            references.push_back({SoftKind::tag, *tag.name, *target});
    return references;
}

std::optional<std::string> tag_target(std::string_view tag) {
    // disp-created-by-X is not created-by-: the prefixes never overlap.
    for (const std::string_view prefix : name_tag_prefixes)
        if (tag.starts_with(prefix) && tag.size() > prefix.size()) return std::string(tag.substr(prefix.size()));
    return std::nullopt;
}

bool is_name_feature(std::string_view feature) {
    return std::any_of(std::begin(name_features), std::end(name_features),
                       [&](const char* name) { return feature == name; });
}

std::vector<std::string> feature_names(const std::string& value) { return words(value); }

bool is_restorable_property(std::string_view property) {
    return std::find(std::begin(restorable), std::end(restorable), property) != std::end(restorable);
}

int remove_soft_references(Domain& domain, const std::string& target) {
    int removed = 0;
    for (DeviceGroup& group : domain.devices)
        removed += static_cast<int>(std::erase_if(group.devices, [&](const Device& device) {
            const std::string* backend = device.attributes.get("backend-domain");
            return backend && *backend == target;
        }));
    for (Feature& feature : domain.features) {
        if (!feature.name || !is_name_feature(*feature.name)) continue;
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
    removed += static_cast<int>(
        std::erase_if(domain.tags, [&](const Tag& tag) { return tag.name && tag_target(*tag.name) == target; }));
    return removed;
}

int rename_references(Domain& domain, const std::string& from, const std::string& to) {
    int renamed = 0;
    for (const HardReference& reference : hard_references(domain))
        if (reference.target == from) {
            domain.set_property(reference.property, to);
            ++renamed;
        }
    for (DeviceGroup& group : domain.devices)
        for (Device& device : group.devices)
            if (const std::string* backend = device.attributes.get("backend-domain"); backend && *backend == from) {
                device.attributes.set("backend-domain", to);
                ++renamed;
            }
    for (Feature& feature : domain.features) {
        if (!feature.name || !is_name_feature(*feature.name)) continue;
        std::vector<std::string> names = words(feature.value);
        if (std::find(names.begin(), names.end(), from) == names.end()) continue;
        std::string value;
        for (const std::string& word : names) value += (value.empty() ? "" : " ") + (word == from ? to : word);
        feature.value = value;
        ++renamed;
    }
    for (Tag& tag : domain.tags)
        if (tag.name && tag_target(*tag.name) == from) {
            tag.name = tag.name->substr(0, tag.name->size() - from.size()) + to;
            ++renamed;
        }
    return renamed;
}

}  // namespace reliant::healer
