#include "healer/model.h"

#include <algorithm>

namespace reliant::healer {

const std::string* Attributes::get(std::string_view name) const {
    for (const auto& attribute : items_)
        if (attribute.name == name) return &attribute.value;
    return nullptr;
}

void Attributes::set(std::string_view name, std::string value) {
    for (auto& attribute : items_)
        if (attribute.name == name) {
            attribute.value = std::move(value);
            return;
        }
    items_.push_back({std::string(name), std::move(value)});
}

bool Attributes::erase(std::string_view name) {
    const auto it =
        std::find_if(items_.begin(), items_.end(), [&](const Attribute& a) { return a.name == name; });
    if (it == items_.end()) return false;
    items_.erase(it);
    return true;
}

std::optional<std::string> Property::value() const {
    if (ref && !ref->empty()) return ref;
    return text;
}

namespace {

template <typename Properties>
auto* last_property(Properties& properties, std::string_view name) {
    for (auto it = properties.rbegin(); it != properties.rend(); ++it)
        if (it->name && *it->name == name) return &*it;
    return static_cast<decltype(&*properties.rbegin())>(nullptr);
}

}  // namespace

const Property* Domain::property(std::string_view name) const { return last_property(properties, name); }
Property* Domain::property(std::string_view name) { return last_property(properties, name); }

std::optional<std::string> Domain::value(std::string_view name) const {
    const Property* found = property(name);
    return found ? found->value() : std::nullopt;
}

const Feature* Domain::feature(std::string_view name) const {
    for (auto it = features.rbegin(); it != features.rend(); ++it)
        if (it->name && *it->name == name) return &*it;
    return nullptr;
}

std::optional<std::string> Domain::qube_name() const {
    if (is_admin()) return std::string("dom0");
    return value("name");
}

void Domain::set_property(std::string_view name, std::optional<std::string> new_value) {
    if (Property* existing = property(name)) {
        existing->text = std::move(new_value);
        existing->ref.reset();
        return;
    }
    properties.push_back(Property{std::string(name), std::move(new_value), std::nullopt, 0});
}

bool Domain::remove_property(std::string_view name) {
    const auto before = properties.size();
    std::erase_if(properties, [&](const Property& p) { return p.name && *p.name == name; });
    return properties.size() != before;
}

void Domain::set_feature(std::string_view name, std::string new_value) {
    for (auto& feature : features)
        if (feature.name && *feature.name == name) {
            feature.value = std::move(new_value);
            return;
        }
    features.push_back(Feature{std::string(name), std::move(new_value), 0});
}

const Property* Document::property(std::string_view name) const { return last_property(properties, name); }
Property* Document::property(std::string_view name) { return last_property(properties, name); }

std::optional<std::string> Document::value(std::string_view name) const {
    const Property* found = property(name);
    return found ? found->value() : std::nullopt;
}

const Pool* Document::pool(std::string_view name) const {
    for (auto it = pools.rbegin(); it != pools.rend(); ++it)
        if (it->name() && *it->name() == name) return &*it;
    return nullptr;
}

const Domain* Document::domain(std::string_view qube_name) const {
    for (const auto& domain : domains)
        if (domain.qube_name() == qube_name) return &domain;
    return nullptr;
}

Domain* Document::domain(std::string_view qube_name) {
    for (auto& domain : domains)
        if (domain.qube_name() == qube_name) return &domain;
    return nullptr;
}

}  // namespace reliant::healer
