// Loader stages 3 and 4: global properties, then every qube's references to
// other qubes (by name). Rules V10, V17, V20..V24 and the disposable-template
// migration of qubesd main.
#include <set>

#include "healer/validator_internal.h"

namespace reliant::healer::detail {
namespace {

struct Holder {
    std::string description;  // "global property", "'work'"
    int line;
};

// The rule a broken reference falls under, as the conformance corpus files it.
std::string_view reference_rule(const PropertySpec& spec) {
    if (spec.disposable_template) return "V23";
    return "V20";
}

// Resolves one VM reference the way VMProperty.__set__ and its setter do.
// Returns the target, or nullopt for None; `ok` is false when qubesd fails.
std::optional<std::size_t> resolve_reference(Context& context, const PropertySpec& spec,
                                             const Property& property, const Holder& holder, bool& ok) {
    ok = true;
    const std::optional<std::string> value = property.value();
    const std::string what = in_quotes(spec.name) + " of " + holder.description;
    if (!value || value->empty()) {
        if (spec.allow_none) return std::nullopt;
        context.error("V22", property.line, what + " is empty, but it is required");
        ok = false;
        return std::nullopt;
    }
    const auto target = context.find(*value);
    if (!target) {
        context.error(reference_rule(spec), property.line,
                      what + " names " + in_quotes(*value) + ", which does not exist");
        ok = false;
        return std::nullopt;
    }
    const Qube& qube = context.qubes[*target];
    if (spec.target == ReferenceTarget::template_vm && !qube.is(VmClass::template_vm)) {
        context.error("V20", property.line,
                      what + " is " + in_quotes(*value) + ", a " + std::string(class_name(*qube.klass)) +
                          ", not a TemplateVM");
        ok = false;
    } else if (qube.is(VmClass::remote)) {
        context.error("V20", property.line,
                      what + " is " + in_quotes(*value) + ", a RemoteVM, which cannot be a target");
        ok = false;
    } else if (spec.netvm && qube.is(VmClass::admin)) {
        context.error("V21", property.line, what + " is dom0, which cannot be a netvm");
        ok = false;
    } else if (spec.netvm && !qube.provides_network) {
        context.error("V21", property.line,
                      what + " is " + in_quotes(*value) + ", which does not provide network");
        ok = false;
    } else if (spec.dispvm_template && !qube.template_for_dispvms) {
        context.error("V22", property.line,
                      what + " is " + in_quotes(*value) + ", which lacks template_for_dispvms=True");
        ok = false;
    }
    return ok ? std::optional<std::size_t>(*target) : std::nullopt;
}

// qubesd main drops default_dispvm/management_dispvm values whose target is no
// disposable template before loading them (4.3 keeps them); a name that does
// not exist fails the load on both (KeyError on main).
void check_disposable_setting(Context& context, const PropertySpec& spec, const Property& property,
                              const Holder& holder) {
    const std::optional<std::string> value = property.value();
    if (!value || value->empty()) return;
    bool ok = false;
    const auto target = resolve_reference(context, spec, property, holder, ok);
    if (target && !context.qubes[*target].template_for_dispvms)
        context.warning("V23", property.line,
                        in_quotes(spec.name) + " of " + holder.description + " is " + in_quotes(*value) +
                            ", which is not a disposable template (qubesd main clears it, 4.3 keeps it)");
}

void check_global_pool(Context& context, const Property& property) {
    const std::optional<std::string> value = property.value();
    if (value && context.pools.contains(*value)) return;
    std::string why = !value ? "is empty" : "names " + in_quotes(*value);
    if (value) {
        const auto skipped = context.skipped_pools.find(*value);
        why += skipped != context.skipped_pools.end() ? ", a pool qubesd does not load: " + skipped->second
                                                      : ", which does not exist";
    }
    context.error("V10", property.line, "global " + in_quotes(*property.name) + " " + why);
}

// Qubes._migrate_global_properties (both releases), before stage 3: a legacy
// global default_fw_netvm naming an existing qube, when default_netvm is
// absent or names another existing qube, becomes the netvm of every qube that
// provides network and has no netvm element; then it is dropped. A name that
// does not exist (or an empty default_netvm) only drops it. Returns the name
// the migration writes, if it does.
std::optional<std::string> default_fw_netvm_migration(const Context& context) {
    const auto first = [&](std::string_view name) -> const Property* {  // xml.find
        for (const Property& property : context.document.properties)
            if (property.name == name) return &property;
        return nullptr;
    };
    const Property* legacy = first("default_fw_netvm");
    if (!legacy || !legacy->text) return std::nullopt;
    const auto fw_netvm = context.find(*legacy->text);
    if (!fw_netvm) return std::nullopt;
    std::optional<std::size_t> default_netvm;
    if (const Property* current = first("default_netvm")) {
        if (!current->text || !(default_netvm = context.find(*current->text))) return std::nullopt;
    }
    if (default_netvm == fw_netvm) return std::nullopt;
    return *legacy->text;
}

}  // namespace

void check_global_properties(Context& context) {
    const Holder holder{"the system (global)", 0};
    std::set<std::string> seen;
    for (const Property& property : context.document.properties) {
        if (!property.name) {
            context.warning("V17", property.line, "global property without a name; qubesd ignores it");
            continue;
        }
        const std::string& name = *property.name;
        const PropertySpec* spec = global_property(name);
        if (name == "default_fw_netvm") {
            context.warning("V17", property.line,
                            "legacy global 'default_fw_netvm': qubesd drops it at load, after making it the "
                            "netvm of every qube that provides network and has no netvm of its own");
            continue;
        }
        if (!spec || (spec->main_only && !context.main_counts())) {
            context.warning(
                "V17", property.line,
                "unknown global property " + in_quotes(name) + "; qubesd ignores it and drops it on save");
            continue;
        }
        if (!seen.insert(name).second)
            context.warning("V18", property.line,
                            "global property " + in_quotes(name) + " is set more than once");
        if (spec->kind == ValueKind::forbidden) {
            context.error("V17", property.line,
                          "global property " + in_quotes(name) + " cannot be set (qubesd main)");
            continue;
        }
        if (spec->kind == ValueKind::pool) {
            check_global_pool(context, property);
            continue;
        }
        if (spec->kind == ValueKind::vm_reference) {
            if (spec->disposable_template) {
                check_disposable_setting(context, *spec, property, holder);
                continue;
            }
            bool ok = false;
            const auto target = resolve_reference(context, *spec, property, holder, ok);
            if (name == "default_netvm") context.default_netvm = target;
            if (name == "default_netvm" && target && !context.qubes[*target].provides_network)
                context.warning("V24", property.line,
                                "global default_netvm is " + in_quotes(context.qubes[*target].name) +
                                    ", which does not provide network");
            continue;
        }
        std::string note;
        if (const std::string problem = setter_problem(context, *spec, property.value(), note);
            !problem.empty())
            context.error("V19", property.line, "global " + in_quotes(name) + ": " + problem);
        else if (!note.empty())
            context.warning("V19", property.line, "global " + in_quotes(name) + ": " + note);
    }
}

void check_references(Context& context) {
    const std::optional<std::string> migrated_netvm = default_fw_netvm_migration(context);
    for (Qube& qube : context.qubes) {
        if (!qube.klass || qube.domain == &context.implicit_dom0) continue;
        const Holder holder{context.describe(qube), qube.line()};
        bool template_given = false;
        for (const Property& property : qube.domain->properties) {
            if (!property.name) continue;
            const PropertySpec* spec = vm_property(*qube.klass, *property.name);
            if (!spec || spec->kind != ValueKind::vm_reference) continue;
            if (spec->disposable_template) {
                check_disposable_setting(context, *spec, property, holder);
                continue;
            }
            bool ok = false;
            const auto target = resolve_reference(context, *spec, property, holder, ok);
            if (spec->name == "template") {
                template_given = true;
                qube.template_qube = target;
            } else if (spec->netvm) {
                qube.net = !ok ? Qube::Net::invalid : target ? Qube::Net::qube : Qube::Net::none;
                if (target) qube.netvm = *target;
            }
        }
        if (migrated_netvm && has_netvm(*qube.klass) && qube.provides_network &&
            !qube.domain->property("netvm")) {
            Property migrated;
            migrated.name = "netvm";
            migrated.text = migrated_netvm;
            migrated.line = qube.line();
            const Holder from_legacy{holder.description + " (given by the legacy global default_fw_netvm)",
                                     holder.line};
            bool ok = false;
            const auto target =
                resolve_reference(context, *vm_property(*qube.klass, "netvm"), migrated, from_legacy, ok);
            qube.net = !ok ? Qube::Net::invalid : target ? Qube::Net::qube : Qube::Net::none;
            if (target) qube.netvm = *target;
        }
        if ((qube.is(VmClass::app) || qube.is(VmClass::disp)) && !template_given)
            context.error("V22", qube.line(),
                          context.describe(qube) + " is a " + std::string(class_name(*qube.klass)) +
                              " without a template");
    }
}

}  // namespace reliant::healer::detail
