// The references a qube (or the system) makes to other qubes, by name.
// Hard references are VM properties qubesd resolves at load (a dangling one
// stops it); soft ones are strings it tolerates: device backends, features
// and auto-maintained tags that carry qube names. Both matter for
// deniability: the base must not name a hidden qube in either.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "healer/model.h"

namespace reliant::healer {

struct HardReference {
    std::string property;  // template, netvm, default_dispvm, ...
    std::string target;    // the qube's name
};

enum class SoftKind { device_backend, feature, tag };

struct SoftReference {
    SoftKind kind;
    std::string key;     // feature name, tag, or device class
    std::string target;  // the qube's name
};

// Non-empty VM-reference properties of a domain (by its class).
std::vector<HardReference> hard_references(const Domain& domain);
// Non-empty VM-reference global properties.
std::vector<HardReference> global_references(const Document& document);
std::vector<SoftReference> soft_references(const Domain& domain);

// A VM property left at its default takes a global property's value
// (qubes-core-admin: netvm -> default_netvm, except a TemplateVM's, whose
// default is none; default_dispvm -> default_dispvm, except a DispVM's,
// whose default is its own template). The shard records the qube such a
// global named, so that merge sees when the qube behind it changed.
struct InheritedDefault {
    std::string_view property;  // netvm, default_dispvm
    std::string_view global;    // default_netvm, default_dispvm
};

// The defaults `domain` inherits from a global: the property is absent (an
// empty element is an explicit None, not the default).
std::vector<InheritedDefault> inherited_defaults(const Domain& domain);
// Whether `global` is one that inherited_defaults can return.
bool is_inheritable_global(std::string_view global);

// Removes every soft reference to `target` from the domain; returns how many.
int remove_soft_references(Domain& domain, const std::string& target);

// Every reference to the qube `from`, hard and soft, now names `to` (a qube
// renamed by reliant-session repair); returns how many.
int rename_references(Domain& domain, const std::string& from, const std::string& to);

// The qube named by a tag qubesd maintains (created-by-NAME, guivm-NAME, ...).
std::optional<std::string> tag_target(std::string_view tag);
// Whether a feature's value is a list of qube names qubesd maintains.
bool is_name_feature(std::string_view feature);
// The names in such a feature's value.
std::vector<std::string> feature_names(const std::string& value);

// The properties a lower qube's restoration may set (docs/shards.md,
// "References up"): every VM reference but the template (a qube based on a
// higher template keeps its root there, which split refuses).
bool is_restorable_property(std::string_view property);

}  // namespace reliant::healer
