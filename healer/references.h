// The references a qube (or the system) makes to other qubes, by name.
// Hard references are VM properties qubesd resolves at load (a dangling one
// stops it); soft ones are strings it tolerates: device backends, features
// and auto-maintained tags that carry qube names. Both matter for
// deniability: the base must not name a hidden qube in either.
#pragma once

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

}  // namespace reliant::healer
