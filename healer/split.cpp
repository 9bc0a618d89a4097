#include "healer/split.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "healer/heal_common.h"
#include "healer/merge.h"
#include "healer/qubes_schema.h"
#include "healer/references.h"
#include "healer/snapshots.h"

namespace reliant::healer {
namespace {

// Where each qube and pool of the input lives.
struct Placement {
    std::map<std::string, std::optional<VolumeId>> pool_volume;  // pool name -> volume (nullopt: base)
    std::unordered_map<std::string, std::optional<VolumeId>> qube_volume;  // qube name -> volume
    std::set<VolumeId> volumes_with_pools;

    std::optional<VolumeId> of_qube(const std::string& name) const {
        const auto it = qube_volume.find(name);
        return it == qube_volume.end() ? std::nullopt : it->second;
    }
};

// The pools qubesd loads: of several with one name the last wins, at the
// place of the first (a Python dict), and its next save writes only that one.
std::vector<Pool> loaded_pools(const Document& input) {
    std::vector<Pool> pools;
    std::map<std::string, std::size_t> at;
    for (const Pool& pool : input.pools) {
        if (!pool.name()) {
            pools.push_back(pool);
        } else if (const auto [entry, fresh] = at.emplace(*pool.name(), pools.size()); fresh) {
            pools.push_back(pool);
        } else {
            pools[entry->second] = pool;
        }
    }
    return pools;
}

Placement place(const Document& input, const std::filesystem::path& volume_root) {
    Placement placement;
    for (const Pool& pool : input.pools) {
        if (!pool.name()) continue;
        const auto volume = pool_volume(pool, volume_root);
        placement.pool_volume[*pool.name()] = volume;
        if (volume) placement.volumes_with_pools.insert(*volume);
    }
    for (const Domain& domain : input.domains)
        if (const auto name = domain.qube_name())
            placement.qube_volume[*name] =
                domain.is_admin() ? std::nullopt : qube_volume(domain, input, volume_root);
    return placement;
}

// A qube in `from` may refer to `to` when `to` is open whenever `from` is:
// the base, or a lower volume of the same device (Shufflecake opens a
// volume together with every lower one).
bool may_refer(const std::optional<VolumeId>& from, const std::optional<VolumeId>& to) {
    if (!to) return true;
    if (!from) return false;
    return to->device == from->device && to->index <= from->index;
}

class Splitter {
public:
    Splitter(const Document& input, const std::vector<ExistingShard>& existing,
             const std::optional<BootMerge>& boot, const SplitOptions& options)
        : input_(input),
          existing_(existing),
          boot_(boot),
          options_(options),
          placement_(place(input, options.volume_root)),
          pools_(loaded_pools(input)) {
        for (const Domain& domain : input_.domains) {
            if (const auto qid = int_property(domain, "qid")) used_qids_.insert(*qid);
            if (const auto dispid = int_property(domain, "dispid")) used_dispids_.insert(*dispid);
        }
    }

    SplitResult run() {
        SplitResult result;
        result.report.operation = "split";
        for (const VolumeId& volume : volumes_to_consider()) {
            // "to-write" until the file is on disk: the command that writes it
            // turns it into "written" or "error" (a report never claims a
            // write that did not happen).
            ShardOutcome outcome{volume.name(), "to-write", 0, {}, {}, {}};
            if (auto shard = build_shard(volume, outcome)) {
                outcome.qubes = shard->content.domains.size();
                result.shards.push_back(std::move(*shard));
            } else if (outcome.status == "error") {
                result.complete = false;
            }
            result.report.shards.push_back(std::move(outcome));
        }
        for (Shard& shard : result.shards)
            if (const auto found = restorations_.find(shard.volume); found != restorations_.end())
                for (auto& [uuid, restoration] : found->second) shard.restorations.push_back(std::move(restoration));
        result.base = build_base(result.report);
        if (!result.base) result.complete = false;
        return result;
    }

private:
    // Volumes with pools now, and volumes merged at boot that have none left
    // (their pools were removed this session: they get an empty shard).
    std::set<VolumeId> volumes_to_consider() const {
        std::set<VolumeId> volumes = placement_.volumes_with_pools;
        if (boot_)
            for (const VolumeId& volume : boot_->merged) volumes.insert(volume);
        return volumes;
    }

    const ExistingShard* existing_for(const VolumeId& volume) const {
        for (const ExistingShard& shard : existing_)
            if (shard.volume == volume) return &shard;
        return nullptr;
    }

    // Never overwrite a shard this session did not load: frozen at boot,
    // unreadable now, or holding pools the session never had.
    bool may_overwrite(const VolumeId& volume, const ExistingShard* current, ShardOutcome& outcome) const {
        if (boot_ && boot_->frozen.contains(volume)) {
            outcome.status = "kept";
            outcome.reasons.push_back("frozen at boot: its file is left as it is");
            return false;
        }
        if (!current || !current->present) return true;
        if (!current->shard) {
            outcome.status = "error";
            outcome.reasons.push_back("the shard on the volume cannot be read, so it is not replaced");
            for (const auto& problem : current->problems) outcome.reasons.push_back(problem);
            return false;
        }
        for (const Pool& pool : current->shard->content.pools) {
            const auto here =
                pool.name() ? placement_.pool_volume.find(*pool.name()) : placement_.pool_volume.end();
            if (here == placement_.pool_volume.end() || here->second != volume) {
                if (boot_ && boot_->merged.contains(volume)) continue;  // removed this session
                outcome.status = "error";
                outcome.reasons.push_back(
                    "the shard on the volume has pools this session did not load (it was not "
                    "merged at boot), so it is not replaced");
                return false;
            }
        }
        return true;
    }

    std::optional<Shard> build_shard(const VolumeId& volume, ShardOutcome& outcome) {
        const ExistingShard* current = existing_for(volume);
        if (!may_overwrite(volume, current, outcome)) return std::nullopt;
        Shard shard{volume, shard_qid_range(volume), {}, {}, {}};
        for (const Pool& pool : pools_)
            if (pool.name() && placement_.pool_volume.at(*pool.name()) == volume)
                shard.content.pools.push_back(pool);
        for (const Domain& domain : input_.domains)
            if (const auto name = domain.qube_name(); name && placement_.of_qube(*name) == volume)
                shard.content.domains.push_back(domain);
        shard.content.labels = labels_used_by(shard.content.domains, false);
        if (refuse_data_elsewhere(shard, outcome)) return std::nullopt;
        confine_references(shard, outcome);
        move_new_qubes_into_range(shard, current, outcome);
        return shard;
    }

    // A qube keeps its data on its own volume: a volume of it in a pool of
    // another volume makes qubesd create appvms/<qube>/ there (the file and
    // file-reflink drivers put an AppVM's root snapshot in its template's
    // pool), readable with that volume's passphrase, under duress too.
    // There is no moving it: the file driver finds a snapshot's source in
    // its own pool. So the shard is not written (the volume keeps its old
    // one) and the report says how to place the qube (docs/shards.md,
    // "Placing a qube"). Read-only kernel pools hold no file of a qube.
    bool refuse_data_elsewhere(const Shard& shard, ShardOutcome& outcome) const {
        for (const Domain& domain : shard.content.domains) {
            if (!domain.volume_config) continue;
            const std::string qube = domain.value("name").value_or("");
            for (const Volume& volume : *domain.volume_config) {
                const std::string* pool_name = volume.pool();
                if (!pool_name) continue;
                const auto there = placement_.pool_volume.find(*pool_name);
                if (there == placement_.pool_volume.end() || !there->second || *there->second == shard.volume)
                    continue;
                const Pool* pool = input_.pool(*pool_name);
                if (pool && pool->driver() && *pool->driver() == "linux-kernel") continue;
                outcome.reasons.push_back(
                    "'" + qube + "' keeps its volume '" + (volume.name() ? *volume.name() : std::string()) + "' in pool '" +
                    *pool_name + "' on " + there->second->name() + ", not on " + shard.volume.name() +
                    ": qubesd writes appvms/" + qube + "/ there, readable with that volume's passphrase. "
                    "Base the qube on a template in a pool of " + shard.volume.name() +
                    " (qvm-clone -P POOL TEMPLATE NEW, then qvm-prefs " + qube + " template NEW), or make it a "
                    "StandaloneVM there; then remove the directory it left on " + there->second->name());
            }
        }
        if (outcome.reasons.empty()) return false;
        outcome.status = "error";
        outcome.reasons.push_back("the shard is not written: its old file stays");
        return true;
    }

    // Labels by name as the qubes use them; the base also keeps the eight
    // standard ones.
    std::vector<Label> labels_used_by(const std::vector<Domain>& domains, bool keep_standard) const {
        std::set<std::string> used;
        for (const Domain& domain : domains)
            if (const auto label = domain.value("label")) used.insert(*label);
        std::vector<Label> labels;
        for (const Label& label : input_.labels) {
            const std::string* id = label.id();
            const auto index =
                id && id->starts_with("label-") ? python_int(std::string_view(*id).substr(6)) : std::nullopt;
            const bool standard = index && *index >= 1 && *index <= 8;
            const bool by_name = label.name && used.contains(*label.name);
            const bool by_id = id && used.contains(*id);
            if ((keep_standard && standard) || by_name || by_id) labels.push_back(label);
        }
        return labels;
    }

    // A shard may refer to the base and to lower volumes; the names and
    // uuids it refers to are recorded so that merge can follow renames.
    void confine_references(Shard& shard, ShardOutcome& outcome) {
        std::map<std::string, std::string> recorded;
        std::map<std::string, std::pair<std::string, std::string>> defaults;  // global -> name, uuid
        for (Domain& domain : shard.content.domains) {
            confine_domain(domain, shard.volume, shard.content.domains, outcome.changes, outcome.reasons);
            for (const HardReference& reference : hard_references(domain)) {
                const auto target_volume = placement_.of_qube(reference.target);
                if (target_volume != shard.volume && may_refer(shard.volume, target_volume))
                    if (const Domain* target = input_.domain(reference.target))
                        recorded.emplace(reference.target, uuid_key(*target));
            }
            // A property left at its default follows a global of the base:
            // the qube it names is recorded too, so that merge sees it change.
            for (const InheritedDefault& inherited : inherited_defaults(domain)) {
                const auto target = input_.value(inherited.global);
                if (!target || target->empty() || placement_.of_qube(*target)) continue;
                if (const Domain* named = input_.domain(*target))
                    defaults.emplace(std::string(inherited.global), std::pair{*target, uuid_key(*named)});
            }
        }
        for (const auto& [name, uuid] : recorded)
            if (!uuid.empty()) shard.references.push_back({name, uuid, ""});
        for (const auto& [global, target] : defaults)
            if (!target.second.empty()) shard.references.push_back({target.first, target.second, global});
    }

    // Everything `domain` (living at `home`: nullopt is the base) says of a
    // qube that is not always open with it goes: hard references get a safe
    // value, mentions (tags, name-bearing features, device assignments) are
    // removed. What a lower volume's qube loses this way is kept in the
    // shard of the qube it named, when that volume is always opened with
    // the lower one (same device, higher index), so that merge can put it
    // back when both are open (docs/shards.md, "References up").
    void confine_domain(Domain& domain, const std::optional<VolumeId>& home, std::vector<Domain>& siblings,
                        std::vector<Change>& changes, std::vector<std::string>& problems) {
        for (const HardReference& reference : hard_references(domain)) {
            const auto volume = placement_.of_qube(reference.target);
            if (may_refer(home, volume)) continue;
            Restoration* restoration = is_restorable_property(reference.property)
                                           ? restoration_for(home, volume, domain)
                                           : nullptr;
            replace_reference(domain, reference, home, siblings, changes, problems);
            if (!restoration) continue;
            restoration->original.set_property(reference.property, reference.target);
            if (domain.property(reference.property))
                restoration->confined.set_property(reference.property, domain.value(reference.property));
        }
        confine_mentions(domain, home, changes);
    }

    void confine_mentions(Domain& domain, const std::optional<VolumeId>& home, std::vector<Change>& changes) {
        const std::string qube = domain.qube_name().value_or("");
        std::map<std::string, std::string> features_before;
        for (const Feature& feature : domain.features)
            if (feature.name && is_name_feature(*feature.name)) features_before[*feature.name] = feature.value;
        std::map<std::string, std::set<std::optional<VolumeId>>> feature_volumes;  // whose names a feature lost
        const std::vector<SoftReference> mentions = soft_references(domain);
        for (const SoftReference& mention : mentions) {
            const auto volume = placement_.of_qube(mention.target);
            if (may_refer(home, volume)) continue;
            if (Restoration* restoration = restoration_for(home, volume, domain)) {
                if (mention.kind == SoftKind::tag) restoration->original.tags.push_back(Tag{mention.key, 0});
                if (mention.kind == SoftKind::device_backend) keep_devices(domain, mention, restoration->original);
            }
            if (mention.kind == SoftKind::feature) feature_volumes[mention.key].insert(volume);
            changes.push_back({qube, "removed-mention", mention.key, mention.target, "",
                               home ? "the qube it names is not always open with this qube"
                                    : "the base may not name a qube of a volume"});
        }
        for (const SoftReference& mention : mentions)
            if (!may_refer(home, placement_.of_qube(mention.target))) remove_soft_references(domain, mention.target);
        // A feature comes back whole only when the names it lost all live on
        // one volume: its shard may hold the whole value (the names kept are
        // visible from there too); no other shard may.
        for (const auto& [feature, volumes] : feature_volumes) {
            Restoration* restoration =
                volumes.size() == 1 ? restoration_for(home, *volumes.begin(), domain) : nullptr;
            const Feature* after = domain.feature(feature);
            if (!restoration || !after) continue;
            restoration->original.set_feature(feature, features_before.at(feature));
            restoration->confined.set_feature(feature, after->value);
        }
    }

    // The device assignments of `mention`'s class and backend, copied.
    static void keep_devices(const Domain& domain, const SoftReference& mention, Domain& into) {
        for (const DeviceGroup& group : domain.devices) {
            if (group.device_class.value_or("") != mention.key) continue;
            for (const Device& device : group.devices) {
                const std::string* backend = device.attributes.get("backend-domain");
                if (!backend || *backend != mention.target) continue;
                auto kept = std::find_if(into.devices.begin(), into.devices.end(),
                                         [&](const DeviceGroup& g) { return g.device_class == group.device_class; });
                if (kept == into.devices.end()) kept = into.devices.insert(into.devices.end(), {group.device_class, {}, 0});
                kept->devices.push_back(device);
            }
        }
    }

    // The restoration `volume`'s shard keeps for `domain`, or null when that
    // shard may not name it: only a higher volume of the same device does.
    Restoration* restoration_for(const std::optional<VolumeId>& home, const std::optional<VolumeId>& volume,
                                 const Domain& domain) {
        const std::string uuid = uuid_key(domain);
        if (!home || !volume || volume->device != home->device || volume->index <= home->index || uuid.empty())
            return nullptr;
        auto [entry, fresh] = restorations_[*volume].try_emplace(uuid);
        if (fresh) {
            entry->second.qube = domain.qube_name().value_or("");
            entry->second.uuid = uuid;
        }
        return &entry->second;
    }

    // A reference that would dangle when the target's volume is closed: a
    // netvm or default_dispvm becomes none (never another qube: that could
    // route a qube around its VPN, or open its files in another disposable),
    // a template the system's default template, anything else its default.
    void replace_reference(Domain& domain, const HardReference& reference, const std::optional<VolumeId>& home,
                           std::vector<Domain>& siblings, std::vector<Change>& changes,
                           std::vector<std::string>& problems) {
        const std::string qube = domain.value("name").value_or("dom0");
        const std::string reason =
            home ? "the target was not always open with this qube" : "the base may not name a qube of a volume";
        if (reference.property == "netvm" || reference.property == "default_dispvm") {
            domain.set_property(reference.property, std::nullopt);
            changes.push_back({qube, "confined-reference", reference.property, reference.target, "(none)", reason});
            return;
        }
        if (reference.property == "template") {
            const auto replacement = visible_template(domain, home);
            if (!replacement) {
                problems.push_back("'" + qube + "' is based on '" + reference.target +
                                   "', which is not always open, and there is no template to use instead");
                return;
            }
            domain.set_property("template", *replacement);
            follow_new_template(domain, siblings);
            changes.push_back({qube, "confined-reference", "template", reference.target, *replacement, reason});
            return;
        }
        domain.remove_property(reference.property);
        changes.push_back({qube, "confined-reference", reference.property, reference.target, "(default)", reason});
    }

    // The system's default template, or the first template always visible
    // from `home`; a DispVM needs a disposable template instead.
    std::optional<std::string> visible_template(const Domain& domain,
                                                const std::optional<VolumeId>& home) const {
        const bool disposable = domain.klass == "DispVM";
        const auto visible = [&](const Domain& candidate) {
            const auto name = candidate.value("name");
            if (!name || !may_refer(home, placement_.of_qube(*name))) return false;
            if (disposable) return bool_property(candidate, "template_for_dispvms");
            return candidate.klass == "TemplateVM";
        };
        const auto preferred = input_.value(disposable ? "default_dispvm" : "default_template");
        if (preferred)
            if (const Domain* candidate = input_.domain(*preferred); candidate && visible(*candidate))
                return preferred;
        for (const Domain& candidate : input_.domains)
            if (visible(candidate)) return candidate.value("name");
        return std::nullopt;
    }

    void follow_new_template(Domain& domain, std::vector<Domain>& siblings) const {
        const DomainLookup find_domain = [&](std::string_view name) -> const Domain* {
            for (const Domain& sibling : siblings)
                if (sibling.value("name") == name) return &sibling;
            return input_.domain(name);
        };
        const PoolLookup find_pool = [&](std::string_view name) { return input_.pool(name); };
        retarget_snapshots(domain, find_domain, find_pool);
    }

    // Qubes created this session took the lowest free qid, in the base's
    // range: they move into the volume's range, where no other volume and
    // no duress session can take them. qubesd keeps using the session's
    // number until it restarts, so a later split of the same session finds
    // the qube in the shard already, under its number in the range: that
    // number stays.
    void move_new_qubes_into_range(Shard& shard, const ExistingShard* current, ShardOutcome& outcome) {
        std::map<std::string, const Domain*> known;
        if (current && current->shard)
            for (const Domain& domain : current->shard->content.domains) known.emplace(uuid_key(domain), &domain);
        // Without a shard file, its qubes are new only if reliant merged at
        // boot; on a first split (migration) they keep their numbers.
        const bool all_known = !(current && current->shard) && !boot_;
        if (all_known) return;
        // Known qubes first, so that no new qube takes a number they hold.
        for (const bool new_qubes : {false, true}) {
            for (Domain& domain : shard.content.domains) {
                const auto earlier = known.find(uuid_key(domain));
                if (new_qubes != (earlier == known.end())) continue;
                for (const std::string_view field : {"qid", "dispid"})
                    if (field == "qid" || domain.klass == "DispVM")
                        place_number(domain, field, new_qubes ? nullptr : earlier->second, shard, outcome);
            }
        }
    }

    // A number outside the volume's range moves into it: a new qube's to the
    // lowest free one, a known qube's back to the one its shard holds.
    void place_number(Domain& domain, std::string_view field, const Domain* earlier, const Shard& shard,
                      ShardOutcome& outcome) {
        const auto number = int_property(domain, field);
        if (!number || shard.qid_range.contains(*number)) return;
        auto& used = field == "qid" ? used_qids_ : used_dispids_;
        if (!earlier) {
            move_number(domain, field, *number, shard.qid_range, used, outcome.changes);
        } else if (const auto stored = int_property(*earlier, field);
                   stored && shard.qid_range.contains(*stored) && !used.contains(*stored)) {
            renumber(domain, field, *number, *stored, used, outcome.changes);
        }
    }

    std::optional<Document> build_base(HealReport& report) {
        Document base;
        base.properties = input_.properties;
        for (const Pool& pool : pools_)
            if (!pool.name() || !placement_.pool_volume.at(*pool.name())) base.pools.push_back(pool);
        for (const Domain& domain : input_.domains)
            if (domain.is_admin() || !domain.qube_name() || !placement_.of_qube(*domain.qube_name()))
                base.domains.push_back(domain);
        confine_globals(base, report);
        report_new_base_qubes(base, report);
        for (Domain& domain : base.domains)
            confine_domain(domain, std::nullopt, base.domains, report.base_changes, report.base_problems);
        base.labels = labels_used_by(base.domains, true);

        Diagnostics diagnostics("base");
        validate(base, diagnostics, options_.validation);
        if (diagnostics.has_errors()) {
            for (const Diagnostic& d : diagnostics.items())
                if (d.severity == Severity::error) report.base_problems.push_back(d.rule + ": " + d.message);
            return std::nullopt;
        }
        return base;
    }

    void confine_globals(Document& base, HealReport& report) const {
        for (const HardReference& reference : global_references(base)) {
            if (!placement_.of_qube(reference.target)) continue;
            std::erase_if(base.properties, [&](const Property& p) { return p.name == reference.property; });
            report.base_changes.push_back({"", "confined-reference", reference.property, reference.target,
                                           "(default)", "a global property may not name a qube of a volume"});
        }
        confine_default_pools(base, report);
    }

    // A default pool on a volume (merge points new qubes there, or the user
    // did): the base gets its own value back, recorded by merge, or the
    // default. The base must load alone, where no volume's pool exists.
    void confine_default_pools(Document& base, HealReport& report) const {
        std::vector<std::string> on_volumes;
        for (const Property& property : base.properties) {
            const PropertySpec* spec = property.name ? global_property(*property.name) : nullptr;
            const auto pool = property.value();
            if (!spec || spec->kind != ValueKind::pool || !pool) continue;
            const auto there = placement_.pool_volume.find(*pool);
            if (there != placement_.pool_volume.end() && there->second) on_volumes.push_back(*property.name);
        }
        for (const std::string& global : on_volumes) {
            const std::string was = base.value(global).value_or("");
            std::optional<std::string> own_value;  // nullopt: the default
            if (boot_)
                if (const auto recorded = boot_->base_pools.find(global); recorded != boot_->base_pools.end())
                    own_value = recorded->second;
            if (own_value) {
                Property* own = base.property(global);
                own->text = *own_value;
                own->ref.reset();
            } else {
                std::erase_if(base.properties, [&](const Property& p) { return p.name == global; });
            }
            report.base_changes.push_back({"", "confined-pool", global, was, own_value.value_or("(default)"),
                                           "the base's own value: a pool of a volume does not exist without it"});
        }
    }

    // A qube created this session in a pool of the base lives in RAM: the
    // end of the session loses it and its data. Never silent.
    void report_new_base_qubes(const Document& base, HealReport& report) const {
        if (!boot_ || !boot_->base_qubes) return;
        for (const Domain& domain : base.domains) {
            const std::string uuid = uuid_key(domain);
            if (domain.is_admin() || uuid.empty() || boot_->base_qubes->contains(uuid)) continue;
            report.base_changes.push_back(
                {domain.qube_name().value_or(""), "lost-at-shutdown", "", "", "",
                 "created this session in a pool of the base, which is RAM: it and its data end with the "
                 "session. Clone it onto a volume's pool (qvm-clone -P POOL) before shutting down"});
        }
    }


    const Document& input_;
    const std::vector<ExistingShard>& existing_;
    const std::optional<BootMerge>& boot_;
    const SplitOptions& options_;
    Placement placement_;
    std::vector<Pool> pools_;  // as qubesd loads them
    std::set<long long> used_qids_;
    std::set<long long> used_dispids_;
    // What each volume's shard keeps for lower qubes, by their uuid.
    std::map<VolumeId, std::map<std::string, Restoration>> restorations_;
};

// The next boot merges the base written here with the shards then on disk:
// those written here and those kept. A shard that merge would freeze is not
// written: a qube taking another's uuid or disk, a name the Admin API
// refuses, a lower volume it needs that was not written... qubesd loads such
// a session (a hand-edited file), the next boot could not. The volume keeps
// its old shard, if it has one, and the report says why. Leaving one out can
// freeze another, so this repeats until nothing changes.
void leave_out_what_merge_would_freeze(SplitResult& result, const std::vector<ExistingShard>& existing,
                                       const SplitOptions& options) {
    if (!result.base) return;  // the next boot merges the old base, unknown here
    MergeOptions merge_options;
    merge_options.validation = options.validation;
    merge_options.volume_root = options.volume_root;
    for (bool changed = true; changed;) {
        changed = false;
        std::vector<ShardInput> on_disk;
        std::set<VolumeId> written;
        for (const Shard& shard : result.shards) {
            on_disk.push_back({shard.volume, serialize_shard(shard), {}});
            written.insert(shard.volume);
        }
        for (const ExistingShard& old : existing)
            if (old.shard && !written.contains(old.volume))
                on_disk.push_back({old.volume, serialize_shard(*old.shard), {}});
        const MergeResult next = merge(*result.base, std::move(on_disk), merge_options);
        if (!next.merged) return;  // the base does not load: split's own check reports it
        for (const ShardOutcome& frozen : next.report.shards) {
            const auto volume = parse_volume_name(frozen.volume);
            if (frozen.status != "frozen" || !volume || !written.contains(*volume)) continue;
            std::erase_if(result.shards, [&](const Shard& shard) { return shard.volume == *volume; });
            for (ShardOutcome& outcome : result.report.shards)
                if (outcome.volume == frozen.volume) {
                    outcome.status = "error";
                    outcome.qubes = 0;
                    outcome.changes.clear();
                    outcome.reasons = frozen.reasons;
                    outcome.reasons.push_back("the shard is not written: the next boot would freeze it");
                }
            result.complete = false;
            changed = true;
        }
    }
}

}  // namespace

SplitResult split(const Document& input, const std::vector<ExistingShard>& existing,
                  const std::optional<BootMerge>& boot, const SplitOptions& options) {
    Diagnostics diagnostics("input");
    validate(input, diagnostics, options.validation);
    if (diagnostics.has_errors()) {
        SplitResult refused;
        refused.report.operation = "split";
        refused.complete = false;
        for (const Diagnostic& d : diagnostics.items())
            if (d.severity == Severity::error)
                refused.report.base_problems.push_back(d.rule + ": " + d.message);
        return refused;
    }
    SplitResult result = Splitter(input, existing, boot, options).run();
    leave_out_what_merge_would_freeze(result, existing, options);
    return result;
}

}  // namespace reliant::healer
