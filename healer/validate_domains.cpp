// Loader stage 2: constructing each domain, its identity and the values of
// its stage-2 properties, and adding it to the collection (duplicate names
// and qids). Rules V5, V11..V19.
#include <algorithm>
#include <set>

#include "healer/validator_internal.h"

namespace reliant::healer::detail {
namespace {

bool all_of_chars(std::string_view text, std::string_view allowed) {
    return std::all_of(text.begin(), text.end(),
                       [&](char c) { return allowed.find(c) != std::string_view::npos; });
}

bool is_alpha(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    });
}

constexpr std::string_view letters_digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

}  // namespace

std::string setter_problem(const Context& context, const PropertySpec& spec,
                           const std::optional<std::string>& value, std::string& note) {
    const std::string text = value.value_or("");
    switch (spec.kind) {
        case ValueKind::text:
        case ValueKind::vm_reference:
        case ValueKind::pool:
            return {};
        case ValueKind::forbidden:
            return "cannot be set";
        case ValueKind::integer:
        case ValueKind::positive_int:
        case ValueKind::non_negative_int:
        case ValueKind::qid: {
            if (!value) return "None is not an integer";
            const auto number = python_int(text);
            if (!number) return in_quotes(text) + " is not an integer";
            if (*value != std::to_string(*number))
                note = "written as " + in_quotes(text) + ", qubesd writes " + std::to_string(*number);
            if (spec.kind == ValueKind::positive_int && *number <= 0)
                return "must be positive, not " + std::to_string(*number);
            if (spec.kind == ValueKind::non_negative_int && *number < 0) return "must not be negative";
            if (spec.kind == ValueKind::qid && (*number < 0 || *number > 10000))
                return std::to_string(*number) + " is outside 0..10000";
            return {};
        }
        case ValueKind::uuid: {
            if (!value) return "None is not a UUID";
            const auto uuid = python_uuid(text);
            if (!uuid) return in_quotes(text) + " is not a UUID";
            if (text != canonical_uuid(*uuid)) note = "write the canonical form " + canonical_uuid(*uuid);
            return {};
        }
        case ValueKind::boolean:
            if (!value) return {};  // bool(None) is False
            if (!property_bool(text)) return in_quotes(text) + " is not a boolean";
            if (!is_canonical_bool(text))
                note = in_quotes(text) + " is accepted; qubesd writes True or False";
            return {};
        case ValueKind::label: {
            bool non_canonical = false;
            std::string problem = resolve_label(context, value, non_canonical);
            if (problem.empty() && non_canonical)
                note = "refers to a label by " + in_quotes(text) + "; write its name";
            return problem;
        }
        case ValueKind::kernel:
            if (text.find('/') != std::string::npos)
                return "kernel name " + in_quotes(text) + " contains '/'";
            return {};
        case ValueKind::kernelopts:
            // len() of the Python string: characters, not UTF-8 bytes.
            if (python_length(text).value_or(text.size()) > 512) return "is longer than 512 characters";
            return {};
        case ValueKind::default_user: {
            const std::string user = value.value_or("None");  // str(None)
            if (!all_of_chars(user, std::string(letters_digits) + "_-+,."))
                return "user " + in_quotes(user) + " has characters outside [A-Za-z0-9_+,.-]";
            return {};
        }
        case ValueKind::denied_list: {
            // _setter_denied_list: DeviceInterface.from_str_bulk cuts the text
            // into 7-character codes (a length that is no multiple of 7 raises),
            // then the sorted, deduplicated codes must match
            // ^([bump*][0-9a-f*]{6})*$, case-sensitively: "P0200**" fails.
            if (text.empty()) return {};
            if (python_length(text).value_or(1) % 7 != 0)
                return in_quotes(text) + " is not a list of 7-character interface codes";
            for (std::size_t i = 0; i < text.size(); i += 7)
                if (std::string_view("bump*").find(text[i]) == std::string_view::npos ||
                    !all_of_chars(std::string_view(text).substr(i + 1, 6), "0123456789abcdef*"))
                    return in_quotes(text) +
                           " is not a list of interface codes like p0200** (lower case: qubesd compares "
                           "exactly)";
            return {};
        }
        case ValueKind::virt_mode: {
            std::string mode = value.value_or("None");
            std::transform(mode.begin(), mode.end(), mode.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            if (mode != "hvm" && mode != "pv" && mode != "pvh")
                return in_quotes(value.value_or("None")) + " is not hvm, pv or pvh";
            return {};
        }
        case ValueKind::mac: {
            if (!value) return "None is not a MAC address";
            std::string mac = text;
            std::transform(mac.begin(), mac.end(), mac.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            bool ok = mac.size() == 17;
            for (std::size_t i = 0; ok && i < mac.size(); ++i)
                ok = (i % 3 == 2) ? mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(mac[i])) != 0;
            return ok ? "" : in_quotes(text) + " is not a MAC address";
        }
        case ValueKind::ipv4:
            return value && python_ipv4(text) ? ""
                                              : in_quotes(value.value_or("None")) + " is not an IPv4 address";
        case ValueKind::ipv6:
            return value && python_ipv6(text) ? ""
                                              : in_quotes(value.value_or("None")) + " is not an IPv6 address";
        case ValueKind::keyboard_layout: {
            if (!value) return "None is not a keyboard layout";
            if (!std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; }))
                return "is not ASCII";
            std::vector<std::string_view> parts;
            std::string_view rest = text;
            for (std::size_t plus = rest.find('+'); plus != std::string_view::npos; plus = rest.find('+')) {
                parts.push_back(rest.substr(0, plus));
                rest.remove_prefix(plus + 1);
            }
            parts.push_back(rest);
            if (parts.size() != 3) return "needs exactly layout+variant+options";
            if (!is_alpha(parts[0])) return "layout " + in_quotes(parts[0]) + " is not alphabetic";
            if (!all_of_chars(parts[1], std::string(letters_digits) + "-_")) return "invalid layout variant";
            if (!all_of_chars(parts[2], std::string(letters_digits) + "-_:,"))
                return "invalid layout options";
            return {};
        }
    }
    return {};
}

namespace {

// The legacy properties qubesd migrates away before it checks names.
bool is_migrated_legacy(VmClass klass, std::string_view name, bool& first_seen) {
    const bool legacy =
        (name == "hvm" && has_netvm(klass)) || (name == "dispvm_allowed" && klass == VmClass::app);
    if (!legacy) return false;
    const bool first = first_seen;
    first_seen = false;
    return first;  // only the first occurrence is migrated; a second one is unknown
}

void load_properties(Context& context, Qube& qube) {
    const Domain& domain = *qube.domain;
    const VmClass klass = *qube.klass;
    std::set<std::string> seen;
    std::set<std::string> repeated;
    bool first_hvm = true, first_dispvm_allowed = true;
    for (const Property& property : domain.properties) {
        if (!property.name) {
            context.error("V17", property.line, "property without a name in " + context.describe(qube));
            continue;
        }
        const std::string& name = *property.name;
        const PropertySpec* spec = vm_property(klass, name);
        if (!spec) {
            bool& first = name == "hvm" ? first_hvm : first_dispvm_allowed;
            if (is_migrated_legacy(klass, name, first)) {
                if (!property_bool(property.text.value_or("False")))
                    context.error("V19", property.line,
                                  "legacy property " + in_quotes(name) + " of " + context.describe(qube) +
                                      " is not a boolean");
                else
                    context.warning("V17", property.line,
                                    "legacy property " + in_quotes(name) + " of " + context.describe(qube) +
                                        " is migrated by qubesd at load");
                continue;
            }
            context.error("V17", property.line,
                          "property " + in_quotes(name) + " is not applicable to " +
                              std::string(class_name(klass)) + " " + context.describe(qube));
            continue;
        }
        if (spec->kind == ValueKind::forbidden) {
            const std::string rule =
                klass == VmClass::admin && (name == "name" || name == "qid" || name == "uuid" ||
                                            name == "maxmem" || name == "updateable")
                    ? "V12"
                    : "V17";
            context.error(rule, property.line,
                          "property " + in_quotes(name) + " cannot be set on " +
                              std::string(class_name(klass)) + " " + context.describe(qube));
            continue;
        }
        if (!seen.insert(name).second) {
            if (spec->write_once) {
                context.error("V18", property.line,
                              "write-once property " + in_quotes(name) + " of " + context.describe(qube) +
                                  " is set twice");
                continue;
            }
            if (repeated.insert(name).second)
                context.warning("V18", property.line,
                                "property " + in_quotes(name) + " of " + context.describe(qube) +
                                    " is set more than once; the last one wins");
        }
        if (spec->stage == 4 && spec->kind == ValueKind::vm_reference) continue;  // stage 4
        std::string note;
        const std::string problem = setter_problem(context, *spec, property.value(), note);
        const std::string rule = name == "label" ? "V5" : (name == "qid" || name == "uuid") ? "V13" : "V19";
        if (!problem.empty()) {
            context.error(rule, property.line,
                          in_quotes(name) + " of " + context.describe(qube) + ": " + problem);
            continue;
        }
        if (!note.empty()) {
            // Integers tolerate surrounding whitespace; report it as such.
            const bool whitespace = property.value() && python_int(*property.value()) &&
                                    property.value()->find_first_of(" \t\r\n") != std::string::npos;
            context.warning(whitespace ? "V2" : rule, property.line,
                            in_quotes(name) + " of " + context.describe(qube) + ": " + note);
        }
    }
}

// The values later stages need, as loaded (the last occurrence wins).
void record_values(Qube& qube) {
    const Domain& domain = *qube.domain;
    if (const Property* name = domain.property("name")) {
        qube.has_name = true;
        qube.name = name->value().value_or("None");  // str(None)
    }
    if (const auto qid = domain.value("qid")) qube.qid = python_int(*qid);
    if (const auto uuid = domain.value("uuid")) qube.uuid = python_uuid(*uuid);
    if (const auto dispid = domain.value("dispid")) qube.dispid = python_int(*dispid);
    if (const Property* flag = domain.property("template_for_dispvms"))
        qube.template_for_dispvms = flag->value() && property_bool(*flag->value()).value_or(false);
    else if (const Property* legacy = domain.property("dispvm_allowed"); legacy && qube.is(VmClass::app))
        qube.template_for_dispvms = property_bool(legacy->text.value_or("False")).value_or(false);
    if (const Property* flag = domain.property("provides_network"))
        qube.provides_network = flag->value() && property_bool(*flag->value()).value_or(false);
    if (const Property* kernel = domain.property("kernel")) {
        qube.kernel_set = true;
        qube.kernel = kernel->value().value_or("");
    }
    if (const auto ip = domain.value("ip")) qube.ip = ip;
}

void check_identity(Context& context, Qube& qube) {
    if (qube.is(VmClass::admin)) {
        qube.name = "dom0";
        qube.qid = 0;
        qube.uuid = Uuid{};
        return;
    }
    for (const char* required : {"name", "qid"})
        if (!qube.domain->property(required))
            context.error("V13", qube.line(), context.describe(qube) + " has no " + required);
    if (qube.has_name) {
        if (const std::string problem = qube_name_problem(qube.name); !problem.empty())
            context.warning(
                "V15", qube.line(),
                "qube name " + in_quotes(qube.name) + " " + problem + "; the Admin API cannot address it");
    }
}

void check_domain_id(Context& context, const Qube& qube) {
    if (!qube.qid) return;
    const std::string expected = "domain-" + std::to_string(*qube.qid);
    if (qube.domain->id != expected)
        context.warning("V16", qube.line(),
                        context.describe(qube) + " has id=" + in_quotes(qube.domain->id.value_or("")) +
                            "; qubesd writes " + in_quotes(expected));
}

// VMCollection.add: duplicate qid (including dom0's 0), then duplicate name.
void add_to_collection(Context& context, std::size_t index, std::map<long long, std::size_t>& by_qid) {
    Qube& qube = context.qubes[index];
    if (qube.qid) {
        if (const auto clash = by_qid.find(*qube.qid); clash != by_qid.end()) {
            const Qube& other = context.qubes[clash->second];
            const bool two_admins = qube.is(VmClass::admin) && other.is(VmClass::admin);
            context.error(two_admins ? "V12" : "V14", qube.line(),
                          two_admins ? "a second AdminVM"
                                     : "qid " + std::to_string(*qube.qid) + " used by both " +
                                           context.describe(other) + " and " + context.describe(qube));
            return;
        }
    }
    if (context.by_name.contains(qube.name)) {
        context.error("V14", qube.line(),
                      "name " + in_quotes(qube.name) + " used by two domains" +
                          (qube.name == "dom0" ? " (dom0 is the AdminVM's)" : ""));
        return;
    }
    if (qube.qid) by_qid[*qube.qid] = index;
    context.by_name[qube.name] = index;
    qube.in_collection = true;
}

void check_uuids(Context& context) {
    std::map<Uuid, std::size_t> seen;
    for (std::size_t i = 0; i < context.qubes.size(); ++i) {
        const Qube& qube = context.qubes[i];
        if (!qube.uuid || qube.is(VmClass::admin)) continue;
        if (is_nil(*qube.uuid)) {
            context.warning("V15", qube.line(),
                            context.describe(qube) + " has the nil UUID, which is dom0's");
            continue;
        }
        if (const auto [it, added] = seen.emplace(*qube.uuid, i); !added)
            context.warning(
                "V15", qube.line(),
                context.describe(qube) + " has the UUID of " + context.describe(context.qubes[it->second]));
    }
}

// qubesd reads the uuid of every qube already in the collection whenever it
// adds one (VMCollection.__contains__), and when it looks for qid 0 without
// an AdminVM; only a qube nothing is checked against after it survives
// without one, and domain-load then gives it a new random uuid.
void check_missing_uuids(Context& context) {
    const bool has_admin = std::any_of(context.qubes.begin(), context.qubes.end(),
                                       [](const Qube& q) { return q.is(VmClass::admin); });
    for (std::size_t i = 0; i < context.qubes.size(); ++i) {
        const Qube& qube = context.qubes[i];
        if (!qube.klass || qube.is(VmClass::admin) || qube.domain->property("uuid")) continue;
        const bool later_domain =
            std::any_of(context.qubes.begin() + static_cast<std::ptrdiff_t>(i) + 1, context.qubes.end(),
                        [](const Qube& q) { return q.klass.has_value(); });
        if (later_domain || !has_admin)
            context.error("V13", qube.line(), context.describe(qube) + " has no uuid");
        else
            context.warning("V13", qube.line(),
                            context.describe(qube) + " has no uuid; qubesd makes up a new one at every load");
    }
}

void check_admin_placement(Context& context) {
    std::size_t admins = 0;
    for (std::size_t i = 0; i < context.qubes.size(); ++i) {
        const Qube& qube = context.qubes[i];
        if (!qube.is(VmClass::admin)) continue;
        if (admins++ == 0 && i != 0)
            context.warning("V12", qube.line(),
                            "the AdminVM is not the first domain; qubesd writes dom0 first");
    }
    if (admins == 0)
        context.warning("V12", 0, "no AdminVM: qubesd creates a bare dom0, losing its label and features");
}

void check_missing_label(Context& context, const Qube& qube) {
    if (qube.domain->property("label")) return;
    context.warning(
        "V5", qube.line(),
        context.describe(qube) + " has no label" +
            (qube.is(VmClass::admin) ? " (qubesd writes black)" : "; the GUI and backups need one"));
}

}  // namespace

void construct_qubes(Context& context) {
    std::map<long long, std::size_t> by_qid;
    for (const Domain& domain : context.document.domains) {
        Qube qube;
        qube.domain = &domain;
        if (domain.klass) qube.klass = vm_class_named(*domain.klass);
        context.qubes.push_back(qube);
    }
    for (std::size_t i = 0; i < context.qubes.size(); ++i) {
        Qube& qube = context.qubes[i];
        record_values(qube);
        if (!qube.klass) {
            const Domain& domain = *qube.domain;
            context.error("V11", domain.line,
                          domain.klass ? "unknown domain class " + in_quotes(*domain.klass) + " for " +
                                             context.describe(qube)
                                       : "domain without a class");
            continue;
        }
        check_identity(context, qube);
        load_properties(context, qube);
        check_missing_label(context, qube);
        check_domain_id(context, qube);
        if (qube.is(VmClass::admin) || (qube.has_name && qube.qid && qube.uuid))
            add_to_collection(context, i, by_qid);
    }
    check_missing_uuids(context);
    check_uuids(context);
    check_admin_placement(context);
    // Without an AdminVM (and qid 0 free) qubesd creates a bare dom0.
    if (!context.by_name.contains("dom0") &&
        std::none_of(context.qubes.begin(), context.qubes.end(), [](const Qube& q) { return q.qid == 0; })) {
        Qube dom0;
        dom0.domain = &context.implicit_dom0;
        dom0.klass = VmClass::admin;
        dom0.name = "dom0";
        dom0.qid = 0;
        dom0.uuid = Uuid{};
        dom0.in_collection = true;
        context.qubes.push_back(dom0);
        context.by_name["dom0"] = context.qubes.size() - 1;
    }
}

}  // namespace reliant::healer::detail
