// Loader stage 5, the rest of domain-load, and what breaks only at run time:
// netvm cycles (qubesd breaks them and persists the break), the nil-UUID
// crash, networked clockvm/updatevm, dispids, IP collisions, kernels that are
// not installed. Rules V15 (fatal part), V19 (kernels), V24, V25, V39.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "healer/validator_internal.h"

namespace reliant::healer::detail {
namespace {

bool in_system(const Context& context, const Qube& qube) {
    return qube.in_collection && qube.domain != &context.implicit_dom0;
}

void check_netvm_cycles(Context& context) {
    std::set<std::size_t> reported;
    for (std::size_t start = 0; start < context.qubes.size(); ++start) {
        if (!in_system(context, context.qubes[start]) || reported.contains(start)) continue;
        std::vector<std::size_t> path{start};
        std::set<std::size_t> on_path{start};
        for (auto next = context.effective_netvm(context.qubes[start]); next;
             next = context.effective_netvm(context.qubes[*next])) {
            if (on_path.contains(*next)) {
                // Report the cycle once, starting where it closes.
                const auto begin = std::find(path.begin(), path.end(), *next);
                if (std::none_of(begin, path.end(), [&](std::size_t i) { return reported.contains(i); })) {
                    std::string text;
                    for (auto it = begin; it != path.end(); ++it) {
                        text += context.qubes[*it].name + " -> ";
                        reported.insert(*it);
                    }
                    text += context.qubes[*next].name;
                    const Qube& closing = context.qubes[*next];
                    context.warning("V25", closing.line(),
                                    "netvm cycle " + text +
                                        " (counting defaults); qubesd breaks it at load and saves the break");
                }
                break;
            }
            path.push_back(*next);
            on_path.insert(*next);
        }
    }
}

// Looking a qube up by its UUID finds dom0 first when it has the nil UUID;
// the netvm loop check then fails on dom0 (AttributeError).
void check_nil_uuid_networked(Context& context) {
    for (const Qube& qube : context.qubes)
        if (in_system(context, qube) && !qube.is(VmClass::admin) && qube.uuid && is_nil(*qube.uuid) &&
            context.effective_netvm(qube))
            context.error("V15", qube.line(),
                          context.describe(qube) + " has dom0's nil UUID and a netvm; qubesd fails on it");
}

void check_networked_service_qubes(Context& context) {
    for (const char* role : {"clockvm", "updatevm"}) {
        const Property* property = context.document.property(role);
        if (!property || !property->value() || property->value()->empty()) continue;
        const Qube* qube = context.qube_named(*property->value());
        if (qube && !qube->is(VmClass::admin) && !qube->provides_network && !context.effective_netvm(*qube))
            context.warning(
                "V24", property->line,
                std::string("global ") + role + " is " + in_quotes(qube->name) + ", which has no network");
    }
}

void check_dispids_and_ips(Context& context) {
    std::map<long long, const Qube*> dispids;
    std::map<std::string, const Qube*> derived;  // IPs qubesd derives
    for (const Qube& qube : context.qubes) {
        if (!in_system(context, qube) || qube.is(VmClass::admin) || qube.is(VmClass::remote)) continue;
        if (qube.is(VmClass::disp)) {
            if (!qube.dispid) {
                context.warning("V39", qube.line(),
                                "DispVM " + context.describe(qube) + " has no dispid; it has no IP address");
                continue;
            }
            if (*qube.dispid < 0 || *qube.dispid > 9999)
                context.warning("V39", qube.line(),
                                "dispid " + std::to_string(*qube.dispid) + " of " + context.describe(qube) +
                                    " is outside 0..9999");
            if (const auto [it, added] = dispids.emplace(*qube.dispid, &qube); !added)
                context.warning("V39", qube.line(),
                                "dispid " + std::to_string(*qube.dispid) + " used by both " +
                                    context.describe(*it->second) + " and " + context.describe(qube));
            derived.emplace(vmid_to_ipv4("10.138", *qube.dispid), &qube);
        } else if (qube.qid) {
            derived.emplace(vmid_to_ipv4("10.137", *qube.qid), &qube);
        }
    }
    std::map<std::string, const Qube*> explicit_ips;
    for (const Qube& qube : context.qubes) {
        if (!in_system(context, qube) || !qube.ip) continue;
        if (const auto it = derived.find(*qube.ip); it != derived.end() && it->second != &qube)
            context.warning("V39", qube.line(),
                            "ip " + *qube.ip + " of " + context.describe(qube) +
                                " is the derived address of " + context.describe(*it->second));
        if (const auto [it, added] = explicit_ips.emplace(*qube.ip, &qube); !added)
            context.warning("V39", qube.line(),
                            "ip " + *qube.ip + " set on both " + context.describe(*it->second) + " and " +
                                context.describe(qube));
    }
}

// A kernel counts as installed when it is default_kernel, a kernel volume's
// recorded version, or a directory in <root>/var/lib/qubes/vm-kernels.
void check_kernels(Context& context) {
    std::set<std::string> known;
    if (const auto value = context.document.value("default_kernel")) known.insert(*value);
    for (const Domain& domain : context.document.domains)
        if (domain.volume_config)
            for (const Volume& volume : *domain.volume_config)
                if (const std::string* pool = volume.pool();
                    pool && context.pools.contains(*pool) && context.pools.at(*pool).driver == "linux-kernel")
                    if (const std::string* vid = volume.attributes.get("vid")) known.insert(*vid);
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(context.options.root / "var/lib/qubes/vm-kernels", ec))
        known.insert(entry.path().filename().string());
    for (const Qube& qube : context.qubes)
        if (in_system(context, qube) && qube.kernel_set && !qube.kernel.empty() &&
            !known.contains(qube.kernel))
            context.warning("V19", qube.domain->property("kernel")->line,
                            "kernel " + in_quotes(qube.kernel) + " of " + context.describe(qube) +
                                " does not look installed; the qube will not start");
}

}  // namespace

void check_runtime(Context& context) {
    check_netvm_cycles(context);
    check_nil_uuid_networked(context);
    check_networked_service_qubes(context);
    check_dispids_and_ips(context);
    check_kernels(context);
}

}  // namespace reliant::healer::detail
