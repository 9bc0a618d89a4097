// Loader stage 4, extras: features, tags and device assignments, and what
// qubesd ignores on RemoteVM/AdminVM. Rules V27..V30.
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "healer/validator_internal.h"

namespace reliant::healer::detail {
namespace {

// Tags.add: string.ascii_letters + string.digits + "_-".
bool tag_safe(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x80 && std::isalnum(u)) || c == '_' || c == '-';
    });
}

bool is_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// "0000:00" for each /sys/devices/pci0000:00.
std::vector<std::string> read_root_buses(const std::filesystem::path& sysfs) {
    std::vector<std::string> buses;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(sysfs / "devices", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with("pci")) buses.push_back(name.substr(3));
    }
    return buses;
}

// qubes.utils.is_pci_path: "<root bus>_dd.f" followed by "-bb_dd.f" hops.
bool is_pci_path(std::string id, const std::vector<std::string>& root_buses) {
    if (id.size() > 2 && id[2] == '_') id = "0000_" + id;
    for (std::string root : root_buses) {
        std::replace(root.begin(), root.end(), ':', '_');
        if (!id.starts_with(root + "_")) continue;
        std::string_view rest = std::string_view(id).substr(root.size() + 1);
        // dd.f
        if (rest.size() < 4 || !is_hex(rest.substr(0, 2)) || rest[2] != '.' || !is_hex(rest.substr(3, 1)))
            continue;
        rest.remove_prefix(4);
        bool ok = true;
        while (ok && !rest.empty()) {  // -bb_dd.f
            ok = rest.size() >= 8 && rest[0] == '-' && is_hex(rest.substr(1, 2)) && rest[3] == '_' &&
                 is_hex(rest.substr(4, 2)) && rest[6] == '.' && is_hex(rest.substr(7, 1));
            rest.remove_prefix(std::min<std::size_t>(8, rest.size()));
        }
        if (ok) return true;
    }
    return false;
}

// The BDF forms qubes.utils.sbdf_to_path accepts ([pci_][ssss:]bb:dd.f, with
// '_' for ':' and '.'); anything else raises ValueError.
bool is_bdf(std::string_view id) {
    if (id.starts_with("pci_")) id.remove_prefix(4);
    const auto separator = [](char c) { return c == '_' || c == ':'; };
    if (id.size() == 12) {
        if (!is_hex(id.substr(0, 4)) || !separator(id[4])) return false;
        id.remove_prefix(5);
    }
    return id.size() == 7 && is_hex(id.substr(0, 2)) && separator(id[2]) && is_hex(id.substr(3, 2)) &&
           (id[5] == '.' || id[5] == '_') && is_hex(id.substr(6, 1));
}

void check_features(Context& context, const Qube& qube) {
    std::set<std::string> seen;
    for (const Feature& feature : qube.domain->features) {
        if (!feature.name) {
            context.error("V27", feature.line, "feature without a name on " + context.describe(qube));
            continue;
        }
        if (!seen.insert(*feature.name).second)
            context.warning("V28", feature.line,
                            "feature " + in_quotes(*feature.name) + " of " + context.describe(qube) +
                                " is set more than once; the last one wins");
    }
    // Soft references: plain strings naming qubes, not checked at load.
    for (const char* name : {"preload-dispvm", "deferred-netvm-original", "set-created-guivm"}) {
        const Feature* feature = qube.domain->feature(name);
        if (!feature) continue;
        std::istringstream names(feature->value);
        for (std::string target; names >> target;) {
            if (context.find(target)) continue;
            const bool rewrites = std::string_view(name) == "preload-dispvm" && qube.template_for_dispvms;
            context.warning("V28", feature->line,
                            "feature " + in_quotes(name) + " of " + context.describe(qube) + " names " +
                                in_quotes(target) + ", which does not exist" +
                                (rewrites ? "; qubesd removes it and rewrites qubes.xml during load" : ""));
        }
    }
}

// The last global property `name` (stage 3 sets them in order), or nullptr.
const Property* global_setting(const Context& context, std::string_view name) {
    const Property* found = nullptr;
    for (const Property& property : context.document.properties)
        if (property.name == name) found = &property;
    return found;
}

// DVMTemplateMixin.on_domain_loaded (domain-load, both releases): a
// disposable template whose preload-dispvm feature names a qube that does not
// exist gets the list rewritten without it, and the rewrite goes through the
// feature's validation: preload-dispvm-max (the global one on dom0 when this is
// the global default_dispvm) must be int()-able, and what is left must hold no
// name twice. Either failure aborts the load.
void check_preload_rewrite(Context& context, const Qube& qube) {
    if (!qube.template_for_dispvms) return;
    const Feature* preload = qube.domain->feature("preload-dispvm");
    if (!preload || preload->value.empty()) return;
    std::vector<std::string> kept;  // value.split(" ")
    bool rewritten = false;
    for (std::size_t at = 0;;) {
        const std::size_t space = preload->value.find(' ', at);
        std::string name =
            preload->value.substr(at, space == std::string::npos ? std::string::npos : space - at);
        if (context.find(name))
            kept.push_back(std::move(name));
        else
            rewritten = true;
        if (space == std::string::npos) break;
        at = space + 1;
    }
    if (!rewritten) return;
    const std::string where = "feature 'preload-dispvm' of " + context.describe(qube);

    // get_feat_preload_max, evaluated before anything else is compared.
    const Feature* maximum = nullptr;
    std::string whose = context.describe(qube);
    const Property* global_dispvm = global_setting(context, "default_dispvm");
    if (global_dispvm && global_dispvm->value() && qube.has_name && *global_dispvm->value() == qube.name)
        if (const Qube* dom0 = context.qube_named("dom0"))
            if ((maximum = dom0->domain->feature("preload-dispvm-max"))) whose = "dom0 (global)";
    if (!maximum) maximum = qube.domain->feature("preload-dispvm-max");
    if (maximum && !maximum->value.empty() && !python_int(maximum->value)) {
        context.error("V28", preload->line,
                      where + " names qubes that do not exist; qubesd rewrites it at load and then reads " +
                          "preload-dispvm-max of " + whose + ", " + in_quotes(maximum->value) +
                          ", which is not an integer");
        return;
    }
    std::set<std::string> seen;
    for (const std::string& name : kept)
        if (!seen.insert(name).second) {
            context.error("V28", preload->line,
                          where + " names qubes that do not exist; qubesd rewrites it at load and refuses " +
                              "the result, which names " + in_quotes(name) + " twice");
            return;
        }
}

// The effective guivm/audiovm (explicit, else the global default, else dom0)
// of a qube that has the property, or nullptr for None; relayvm (no global
// default) is only the explicit one.
const Qube* effective_target(const Context& context, const Qube& qube, std::string_view property,
                             std::string_view global_default) {
    if (const Property* own = qube.domain->property(property)) {
        const auto value = own->value();
        return value && !value->empty() ? context.qube_named(*value) : nullptr;
    }
    if (global_default.empty()) return nullptr;
    if (const Property* global = global_setting(context, global_default)) {
        const auto value = global->value();
        return value && !value->empty() ? context.qube_named(*value) : nullptr;
    }
    return context.qube_named("dom0");
}

// The GUI, audio and relay extensions tag each qube at domain-load with
// "guivm-<name>", "audiovm-<name>", "relayvm-<name>" (Tags.add allows only
// ASCII letters, digits, '_' and '-'): a target whose name has any other
// character ('.', '+', non-ASCII; qubesd loads such names) aborts the load.
void check_target_tags(Context& context, const Qube& qube) {
    static constexpr std::pair<std::string_view, std::string_view> targets[] = {
        {"guivm", "default_guivm"}, {"audiovm", "default_audiovm"}, {"relayvm", ""}};
    for (const auto& [property, global_default] : targets) {
        if (!vm_property(*qube.klass, property)) continue;
        const Qube* target = effective_target(context, qube, property, global_default);
        if (!target || tag_safe(target->name)) continue;
        const Property* own = qube.domain->property(property);
        context.error("V27", own ? own->line : qube.line(),
                      "the " + std::string(property) + " of " + context.describe(qube) + " is " +
                          in_quotes(target->name) + (own ? "" : " (the default)") +
                          "; qubesd tags the qube " + in_quotes(std::string(property) + "-" + target->name) +
                          " at load, and a tag allows only [A-Za-z0-9_-]");
    }
}

void check_tags(Context& context, const Qube& qube) {
    for (const Tag& tag : qube.domain->tags) {
        if (!tag.name) {
            context.error("V27", tag.line, "tag without a name on " + context.describe(qube));
            continue;
        }
        if (!tag_safe(*tag.name))
            context.error("V27", tag.line,
                          "tag " + in_quotes(*tag.name) + " of " + context.describe(qube) +
                              " has characters outside [A-Za-z0-9_-]");
        else if (tag.name->empty())
            context.warning("V27", tag.line, "empty tag on " + context.describe(qube));
    }
}

void check_device(Context& context, const Qube& qube, const std::string& device_class, const Device& device,
                  const std::vector<std::string>& root_buses) {
    const std::string where = device_class + " device of " + context.describe(qube);
    std::string mode = "required";
    if (const std::string* legacy = device.attributes.get("required")) {
        const auto required = property_bool(*legacy);
        if (!required) {
            context.error("V29", device.line,
                          where + ": required=" + in_quotes(*legacy) + " is not a boolean");
            return;
        }
        mode = *required ? "required" : "auto-attach";
    } else if (const std::string* given = device.attributes.get("mode")) {
        mode = *given;
        if (mode != "required" && mode != "auto-attach" && mode != "ask-to-attach" && mode != "manual") {
            context.warning("V29", device.line,
                            where + ": unknown mode " + in_quotes(mode) + "; qubesd skips the assignment");
            return;
        }
    }
    if (const std::string* backend = device.attributes.get("backend-domain");
        backend && !backend->empty() && !context.find(*backend)) {
        context.warning(
            "V29", device.line,
            where + ": backend " + in_quotes(*backend) + " does not exist; qubesd drops the assignment");
        return;
    }
    const std::string* id = device.attributes.get("id");
    if (device_class == "pci" && id && *id != "*" && !is_pci_path(*id, root_buses) && !is_bdf(*id)) {
        context.error(
            "V29", device.line,
            where + ": " + in_quotes(*id) + " is neither a PCI path on this machine's root buses nor a BDF");
        return;
    }
    if (mode == "manual") {
        context.error("V29", device.line, where + ": mode 'manual' cannot be stored");
        return;
    }
    static const std::set<std::string, std::less<>> known_classes = {"pci", "block", "usb", "mic"};
    if (!known_classes.contains(device_class))
        context.warning("V29", device.line, where + ": unknown device class; qubesd skips the assignment");
}

void check_devices(Context& context, const Qube& qube, const std::vector<std::string>& root_buses) {
    if (qube.is(VmClass::remote)) {
        if (!qube.domain->devices.empty())
            context.warning(
                "V30", qube.domain->devices.front().line,
                "devices of RemoteVM " + context.describe(qube) + " are ignored and dropped on save");
        return;
    }
    for (const DeviceGroup& group : qube.domain->devices) {
        const std::string device_class = group.device_class.value_or("");
        for (const Device& device : group.devices)
            check_device(context, qube, device_class, device, root_buses);
    }
}

}  // namespace

void check_extras(Context& context) {
    const std::vector<std::string> root_buses = context.options.pci_root_buses
                                                    ? *context.options.pci_root_buses
                                                    : read_root_buses(context.options.sysfs);
    for (const Qube& qube : context.qubes) {
        if (!qube.klass || qube.domain == &context.implicit_dom0) continue;
        check_features(context, qube);
        check_tags(context, qube);
        check_preload_rewrite(context, qube);
        check_target_tags(context, qube);
        check_devices(context, qube, root_buses);
        if ((qube.is(VmClass::remote) || qube.is(VmClass::admin)) && qube.domain->volume_config)
            context.warning("V30", qube.line(),
                            "volume-config of " + std::string(class_name(*qube.klass)) + " " +
                                context.describe(qube) + " is ignored and dropped on save");
    }
}

}  // namespace reliant::healer::detail
