// Small pieces merge and split share.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "healer/model.h"
#include "healer/ownership.h"
#include "healer/python_values.h"
#include "healer/report.h"

namespace reliant::healer {

// The canonical uuid of a domain, or "" when it has none that parses.
inline std::string uuid_key(const Domain& domain) {
    const auto text = domain.value("uuid");
    const auto uuid = text ? python_uuid(*text) : std::nullopt;
    return uuid ? canonical_uuid(*uuid) : std::string();
}

inline std::optional<long long> int_property(const Domain& domain, std::string_view name) {
    const auto value = domain.value(name);
    return value ? python_int(*value) : std::nullopt;
}

// A boolean property as qubesd reads it; absent, None or unparsable is false
// (provides_network, template_for_dispvms).
inline bool bool_property(const Domain& domain, std::string_view name) {
    const auto value = domain.value(name);
    return value && property_bool(*value).value_or(false);
}

// How renumbering changes a qube's derived address, for the report.
inline std::string ip_note(long long from, long long to, const Domain& domain, std::string_view prefix) {
    if (domain.property("ip")) return "its ip is set explicitly and does not change";
    return "IP " + vmid_to_ipv4(prefix, from) + " -> " + vmid_to_ipv4(prefix, to);
}

inline std::optional<long long> lowest_free(const QidRange& range, const std::set<long long>& used) {
    for (long long n = range.first; n <= range.last; ++n)
        if (!used.contains(n)) return n;
    return std::nullopt;
}

// Gives a qube's qid or dispid (`field`) the number `to` instead of `from`,
// keeping domain/@id in step with the qid, and records the change with its
// effect on the derived IP.
inline void renumber(Domain& domain, std::string_view field, long long from, long long to,
                     std::set<long long>& used, std::vector<Change>& changes) {
    const bool is_qid = field == "qid";
    domain.set_property(field, std::to_string(to));
    if (is_qid) domain.id = "domain-" + std::to_string(to);
    used.insert(to);
    changes.push_back({domain.value("name").value_or(""), std::string(field), std::string(field),
                       std::to_string(from), std::to_string(to),
                       ip_note(from, to, domain, is_qid ? "10.137" : "10.138")});
}

// Moves a qube's qid or dispid to the lowest number of `range` not in
// `used`. False when the range is full.
inline bool move_number(Domain& domain, std::string_view field, long long from, const QidRange& range,
                        std::set<long long>& used, std::vector<Change>& changes) {
    const auto fresh = lowest_free(range, used);
    if (!fresh) return false;
    renumber(domain, field, from, *fresh, used, changes);
    return true;
}

// Sets prohibit-start with a rationale, keeping one the user set already.
inline void prohibit_start(Domain& domain, const std::string& rationale) {
    std::string value = "reliant: " + rationale + "; review, then clear this feature";
    if (const Feature* existing = domain.feature("prohibit-start"); existing && !existing->value.empty())
        value = existing->value + "; " + value;
    domain.set_feature("prohibit-start", value);
}

}  // namespace reliant::healer
