// V26 across two versions of one system: absent (default) and empty (None)
// must not swap, and a reference must not silently become None.
#include <map>
#include <set>

#include "healer/python_values.h"
#include "healer/validator.h"

namespace reliant::healer {
namespace {

std::map<std::string, const Domain*> by_uuid(const Document& document) {
    std::map<std::string, const Domain*> domains;
    for (const Domain& domain : document.domains) {
        if (domain.is_admin()) {
            domains.emplace("dom0", &domain);
            continue;
        }
        if (const auto text = domain.value("uuid"))
            if (const auto uuid = python_uuid(*text)) domains.emplace(canonical_uuid(*uuid), &domain);
    }
    return domains;
}

bool is_none(const std::optional<std::string>& value) { return !value || value->empty(); }

void compare_domain(const Domain& before, const Domain& after, Diagnostics& out) {
    std::set<std::string> names;
    for (const Property& p : before.properties)
        if (p.name) names.insert(*p.name);
    for (const Property& p : after.properties)
        if (p.name) names.insert(*p.name);
    const std::string who = "'" + after.qube_name().value_or("?") + "'";
    for (const std::string& name : names) {
        const Property* old_property = before.property(name);
        const Property* new_property = after.property(name);
        const int line = new_property ? new_property->line : after.line;
        if (!old_property && new_property && is_none(new_property->value()))
            out.warning("V26", line,
                        name + " of " + who + " was absent (the default) and is now empty (None)");
        else if (old_property && !new_property && is_none(old_property->value()))
            out.warning("V26", line,
                        name + " of " + who + " was empty (None) and is now absent (the default)");
        else if (old_property && new_property && !is_none(old_property->value()) &&
                 is_none(new_property->value()))
            out.warning(
                "V26", line,
                name + " of " + who + " was '" + *old_property->value() + "' and is now empty (None)");
    }
}

}  // namespace

void compare_with_reference(const Document& reference, const Document& document, Diagnostics& out) {
    const auto before = by_uuid(reference);
    for (const auto& [uuid, domain] : by_uuid(document))
        if (const auto match = before.find(uuid); match != before.end())
            compare_domain(*match->second, *domain, out);
}

}  // namespace reliant::healer
