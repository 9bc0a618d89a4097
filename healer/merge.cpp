#include "healer/merge.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "healer/confinement.h"
#include "healer/heal_common.h"
#include "healer/python_values.h"
#include "healer/qubes_schema.h"
#include "healer/references.h"
#include "healer/shard.h"
#include "healer/snapshots.h"
#include "healer/template_family.h"
#include "healer/validator_cost.h"

namespace reliant::healer {
namespace {

// The merged document under construction and what it already holds.
class MergeState {
public:
    MergeState(const Document& base, const MergeOptions& options) : merged_(base), options_(options) {
        for (const Label& label : merged_.labels) index_label(label);
        for (const Pool& pool : merged_.pools)
            if (pool.name()) pools_.insert(*pool.name());
        for (const Domain& domain : merged_.domains) index_domain(domain);
    }

    ShardOutcome add(const ShardInput& input) {
        ShardOutcome outcome{input.volume.name(), "frozen", 0, {}, {}};
        if (!input.bytes) {
            outcome.reasons.push_back("unreadable: " + input.read_error);
            return outcome;
        }
        ShardRead read = read_shard(*input.bytes, input.volume, options_.limits);
        if (!read.shard) {
            outcome.reasons = std::move(read.problems);
            return outcome;
        }
        Shard& shard = *read.shard;
        check_claims(shard, outcome.reasons);
        if (outcome.reasons.empty()) fix_references(shard, outcome);
        if (outcome.reasons.empty()) outcome.reasons = storage_escapes(shard, merged_, options_.volume_root);
        if (outcome.reasons.empty()) renumber(shard, outcome);
        if (outcome.reasons.empty())
            outcome.reasons = load_cost_problems(shard.content, merged_, options_.load_cost);
        if (!outcome.reasons.empty()) {
            outcome.changes.clear();
            return outcome;
        }
        outcome.qubes = shard.content.domains.size();
        outcome.status = "merged";
        commit(shard, outcome);
        return outcome;
    }

    Document take() { return std::move(merged_); }
    const Document& document() const { return merged_; }

private:
    void index_label(const Label& label) {
        if (label.name) labels_.emplace(*label.name, label.color() ? *label.color() : "");
        if (const std::string* id = label.id(); id && id->starts_with("label-"))
            if (const auto index = python_int(std::string_view(*id).substr(6)))
                max_label_ = std::max(max_label_, *index);
    }

    void index_domain(const Domain& domain) {
        if (const auto name = domain.qube_name()) names_.insert(*name);
        if (const std::string uuid = uuid_key(domain); !uuid.empty() && domain.qube_name())
            by_uuid_.emplace(uuid, *domain.qube_name());
        if (const auto qid = domain.value("qid"))
            if (const auto number = python_int(*qid)) qids_.insert(*number);
        if (domain.is_admin()) qids_.insert(0);
        if (const auto dispid = domain.value("dispid"))
            if (const auto number = python_int(*dispid)) dispids_.insert(*number);
        if (domain.klass == "TemplateVM" && domain.qube_name()) templates_.push_back(*domain.qube_name());
    }

    // A shard may hold only pools on its own volume and qubes on them, and
    // may not take a name, uuid or pool the base or a lower volume has.
    void check_claims(const Shard& shard, std::vector<std::string>& reasons) {
        const std::string volume = shard.volume.name();
        std::set<std::string> own_pools;
        for (const Pool& pool : shard.content.pools) {
            const std::string name = pool.name() ? *pool.name() : "";
            if (name.empty())
                reasons.push_back("a pool without a name");
            else if (pool_volume(pool, options_.volume_root) != shard.volume)
                reasons.push_back("pool '" + name + "' does not lie on " + volume);
            else if (pools_.contains(name) || !own_pools.insert(name).second)
                reasons.push_back("pool name '" + name + "' is already taken");
        }
        std::set<std::string> own_names, own_uuids;
        for (const Domain& domain : shard.content.domains) {
            const auto name = domain.value("name");
            const std::string label = name ? "'" + *name + "'" : "a qube without a name";
            if (domain.is_admin() || !domain.klass) {
                reasons.push_back(label + " is not a qube a shard may hold");
                continue;
            }
            if (!name) {
                reasons.push_back(label);
                continue;
            }
            // qubesd loads a name its Admin API would refuse, and builds paths
            // from names (/var/lib/qubes/appvms/<name>): never from a shard.
            if (const std::string problem = qube_name_problem(*name); !problem.empty())
                reasons.push_back(label + " is no valid qube name: " + problem);
            if (qube_volume(domain, shard.content, options_.volume_root) != shard.volume)
                reasons.push_back(label + " does not keep its private volume on " + volume);
            if (names_.contains(*name) || !own_names.insert(*name).second)
                reasons.push_back(label + " has a name the base or a lower volume already uses");
            const std::string uuid = uuid_key(domain);
            if (uuid.empty())
                reasons.push_back(label + " has no valid uuid");
            else if (by_uuid_.contains(uuid) || !own_uuids.insert(uuid).second)
                reasons.push_back(label + " has a uuid the base or a lower volume already uses");
        }
    }

    // (1) follow renames by uuid; (2) heuristics; (3) otherwise freeze.
    void fix_references(Shard& shard, ShardOutcome& outcome) {
        std::unordered_map<std::string, std::string> recorded;  // name -> uuid
        for (const ShardReference& reference : shard.references)
            recorded.emplace(reference.name, reference.uuid);
        std::unordered_set<std::string> own_names;
        for (const Domain& domain : shard.content.domains)
            if (const auto name = domain.value("name")) own_names.insert(*name);

        std::vector<std::string> changed_templates;
        for (Domain& domain : shard.content.domains) {
            const std::string qube = domain.value("name").value_or("");
            for (const HardReference& reference : hard_references(domain)) {
                if (own_names.contains(reference.target)) continue;
                std::optional<std::string> renamed = follow_uuid(recorded, reference.target);
                if (renamed && *renamed == reference.target) continue;  // same qube, same name
                if (renamed && options_.fixes.follow_renames) {
                    domain.set_property(reference.property, *renamed);
                    outcome.changes.push_back({qube, "renamed-reference", reference.property,
                                               reference.target, *renamed, "followed by uuid"});
                    if (reference.property == "template") changed_templates.push_back(qube);
                    continue;
                }
                if (names_.contains(reference.target)) continue;
                if (!options_.fixes.heuristics || !apply_heuristic(domain, reference, outcome)) {
                    outcome.reasons.push_back("'" + qube + "' refers to " + reference.property + " '" +
                                              reference.target + "', which is not there");
                    return;
                }
                if (reference.property == "template") changed_templates.push_back(qube);
            }
        }
        retarget(shard, changed_templates, outcome);
    }

    // The current name of the qube a shard recorded under `name`, when its
    // uuid is still there.
    std::optional<std::string> follow_uuid(const std::unordered_map<std::string, std::string>& recorded,
                                           const std::string& name) const {
        const auto entry = recorded.find(name);
        if (entry == recorded.end()) return std::nullopt;
        const auto uuid = python_uuid(entry->second);
        if (!uuid) return std::nullopt;
        const auto current = by_uuid_.find(canonical_uuid(*uuid));
        if (current == by_uuid_.end()) return std::nullopt;
        return current->second;
    }

    bool apply_heuristic(Domain& domain, const HardReference& reference, ShardOutcome& outcome) {
        const std::string qube = domain.value("name").value_or("");
        if (reference.property == "template") {
            if (domain.klass != "AppVM") return false;  // a DispVM's template has no safe stand-in
            const auto replacement = newest_in_family(reference.target, templates_);
            if (!replacement) return false;
            domain.set_property("template", *replacement);
            prohibit_start(domain, "template " + reference.target + " is gone; now based on " + *replacement);
            outcome.changes.push_back(
                {qube, "heuristic", "template", reference.target, *replacement, "prohibit-start set"});
            return true;
        }
        if (reference.property == "netvm") {
            // Never another netvm: that could route a qube around its VPN or Tor.
            domain.set_property("netvm", std::nullopt);
            prohibit_start(domain, "netvm " + reference.target + " is gone; now offline");
            outcome.changes.push_back(
                {qube, "heuristic", "netvm", reference.target, "", "prohibit-start set"});
            return true;
        }
        domain.remove_property(reference.property);
        prohibit_start(domain, reference.property + " " + reference.target + " is gone; now the default");
        outcome.changes.push_back(
            {qube, "heuristic", reference.property, reference.target, "(default)", "prohibit-start set"});
        return true;
    }

    // Snapshots follow a new template, for the qube and the DispVMs on it.
    void retarget(Shard& shard, const std::vector<std::string>& changed, ShardOutcome& outcome) {
        if (changed.empty()) return;
        const DomainLookup find_domain = [&](std::string_view name) -> const Domain* {
            if (const Domain* own = shard.content.domain(name)) return own;
            return merged_.domain(name);
        };
        const PoolLookup find_pool = [&](std::string_view name) -> const Pool* {
            if (const Pool* own = shard.content.pool(name)) return own;
            return merged_.pool(name);
        };
        std::set<std::string> affected(changed.begin(), changed.end());
        for (const Domain& domain : shard.content.domains)
            if (domain.klass == "DispVM" && affected.contains(domain.value("template").value_or("")))
                affected.insert(domain.value("name").value_or(""));
        for (Domain& domain : shard.content.domains)
            if (affected.contains(domain.value("name").value_or("")) &&
                retarget_snapshots(domain, find_domain, find_pool))
                outcome.changes.push_back({domain.value("name").value_or(""), "volumes", "volume-config", "",
                                           "", "snapshot volumes now follow the new template"});
    }

    // A qid or dispid the base or a lower volume holds moves into the
    // shard's own range; the lowest free number there.
    void renumber(Shard& shard, ShardOutcome& outcome) {
        std::set<long long> used_qids = qids_, used_dispids = dispids_;
        for (Domain& domain : shard.content.domains) {
            for (const std::string_view field : {"qid", "dispid"}) {
                if (field == "dispid" && domain.klass != "DispVM") continue;
                const auto number = int_property(domain, field);
                if (!number) continue;
                std::set<long long>& used = field == "qid" ? used_qids : used_dispids;
                if (!used.contains(*number)) {
                    used.insert(*number);
                } else if (!move_number(domain, field, *number, shard.qid_range, used, outcome.changes)) {
                    outcome.reasons.push_back("no free " + std::string(field) + " left in " +
                                              shard.volume.name() + "'s range");
                    return;
                }
            }
        }
    }

    // Labels unify by name: a new custom label gets the next free index.
    void commit(Shard& shard, ShardOutcome& outcome) {
        for (Label& label : shard.content.labels) {
            if (!label.name) continue;
            if (const auto known = labels_.find(*label.name); known != labels_.end()) {
                if (label.color() && *label.color() != known->second)
                    outcome.changes.push_back({"", "label", *label.name, *label.color(), known->second,
                                               "the colour already defined wins"});
                continue;
            }
            label.attributes.set("id", "label-" + std::to_string(++max_label_));
            index_label(label);
            merged_.labels.push_back(std::move(label));
        }
        for (Pool& pool : shard.content.pools) {
            pools_.insert(*pool.name());
            merged_.pools.push_back(std::move(pool));
        }
        for (Domain& domain : shard.content.domains) {
            index_domain(domain);
            merged_.domains.push_back(std::move(domain));
        }
    }

    Document merged_;
    const MergeOptions& options_;
    std::unordered_set<std::string> names_;
    std::unordered_map<std::string, std::string> by_uuid_;  // canonical uuid -> current name
    std::set<long long> qids_;
    std::set<long long> dispids_;
    std::set<std::string> pools_;
    std::map<std::string, std::string> labels_;  // name -> colour
    long long max_label_ = 8;
    std::vector<std::string> templates_;
};

// qubesd's order: dom0 first, then by name; labels by index.
void sort_like_qubesd(Document& document) {
    std::stable_sort(document.domains.begin(), document.domains.end(), [](const Domain& a, const Domain& b) {
        if (a.is_admin() != b.is_admin()) return a.is_admin();
        return a.value("name").value_or("") < b.value("name").value_or("");
    });
    const auto index = [](const Label& label) {
        const std::string* id = label.id();
        return id && id->starts_with("label-") ? python_int(std::string_view(*id).substr(6)).value_or(0) : 0;
    };
    std::stable_sort(document.labels.begin(), document.labels.end(),
                     [&](const Label& a, const Label& b) { return index(a) < index(b); });
}

std::vector<std::string> error_texts(const Diagnostics& diagnostics) {
    std::vector<std::string> texts;
    for (const Diagnostic& d : diagnostics.items())
        if (d.severity == Severity::error) texts.push_back(d.rule + ": " + d.message);
    return texts;
}

bool loads(const Document& document, const ValidationOptions& options, Diagnostics* out = nullptr) {
    Diagnostics diagnostics("merged");
    validate(document, diagnostics, options);
    if (out) *out = std::move(diagnostics);
    return out ? !out->has_errors() : !diagnostics.has_errors();
}

struct Attempt {
    Document merged;
    std::vector<ShardOutcome> outcomes;
};

Attempt attempt(const Document& base, const std::vector<ShardInput>& shards,
                const std::map<VolumeId, std::vector<std::string>>& excluded, const MergeOptions& options) {
    MergeState state(base, options);
    Attempt result;
    for (const ShardInput& shard : shards) {
        if (const auto reasons = excluded.find(shard.volume); reasons != excluded.end()) {
            result.outcomes.push_back({shard.volume.name(), "frozen", 0, reasons->second, {}});
            continue;
        }
        result.outcomes.push_back(state.add(shard));
    }
    result.merged = state.take();
    return result;
}

// The first merged shard with which the system stops loading, and why.
std::pair<VolumeId, std::vector<std::string>> first_breaking_shard(
    const Document& base, const std::vector<ShardInput>& shards,
    const std::map<VolumeId, std::vector<std::string>>& excluded, const MergeOptions& options) {
    std::map<VolumeId, std::vector<std::string>> trial = excluded;
    for (const ShardInput& shard : shards) trial.emplace(shard.volume, std::vector<std::string>{});
    for (const ShardInput& shard : shards) {
        if (excluded.contains(shard.volume)) continue;
        trial.erase(shard.volume);
        const Attempt partial = attempt(base, shards, trial, options);
        Diagnostics diagnostics("merged");
        if (!loads(partial.merged, options.validation, &diagnostics))
            return {shard.volume, error_texts(diagnostics)};
    }
    // Not reached in practice (adding the shards one by one ends at the full
    // attempt); freeze the last merged shard so the loop always progresses.
    for (auto it = shards.rbegin(); it != shards.rend(); ++it)
        if (!excluded.contains(it->volume)) return {it->volume, {"the merged system does not load"}};
    return {shards.back().volume, {"the merged system does not load"}};
}

}  // namespace

MergeResult merge(const Document& base, std::vector<ShardInput> shards, const MergeOptions& options) {
    MergeResult result;
    result.report.operation = "merge";
    Diagnostics base_check("base");
    if (!loads(base, options.validation, &base_check)) {
        result.report.base_problems = error_texts(base_check);
        return result;
    }
    std::sort(shards.begin(), shards.end(),
              [](const ShardInput& a, const ShardInput& b) { return a.volume < b.volume; });

    std::map<VolumeId, std::vector<std::string>> excluded;
    for (;;) {
        Attempt candidate = attempt(base, shards, excluded, options);
        const bool any_merged = std::any_of(candidate.outcomes.begin(), candidate.outcomes.end(),
                                            [](const ShardOutcome& o) { return o.status == "merged"; });
        if (!any_merged || loads(candidate.merged, options.validation)) {
            sort_like_qubesd(candidate.merged);
            result.merged = std::move(candidate.merged);
            result.report.shards = std::move(candidate.outcomes);
            return result;
        }
        // Rare: find the shard that breaks the system, freeze it, merge again.
        auto [culprit, reasons] = first_breaking_shard(base, shards, excluded, options);
        excluded[culprit] = std::move(reasons);
    }
}

}  // namespace reliant::healer
