#include "healer/merge.h"

#include <algorithm>
#include <limits>
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
        ShardOutcome outcome{input.volume.name(), "frozen", 0, {}, {}, {}};
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
        shard_retargeted_.clear();
        shard_reviewed_.clear();
        check_claims(shard, outcome.reasons);
        if (outcome.reasons.empty()) fix_references(shard, outcome);
        if (outcome.reasons.empty()) outcome.reasons = confinement_violations(shard, merged_, options_.volume_root);
        if (outcome.reasons.empty()) review_data_elsewhere(shard, outcome);
        if (outcome.reasons.empty()) renumber(shard, outcome);
        if (outcome.reasons.empty()) plan_restorations(shard, outcome);
        if (outcome.reasons.empty())
            outcome.reasons = load_cost_problems(shard.content, merged_, options_.load_cost);
        if (!outcome.reasons.empty()) {
            outcome.changes.clear();
            return outcome;
        }
        outcome.qubes = shard.content.domains.size();
        for (const Domain& domain : shard.content.domains) outcome.uuids.push_back(uuid_key(domain));
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
            if (const auto index = python_int(std::string_view(*id).substr(6))) {
                label_indices_.insert(*index);
                max_label_ = std::max(max_label_, *index);
            }
    }

    // The index a label new to the system gets: one above the highest, or,
    // when a label already holds the highest index there is (label-
    // 9223372036854775807 loads in qubesd, whose ints are unbounded), the
    // lowest free one above the eight standard labels. ++ there was a signed
    // overflow (UBSan).
    long long next_label_index() const {
        if (max_label_ < std::numeric_limits<long long>::max()) return max_label_ + 1;
        long long index = 9;
        for (auto it = label_indices_.lower_bound(index); it != label_indices_.end() && *it == index; ++it)
            ++index;  // never past the maximum: the set holds fewer values than that
        return index;
    }

    void index_domain(const Domain& domain) {
        if (const auto name = domain.qube_name()) names_.insert(*name);
        if (const std::string uuid = uuid_key(domain); !uuid.empty() && domain.qube_name()) {
            by_uuid_.emplace(uuid, *domain.qube_name());
            uuid_by_name_.emplace(*domain.qube_name(), uuid);
        }
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

    // What a name a shard recorded stands for now.
    enum class Binding {
        same,        // the recorded uuid still has that name
        renamed,     // the recorded uuid has another name now
        gone,        // the recorded uuid is not there: the name is missing or another qube's
        unverified,  // no uuid recorded (a shard written before uuids were recorded)
    };

    Binding bind(const std::unordered_map<std::string, std::string>& recorded, const std::string& name,
                 std::string& current) const {
        const auto entry = recorded.find(name);
        if (entry == recorded.end()) return Binding::unverified;
        const auto uuid = python_uuid(entry->second);
        const auto found = uuid ? by_uuid_.find(canonical_uuid(*uuid)) : by_uuid_.end();
        if (found == by_uuid_.end()) return Binding::gone;
        current = found->second;
        return current == name ? Binding::same : Binding::renamed;
    }

    // References are by identity: a name binds only to the qube whose uuid
    // the shard recorded. (1) a rename is followed; (2) a reference whose
    // qube is gone, or whose name now belongs to another qube, is broken:
    // heuristics with prohibit-start; (3) otherwise freeze. A name without a
    // recorded uuid (an older shard) binds by name, reported.
    void fix_references(Shard& shard, ShardOutcome& outcome) {
        std::unordered_map<std::string, std::string> recorded;  // name -> uuid
        std::unordered_map<std::string, ShardReference> defaults;  // global -> the qube it named
        for (const ShardReference& reference : shard.references) {
            if (reference.default_of.empty())
                recorded.emplace(reference.name, reference.uuid);
            else
                defaults.emplace(reference.default_of, reference);
        }
        std::unordered_set<std::string> own_names;
        for (const Domain& domain : shard.content.domains)
            if (const auto name = domain.value("name")) own_names.insert(*name);

        std::set<std::string> retargeted;  // template changed: snapshots follow
        for (Domain& domain : shard.content.domains) {
            const std::string qube = domain.value("name").value_or("");
            for (const HardReference& reference : hard_references(domain)) {
                if (own_names.contains(reference.target)) continue;
                std::string current;
                const Binding binding = bind(recorded, reference.target, current);
                if (binding == Binding::same) continue;
                if (binding == Binding::renamed && options_.fixes.follow_renames) {
                    domain.set_property(reference.property, current);
                    outcome.changes.push_back({qube, "renamed-reference", reference.property,
                                               reference.target, current, "followed by uuid"});
                    if (reference.property == "template") retargeted.insert(qube);
                    continue;
                }
                if (binding == Binding::gone && options_.fixes.successors) {
                    if (const auto successor = stated_successor(recorded.at(reference.target), domain, reference)) {
                        domain.set_property(reference.property, *successor);
                        outcome.changes.push_back({qube, "successor", reference.property, reference.target,
                                                   *successor, "stated in maintenance mode"});
                        if (reference.property == "template") retargeted.insert(qube);
                        continue;
                    }
                }
                const bool taken = names_.contains(reference.target);
                if (binding == Binding::unverified && taken) {
                    outcome.changes.push_back({qube, "unverified-reference", reference.property,
                                               reference.target, reference.target,
                                               "no uuid recorded (older shard): bound by name"});
                    continue;
                }
                // Broken: the qube is gone, or the name is now another qube's
                // (a renamed one when renames are not followed).
                const bool replaced = taken && binding != Binding::unverified;
                if (!options_.fixes.heuristics || !apply_heuristic(domain, reference, replaced, outcome)) {
                    outcome.reasons.push_back("'" + qube + "' refers to " + reference.property + " '" +
                                              reference.target + "', which " +
                                              (replaced ? "is now another qube" : "is not there"));
                    return;
                }
                if (reference.property == "template") {
                    retargeted.insert(qube);
                    shard_reviewed_.insert(qube);
                }
            }
            check_inherited(domain, defaults, outcome);
            if (!outcome.reasons.empty()) return;
        }
        review_disposables(shard, retargeted, outcome);
        retarget(shard, retargeted, outcome);
    }

    // Whether the successors stated lead from the qube `from` was to `to`.
    bool leads_to(std::string from, const std::string& to) const {
        for (std::size_t steps = 0; steps < options_.successors.size(); ++steps) {
            const auto next = options_.successors.find(from);
            if (next == options_.successors.end()) return false;
            from = next->second;
            if (from == to) return true;
        }
        return false;
    }

    // The base qube the user stated in the place of the one `recorded_uuid`
    // was (following statements about successors that are gone too), if it
    // can take the reference's role; nullopt sends the reference on to the
    // heuristics.
    std::optional<std::string> stated_successor(const std::string& recorded_uuid, const Domain& domain,
                                                const HardReference& reference) const {
        const auto parsed = python_uuid(recorded_uuid);
        if (!parsed) return std::nullopt;
        std::string at = canonical_uuid(*parsed);
        for (std::size_t steps = 0; steps < options_.successors.size(); ++steps) {
            const auto next = options_.successors.find(at);
            if (next == options_.successors.end()) return std::nullopt;
            at = next->second;
            const auto present = by_uuid_.find(at);
            if (present == by_uuid_.end()) continue;  // gone too: its own successor, if stated
            const std::string& name = present->second;
            const bool fits = reference.property == "template" ? fits_as_template(domain, name)
                                                               : can_take(reference.property, name);
            if (!fits) return std::nullopt;
            return name;
        }
        return std::nullopt;
    }

    // A property left at its default takes the base's global; when the qube
    // the global names is not the one recorded at split, the qube's network
    // or disposables changed without its own file changing: prohibit-start,
    // and a netvm becomes none (never another netvm).
    void check_inherited(Domain& domain, const std::unordered_map<std::string, ShardReference>& defaults,
                         ShardOutcome& outcome) {
        const std::string qube = domain.value("name").value_or("");
        for (const InheritedDefault& inherited : inherited_defaults(domain)) {
            const auto recorded = defaults.find(std::string(inherited.global));
            if (recorded == defaults.end()) continue;  // none recorded: none then, or an older shard
            const auto uuid = python_uuid(recorded->second.uuid);
            const std::string now_name = merged_.value(inherited.global).value_or("");
            const auto now = uuid_by_name_.find(now_name);
            if (uuid && now != uuid_by_name_.end() && now->second == canonical_uuid(*uuid)) continue;
            const std::string& was = recorded->second.name;
            if (uuid && now != uuid_by_name_.end() && options_.fixes.successors &&
                leads_to(canonical_uuid(*uuid), now->second)) {
                outcome.changes.push_back({qube, "successor", std::string(inherited.property), was, now_name,
                                           "its default: stated in maintenance mode"});
                continue;
            }
            if (!options_.fixes.heuristics) {
                outcome.reasons.push_back("'" + qube + "' leaves " + std::string(inherited.property) +
                                          " at its default, and " + std::string(inherited.global) + " '" +
                                          was + "' is now " + (now_name.empty() ? "none" : "another qube"));
                return;
            }
            if (inherited.property == "netvm") {
                domain.set_property("netvm", std::nullopt);
                prohibit_start(domain, "the default netvm is now " + (now_name.empty() ? "none" : now_name) +
                                           ", not the qube it was; now offline");
                outcome.changes.push_back({qube, "changed-default", "netvm", was, "", "prohibit-start set"});
            } else {
                prohibit_start(domain, "the default " + std::string(inherited.property) + " is now " +
                                           (now_name.empty() ? "none" : now_name) + ", not the qube it was");
                outcome.changes.push_back({qube, "changed-default", std::string(inherited.property), was,
                                           now_name.empty() ? "(none)" : now_name, "prohibit-start set"});
            }
        }
    }

    // A qube with a volume in a pool of a lower volume would write
    // appvms/<qube>/ there when it starts (split refuses to write such a
    // shard; an older or hand-made one can hold it): it may not start until
    // the user has placed it on its own volume (docs/shards.md).
    void review_data_elsewhere(Shard& shard, ShardOutcome& outcome) {
        for (Domain& domain : shard.content.domains) {
            if (!domain.volume_config) continue;
            const std::string qube = domain.value("name").value_or("");
            std::vector<std::string> elsewhere;
            for (const Volume& volume : *domain.volume_config) {
                const Pool* pool = volume.pool() ? merged_.pool(*volume.pool()) : nullptr;
                if (!pool || (pool->driver() && *pool->driver() == "linux-kernel")) continue;
                const auto owner = pool_volume(*pool, options_.volume_root);
                if (owner && *owner != shard.volume)
                    elsewhere.push_back((volume.name() ? *volume.name() : std::string()) + " in pool " + *volume.pool() + " of " +
                                        owner->name());
            }
            for (const std::string& where : elsewhere) {
                prohibit_start(domain, "volume " + where + ", not on its own volume; place it there first");
                outcome.changes.push_back(
                    {qube, "review", "volume-config", where, "", "prohibit-start set: data on another volume"});
            }
        }
    }

    // A stand-in for a broken reference, with prohibit-start. `replaced`: the
    // name is now another qube's. A template whose name now belongs to
    // another template of the right kind keeps the name (the user most
    // likely reinstalled it), reviewed like any other stand-in.
    bool apply_heuristic(Domain& domain, const HardReference& reference, bool replaced, ShardOutcome& outcome) {
        const std::string qube = domain.value("name").value_or("");
        const std::string what = reference.property + " " + reference.target + " is " +
                                 (replaced ? "now another qube" : "gone");
        if (reference.property == "template") {
            std::optional<std::string> replacement;
            std::string rule = "the same name";
            if (replaced && fits_as_template(domain, reference.target)) replacement = reference.target;
            // A DispVM's template (a disposable template) has no family to pick from.
            else if (domain.klass == "AppVM" && (replacement = newest_in_family(reference.target, templates_)))
                rule = "the newest of its family";
            else if ((replacement = default_template_for(domain)))
                rule = domain.klass == "AppVM" ? "the default template" : "the default disposable template";
            if (!replacement) return false;
            domain.set_property("template", *replacement);
            prohibit_start(domain, what + "; now based on " + *replacement + " (" + rule + ")");
            outcome.changes.push_back(
                {qube, "heuristic", "template", reference.target, *replacement, "prohibit-start set: " + rule});
            return true;
        }
        if (reference.property == "netvm") {
            // Never another netvm: that could route a qube around its VPN or Tor.
            domain.set_property("netvm", std::nullopt);
            prohibit_start(domain, what + "; now offline");
            outcome.changes.push_back(
                {qube, "heuristic", "netvm", reference.target, "", "prohibit-start set"});
            return true;
        }
        domain.remove_property(reference.property);
        prohibit_start(domain, what + "; now the default");
        outcome.changes.push_back(
            {qube, "heuristic", reference.property, reference.target, "(default)", "prohibit-start set"});
        return true;
    }

    // The base's default for a qube's template when nothing better is known:
    // default_template for an AppVM, default_dispvm for a named DispVM.
    std::optional<std::string> default_template_for(const Domain& domain) const {
        const std::string_view global = domain.klass == "AppVM" ? "default_template" : "default_dispvm";
        const auto name = merged_.value(global);
        if (!name || name->empty() || *name == domain.qube_name().value_or("")) return std::nullopt;
        if (!fits_as_template(domain, *name)) return std::nullopt;
        return name;
    }

    // Whether the qube now called `name` can be `domain`'s template: a
    // TemplateVM for an AppVM, a disposable template for a DispVM.
    bool fits_as_template(const Domain& domain, const std::string& name) const {
        const Domain* candidate = merged_.domain(name);
        if (!candidate) return false;
        if (domain.klass == "AppVM") return candidate->klass == "TemplateVM";
        if (domain.klass == "DispVM") return candidate->klass == "AppVM" && bool_property(*candidate, "template_for_dispvms");
        return false;
    }

    // A named DispVM runs its disposable template's template: when that
    // changed (here or in a lower volume's shard), so did the DispVM's root,
    // and it is reviewed too. Its snapshots follow.
    void review_disposables(Shard& shard, std::set<std::string>& retargeted, ShardOutcome& outcome) {
        for (Domain& domain : shard.content.domains) {
            if (domain.klass != "DispVM") continue;
            const std::string qube = domain.value("name").value_or("");
            const std::string base = domain.value("template").value_or("");
            if (retargeted.contains(base) || retargeted_.contains(base)) retargeted.insert(qube);
            if (shard_reviewed_.contains(qube) ||
                !(shard_reviewed_.contains(base) || reviewed_.contains(base)))
                continue;
            prohibit_start(domain, "its disposable template " + base + " is now based on another template");
            outcome.changes.push_back({qube, "review", "template", base, base, "prohibit-start set"});
            shard_reviewed_.insert(qube);
        }
    }

    // Snapshots follow a new template chain.
    void retarget(Shard& shard, const std::set<std::string>& affected, ShardOutcome& outcome) {
        shard_retargeted_ = affected;
        if (affected.empty()) return;
        const DomainLookup find_domain = [&](std::string_view name) -> const Domain* {
            if (const Domain* own = shard.content.domain(name)) return own;
            return merged_.domain(name);
        };
        const PoolLookup find_pool = [&](std::string_view name) -> const Pool* {
            if (const Pool* own = shard.content.pool(name)) return own;
            return merged_.pool(name);
        };
        // AppVMs first: a DispVM's snapshots come from its AppVM's chain.
        for (const bool disposables : {false, true})
            for (Domain& domain : shard.content.domains)
                if ((domain.klass == "DispVM") == disposables &&
                    affected.contains(domain.value("name").value_or("")) &&
                    retarget_snapshots(domain, find_domain, find_pool))
                    outcome.changes.push_back({domain.value("name").value_or(""), "volumes", "volume-config",
                                               "", "", "snapshot volumes now follow the new template"});
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

    // A restoration (healer/shard.h) applies to the qube with its uuid, which
    // must live on a lower volume of this shard's device: naming any other
    // qube makes the shard hostile (frozen). A qube that is gone is skipped.
    void plan_restorations(const Shard& shard, ShardOutcome& outcome) {
        restorations_.clear();
        for (const Restoration& restoration : shard.restorations) {
            const auto found = by_uuid_.find(restoration.uuid);
            if (found == by_uuid_.end()) {
                outcome.changes.push_back({restoration.qube, "restore-skipped", "", "", "",
                                           "no qube has the uuid it was recorded for"});
                continue;
            }
            const Domain* lower = merged_.domain(found->second);
            const auto home = lower && !lower->is_admin() ? qube_volume(*lower, merged_, options_.volume_root)
                                                          : std::nullopt;
            if (!home || home->device != shard.volume.device || home->index >= shard.volume.index) {
                outcome.reasons.push_back("a restoration names '" + found->second +
                                          "', which is no qube of a lower volume of the same device");
                return;
            }
            restorations_.push_back({found->second, restoration});
        }
    }

    // Puts back what split confined in a lower qube, field by field, where
    // the qube still holds what split left there (else the user changed it
    // in a session without this volume: that change wins) and the qube named
    // can take the role (a netvm provides network, a disposable template is
    // one). Runs once the shard's own qubes are in the merged document.
    void restore(const std::string& qube, const Restoration& restoration, ShardOutcome& outcome) {
        Domain* lower = merged_.domain(qube);
        const auto klass = lower && lower->klass ? vm_class_named(*lower->klass) : std::nullopt;
        if (!klass) return;
        const auto kept_local = [&](const std::string& field) {
            outcome.changes.push_back({qube, "restore-skipped", field, "", "",
                                       "changed in a session without this volume: that value stays"});
        };
        for (const Property& property : restoration.original.properties) {
            const std::string& name = *property.name;
            const Property* safe = restoration.confined.property(name);
            const Property* now = lower->property(name);
            if (safe ? !(now && now->value() == safe->value()) : now != nullptr) {
                kept_local(name);
                continue;
            }
            const PropertySpec* spec = vm_property(*klass, name);
            if (!spec || spec->kind != ValueKind::vm_reference || !can_take(name, *property.value())) {
                outcome.changes.push_back({qube, "restore-skipped", name, "", *property.value(),
                                           "that qube cannot take this role now"});
                continue;
            }
            lower->set_property(name, property.value());
            outcome.changes.push_back({qube, "restored", name, safe ? "(none)" : "(default)", *property.value(), ""});
        }
        for (const Feature& feature : restoration.original.features) {
            const Feature* safe = restoration.confined.feature(*feature.name);
            const Feature* now = lower->feature(*feature.name);
            if (safe ? !(now && now->value == safe->value) : now != nullptr) {
                kept_local(*feature.name);
                continue;
            }
            lower->set_feature(*feature.name, feature.value);
            outcome.changes.push_back({qube, "restored", *feature.name, "", feature.value, ""});
        }
        for (const Tag& tag : restoration.original.tags)
            if (std::none_of(lower->tags.begin(), lower->tags.end(), [&](const Tag& t) { return t.name == tag.name; })) {
                lower->tags.push_back(tag);
                outcome.changes.push_back({qube, "restored", "tag", "", *tag.name, ""});
            }
        for (const DeviceGroup& group : restoration.original.devices)
            for (const Device& device : group.devices) restore_device(*lower, group, device, outcome);
    }

    static void restore_device(Domain& lower, const DeviceGroup& group, const Device& device, ShardOutcome& outcome) {
        const auto port = [](const Device& d) {
            const std::string* backend = d.attributes.get("backend-domain");
            const std::string* id = d.attributes.get("id");
            return std::pair{backend ? *backend : std::string(), id ? *id : std::string("*")};
        };
        auto into = std::find_if(lower.devices.begin(), lower.devices.end(),
                                 [&](const DeviceGroup& g) { return g.device_class == group.device_class; });
        if (into == lower.devices.end()) into = lower.devices.insert(lower.devices.end(), {group.device_class, {}, 0});
        if (std::any_of(into->devices.begin(), into->devices.end(),
                        [&](const Device& d) { return port(d) == port(device); }))
            return;
        into->devices.push_back(device);
        outcome.changes.push_back({lower.qube_name().value_or(""), "restored", "device " + *group.device_class, "",
                                   port(device).first, ""});
    }

    // Whether the qube `target` (of the shard being added) can be `property`.
    bool can_take(const std::string& property, const std::string& target) const {
        const Domain* named = merged_.domain(target);
        if (!named) return false;
        if (property == "netvm") return bool_property(*named, "provides_network");
        if (property == "default_dispvm" || property == "management_dispvm")
            return bool_property(*named, "template_for_dispvms");
        return true;
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
            label.attributes.set("id", "label-" + std::to_string(next_label_index()));
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
        retargeted_.insert(shard_retargeted_.begin(), shard_retargeted_.end());
        reviewed_.insert(shard_reviewed_.begin(), shard_reviewed_.end());
        for (const auto& [qube, restoration] : restorations_) restore(qube, restoration, outcome);
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
    std::set<long long> label_indices_;
    std::unordered_map<std::string, std::string> uuid_by_name_;  // current name -> canonical uuid
    // Qubes of merged shards whose template chain changed (snapshots
    // retargeted) and whose effective template changed (prohibit-start): a
    // DispVM in a higher shard on one of them follows.
    std::set<std::string> retargeted_, reviewed_;
    std::set<std::string> shard_retargeted_, shard_reviewed_;  // the shard being added
    std::vector<std::string> templates_;
    std::vector<std::pair<std::string, Restoration>> restorations_;  // of the shard being added, by lower qube
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
            result.outcomes.push_back({shard.volume.name(), "frozen", 0, reasons->second, {}, {}});
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

// The global pool properties qubesd creates a qube's volumes from; the
// kernel pool is not a qube's data.
constexpr std::string_view data_pool_globals[] = {"default_pool", "default_pool_private", "default_pool_root",
                                                  "default_pool_volatile"};

// The first data pool of the highest merged volume, if any.
std::optional<std::string> pool_for_new_qubes(const Document& merged, const HealReport& report,
                                              const MergeOptions& options) {
    std::optional<VolumeId> highest;
    for (const ShardOutcome& outcome : report.shards)
        if (const auto volume = parse_volume_name(outcome.volume); volume && outcome.status == "merged")
            highest = std::max(highest.value_or(*volume), *volume);
    if (!highest) return std::nullopt;
    for (const Pool& pool : merged.pools)
        if (pool.name() && pool_volume(pool, options.volume_root) == highest &&
            !(pool.driver() && *pool.driver() == "linux-kernel"))
            return *pool.name();
    return std::nullopt;
}

// default_pool (and any data pool global the base sets) -> that pool; each
// change is a base change of kind "new-qubes" whose `from` is the base's own
// value ("(default)": absent), which split puts back.
void direct_new_qubes(Document& merged, HealReport& report, const MergeOptions& options) {
    if (options.new_qubes != NewQubes::highest_volume) return;
    const auto pool = pool_for_new_qubes(merged, report, options);
    if (!pool) return;
    for (const std::string_view global : data_pool_globals) {
        Property* own = merged.property(global);
        if (global != "default_pool" && !own) continue;  // follows default_pool
        const std::optional<std::string> was = own ? own->value() : std::nullopt;
        // In place (the last one, which qubesd loads), so that split's
        // putting back gives the base byte for byte.
        if (own) {
            own->text = *pool;
            own->ref.reset();
        } else {
            merged.properties.push_back(Property{std::string(global), *pool, std::nullopt, 0});
        }
        report.base_changes.push_back({"", "new-qubes", std::string(global), own ? was.value_or("") : "(default)",
                                       *pool,
                                       "qubes created without a pool land on this volume; split gives the base "
                                       "its own value back"});
    }
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
            result.report.shards = std::move(candidate.outcomes);
            direct_new_qubes(candidate.merged, result.report, options);
            for (const Domain& domain : base.domains)
                if (const std::string uuid = uuid_key(domain); !uuid.empty() && !domain.is_admin())
                    result.report.base_qubes.push_back(uuid);
            sort_like_qubesd(candidate.merged);
            result.merged = std::move(candidate.merged);
            return result;
        }
        // Rare: find the shard that breaks the system, freeze it, merge again.
        auto [culprit, reasons] = first_breaking_shard(base, shards, excluded, options);
        excluded[culprit] = std::move(reasons);
    }
}

}  // namespace reliant::healer
