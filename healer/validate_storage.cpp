// Loader stage 5, storage: qubesd builds every qube's volumes at domain-load,
// in sorted order (dom0, then by name), initializing a template's storage
// first when a volume takes its source from it. The emulation follows that
// order because file and file-reflink pools find a named source only among
// volumes already initialized. Rules V31..V38 and M4.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "healer/validator_internal.h"

namespace reliant::healer::detail {
namespace {

// A value in a volume config: qubesd turns exactly "True"/"False" into bools
// and keeps every other string; class defaults add numbers and None.
struct Value {
    enum class Kind { none, boolean, text, number } kind = Kind::none;
    bool flag = false;
    std::string_view text;  // into the document, which outlives the validation
    long long number = 0;

    static Value from_xml(std::string_view s) {
        if (s == "True" || s == "False") return {Kind::boolean, s == "True", {}, 0};
        return {Kind::text, false, s, 0};
    }
    static Value boolean(bool b) { return {Kind::boolean, b, {}, 0}; }
    static Value integer(long long n) { return {Kind::number, false, {}, n}; }
    bool truthy() const {
        switch (kind) {
            case Kind::none:
                return false;
            case Kind::boolean:
                return flag;
            case Kind::text:
                return !text.empty();
            case Kind::number:
                return number != 0;
        }
        return false;
    }
    // Python int(value); nullopt when it raises.
    std::optional<long long> as_int() const {
        switch (kind) {
            case Kind::none:
                return std::nullopt;
            case Kind::boolean:
                return flag ? 1 : 0;
            case Kind::number:
                return number;
            case Kind::text:
                return python_int(text);
        }
        return std::nullopt;
    }
};

class VolumeConfig {
public:
    int line = 0;  // of its <volume> element, 0 for a class default

    bool has(std::string_view key) const { return find(key) != nullptr; }
    const Value* find(std::string_view key) const {
        for (const auto& [k, v] : items_)
            if (k == key) return &v;
        return nullptr;
    }
    void set(std::string_view key, Value value) {
        for (auto& [k, v] : items_)
            if (k == key) {
                v = std::move(value);
                return;
            }
        items_.emplace_back(key, std::move(value));
    }
    void erase(std::string_view key) {
        std::erase_if(items_, [&](const auto& item) { return item.first == key; });
    }
    bool truthy(std::string_view key) const {
        const Value* v = find(key);
        return v && v->truthy();
    }
    const std::vector<std::pair<std::string_view, Value>>& items() const { return items_; }

private:
    // Keys are literals or attribute names of the document: views suffice.
    std::vector<std::pair<std::string_view, Value>> items_;
};

// The class's default volume_config (qubes_schema.h), as qubesd's dicts.
using VolumeConfigs = std::vector<std::pair<std::string_view, VolumeConfig>>;

VolumeConfigs make_class_defaults(VmClass klass) {
    VolumeConfigs defaults;
    for (const DefaultVolume& volume : default_volumes(klass)) {
        VolumeConfig c;
        c.set("snap_on_start", Value::boolean(volume.snap_on_start));
        c.set("save_on_stop", Value::boolean(volume.save_on_stop));
        c.set("rw", Value::boolean(volume.rw));
        if (volume.source_key) c.set("source", Value{});
        if (volume.size) c.set("size", Value::integer(*volume.size));
        c.set("name", Value::from_xml(volume.name));
        defaults.emplace_back(volume.name, std::move(c));
    }
    return defaults;
}

// Built once per class.
const VolumeConfigs& class_defaults(VmClass klass) {
    static const VolumeConfigs app = make_class_defaults(VmClass::app);
    static const VolumeConfigs disp = make_class_defaults(VmClass::disp);
    static const VolumeConfigs origin = make_class_defaults(VmClass::template_vm);
    return klass == VmClass::app ? app : klass == VmClass::disp ? disp : origin;
}

bool is_known_volume_key(std::string_view key, std::string_view driver) {
    static const std::set<std::string, std::less<>> common = {
        "name",          "pool", "vid",    "revisions_to_keep", "rw",      "save_on_stop",
        "snap_on_start", "size", "source", "ephemeral",         "internal"};
    if (common.contains(key)) return true;
    if (driver == "file" && key == "dir_path") return true;          // injected by the driver
    if (driver == "lvm_thin" && key == "volume_group") return true;  // injected by the driver
    if (driver == "zfs" && key == "snap_on_start_forensics") return true;
    return false;
}

// Names a volume in messages; built only when a message is.
struct Where {
    const Context& context;
    const Qube& qube;
    std::string_view volume;
    std::string text() const { return "volume " + in_quotes(volume) + " of " + context.describe(qube); }
};

struct InitializedVolume {
    std::string_view name;    // the document's, or a class default literal
    std::string_view pool;    // the LoadedPool's name
    std::string_view driver;  // the LoadedPool's driver
    std::string vid;
    bool has_source = false;
    std::string source_vid;
    std::size_t owner;
};

class StorageEmulation {
public:
    explicit StorageEmulation(Context& context) : context_(context), state_(context.qubes.size()) {}

    void run() {
        std::vector<std::size_t> order;
        for (std::size_t i = 0; i < context_.qubes.size(); ++i)
            if (context_.qubes[i].in_collection) order.push_back(i);
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            const Qube& x = context_.qubes[a];
            const Qube& y = context_.qubes[b];
            if (x.is(VmClass::admin) != y.is(VmClass::admin)) return x.is(VmClass::admin);
            return x.name < y.name;
        });
        for (const std::size_t index : order) init_storage(index);
        report_saved_during_load();
        check_unique_vids();
        check_unused_deniable_pools();
    }

private:
    struct QubeStorage {
        bool started = false;
        std::map<std::string_view, std::size_t> volumes;  // name -> index in volumes_
    };

    void init_storage(std::size_t index) {
        Qube& qube = context_.qubes[index];
        if (state_[index].started || !qube.klass || !has_volumes(*qube.klass)) return;
        state_[index].started = true;
        for (auto& [name, config] : volume_configs(qube)) init_volume(index, name, config);
    }

    // Class defaults overridden key by key by <volume-config>, as QubesVM.__init__ does.
    VolumeConfigs volume_configs(const Qube& qube) {
        VolumeConfigs configs = class_defaults(*qube.klass);
        if (!qube.domain->volume_config) return configs;
        for (const Volume& volume : *qube.domain->volume_config) {
            const std::string* name = volume.name();
            if (!name || name->empty()) {
                context_.error("V31", volume.line, "volume without a name in " + context_.describe(qube));
                continue;
            }
            auto it =
                std::find_if(configs.begin(), configs.end(), [&](const auto& c) { return c.first == *name; });
            if (it == configs.end()) {
                configs.emplace_back(*name, VolumeConfig{});
                it = configs.end() - 1;
            }
            for (const auto& [key, value] : volume.attributes) it->second.set(key, Value::from_xml(value));
            // node.items() includes namespaced attributes ("{uri}name"): they
            // reach the driver as keyword arguments and raise TypeError (V31).
            for (const std::string& key : volume.namespaced) it->second.set(key, Value::from_xml(""));
            it->second.line = volume.line;
        }
        return configs;
    }

    std::optional<std::size_t> template_of(const Qube& qube) const {
        return (qube.is(VmClass::app) || qube.is(VmClass::disp)) ? qube.template_qube : std::nullopt;
    }

    const InitializedVolume* volume_of(std::size_t qube, std::string_view name) const {
        const auto it = state_[qube].volumes.find(name);
        return it == state_[qube].volumes.end() ? nullptr : &volumes_[it->second];
    }

    void init_volume(std::size_t index, std::string_view name, VolumeConfig& config) {
        const Qube& qube = context_.qubes[index];
        const int line = config.line ? config.line : qube.line();
        const Where where{context_, qube, name};
        std::string source_vid;
        bool has_source = false;
        if (config.has("source")) {
            const auto template_index = template_of(qube);
            if (template_index) init_storage(*template_index);
            const Value& source = *config.find("source");
            if (source.kind == Value::Kind::none) {
                if (!inherit_source(qube, name, config, where, line, source_vid, has_source)) return;
            } else if (!find_named_source(config, where, line, source_vid)) {
                return;
            } else {
                has_source = true;
            }
        }
        const auto pool = resolve_pool(qube, name, config, where, line);
        if (!pool) return;
        InitializedVolume volume{name, pool->name, pool->driver, {}, has_source, source_vid, index};
        if (!driver_init(qube, *pool, config, volume, where, line)) return;
        if (has_source && pool->driver == "lvm_thin")
            check_source_origin(qube, name, source_vid, where, line);
        state_[index].volumes[name] = volumes_.size();
        initialized_.insert(std::string(volume.pool) + '\0' + volume.vid);
        volumes_.push_back(std::move(volume));
        volume_lines_.push_back(line);
    }

    // _update_volume_config_source: walk the template chain to the volume
    // that has no source of its own; the pool and size come from it.
    bool inherit_source(const Qube& qube, std::string_view name, VolumeConfig& config, const Where& where,
                        int line, std::string& source_vid, bool& has_source) {
        for (auto template_index = template_of(qube); template_index;) {
            const InitializedVolume* source = volume_of(*template_index, name);
            if (!source) {
                context_.error("V34", line,
                               where.text() + " takes its source from " +
                                   context_.describe(context_.qubes[*template_index]) +
                                   ", which has no such volume");
                return false;
            }
            source_vid = source->vid;
            has_source = true;
            config.set("pool", Value::from_xml(source->pool));
            if (!source->has_source) break;
            template_index = template_of(context_.qubes[*template_index]);
        }
        if (!has_source) config.set("source", Value{});
        return true;
    }

    // An explicit source="vid" is looked up in the volume's own pool.
    bool find_named_source(const VolumeConfig& config, const Where& where, int line,
                           std::string& source_vid) {
        const Value& source = *config.find("source");
        source_vid = source.kind == Value::Kind::text ? source.text : (source.flag ? "True" : "False");
        const Value* pool_value = config.find("pool");
        if (!pool_value || pool_value->kind != Value::Kind::text) {
            context_.error("V33", line, where.text() + " names a source but no pool");
            return false;
        }
        const auto pool = context_.pools.find(pool_value->text);
        if (pool == context_.pools.end()) {
            unknown_pool(pool_value->text, where, line);
            return false;
        }
        const std::string& driver = pool->second.driver;
        if (driver == "linux-kernel") {
            // Looked up among the kernels installed on the dom0.
            std::error_code ec;
            const bool installed = !source_vid.empty() && source_vid.find('/') == std::string::npos &&
                                   std::filesystem::is_directory(
                                       context_.options.root / "var/lib/qubes/vm-kernels" / source_vid, ec);
            if (!installed)
                context_.error(
                    "V35", line,
                    where.text() + " has source " + in_quotes(source_vid) + ", which is no installed kernel");
            return installed;
        }
        if (driver != "file" && driver != "file-reflink") return true;  // lvm and others accept any vid
        const bool found = initialized_.contains(std::string(pool_value->text) + '\0' + source_vid);
        if (!found)
            context_.error("V35", line,
                           where.text() + " has source " + in_quotes(source_vid) +
                               ", which is no volume of pool " + in_quotes(pool_value->text) +
                               " loaded before it");
        return found;
    }

    void check_source_origin(const Qube& qube, std::string_view name, const std::string& source_vid,
                             const Where& where, int line) {
        std::optional<std::size_t> origin;
        for (auto t = template_of(qube); t;) {
            const InitializedVolume* v = volume_of(*t, name);
            if (!v) return;
            origin = *t;
            if (!v->has_source) break;
            t = template_of(context_.qubes[*t]);
        }
        if (!origin) return;
        const InitializedVolume* expected = volume_of(*origin, name);
        if (expected && expected->vid != source_vid)
            context_.warning("V35", line,
                             where.text() + " has source " + in_quotes(source_vid) +
                                 ", but its template chain gives " + in_quotes(expected->vid));
    }

    void unknown_pool(std::string_view name, const Where& where, int line) {
        const auto skipped = context_.skipped_pools.find(name);
        context_.error(
            "V33", line,
            where.text() + " uses pool " + in_quotes(name) +
                (skipped != context_.skipped_pools.end() ? ", which qubesd does not load: " + skipped->second
                                                         : ", which does not exist"));
    }

    const LoadedPool* resolve_pool(const Qube& qube, std::string_view name, VolumeConfig& config,
                                   const Where& where, int line) {
        if (!config.has("pool")) {
            static const std::set<std::string, std::less<>> standard = {"root", "private", "volatile",
                                                                        "kernel"};
            if (!standard.contains(name)) {
                context_.error(
                    "V33", line,
                    where.text() +
                        " has no pool, and only root/private/volatile/kernel fall back to a default");
                return nullptr;
            }
            const auto fallback = default_pool(name);
            if (!fallback) {
                context_.error("V33", line,
                               where.text() + " has no pool, and no default pool can be determined");
                return nullptr;
            }
            if (qube.domain->volume_config)
                context_.warning("V33", line,
                                 where.text() + " has no pool; qubesd falls back to " + in_quotes(*fallback));
            config.set("pool", Value::from_xml(*fallback));  // a key of context_.pools: stable
        }
        const Value& pool_value = *config.find("pool");
        const std::string_view pool_name = pool_value.kind == Value::Kind::text ? pool_value.text : "";
        const auto pool = context_.pools.find(pool_name);
        if (pool == context_.pools.end()) {
            unknown_pool(pool_name, where, line);
            return nullptr;
        }
        return &pool->second;
    }

    // default_pool_<name>, then default_pool, then qubesd's _default_pool()
    // (a pool named "default", or a file pool at /var/lib/qubes; the lvm
    // probe of the running root cannot be judged offline and is not assumed).
    const std::string* default_pool(std::string_view volume) const {
        for (const std::string& property :
             {"default_pool_" + std::string(volume), std::string("default_pool")})
            if (const auto value = context_.document.value(property))
                if (const auto pool = context_.pools.find(*value); pool != context_.pools.end())
                    return &pool->first;
        if (const auto pool = context_.pools.find("default"); pool != context_.pools.end())
            return &pool->first;
        for (const auto& [name, pool] : context_.pools)
            if ((pool.driver == "file" || pool.driver == "file-reflink") && pool.dir_path == "/var/lib/qubes")
                return &name;
        return nullptr;
    }

    bool driver_init(const Qube& qube, const LoadedPool& pool, VolumeConfig& config,
                     InitializedVolume& volume, const Where& where, int line) {
        bool ok = true;
        for (const auto& [key, value] : config.items())
            if (!is_known_volume_key(key, pool.driver)) {
                context_.error("V31", line, where.text() + " has unknown attribute " + in_quotes(key));
                ok = false;
            }
        for (const char* key : {"rw", "save_on_stop", "snap_on_start", "ephemeral"})
            if (const Value* v = config.find(key); v && v->kind == Value::Kind::text)
                context_.warning("V32", line,
                                 where.text() + ": " + key + "=" + in_quotes(v->text) +
                                     " is not True/False; qubesd keeps it as a string, which counts as " +
                                     (v->truthy() ? "true" : "false"));
        const bool snap = config.truthy("snap_on_start");
        const bool save = config.truthy("save_on_stop");
        if (pool.driver == "linux-kernel" && !kernel_init(config, where, line)) return false;
        if (snap && save && pool.driver != "linux-kernel") {
            if (pool.driver == "file") {
                context_.error(
                    "V37", line,
                    where.text() + ": the file driver does not support snap_on_start with save_on_stop");
                return false;
            }
            context_.warning("V37", line,
                             where.text() + " has both snap_on_start and save_on_stop; it cannot start");
        }
        if (pool.driver == "file" && !save) config.set("revisions_to_keep", Value::integer(0));
        if (!config.has("revisions_to_keep"))
            config.set("revisions_to_keep",
                       pool.revisions_to_keep ? Value::from_xml(*pool.revisions_to_keep) : Value::integer(0));
        volume.vid = vid_of(qube, pool, config);
        if (!ok || !volume_init(pool, config, volume, where, line)) return false;
        return pool.driver != "linux-kernel" || kernel_volume_checks(config, where, line);
    }

    std::string vid_of(const Qube& qube, const LoadedPool& pool, const VolumeConfig& config) const {
        if (const Value* vid = config.find("vid"); vid && vid->kind == Value::Kind::text)
            return std::string(vid->text);
        const std::string name(config.find("name") ? config.find("name")->text : "");
        if (pool.driver == "lvm_thin") return pool.volume_group + "/vm-" + qube.name + "-" + name;
        const std::string prefix = qube.is(VmClass::template_vm) ? "vm-templates" : "appvms";
        return prefix + "/" + qube.name + "/" + name;
    }

    // Volume.__init__ and the driver's volume class.
    bool volume_init(const LoadedPool& pool, const VolumeConfig& config, const InitializedVolume& volume,
                     const Where& where, int line) {
        // "True"/"False" become Python bools; the lvm and reflink volume
        // classes build paths from the vid and fail on one.
        if (const Value* vid = config.find("vid"); vid && vid->kind == Value::Kind::boolean) {
            const bool builds_paths = pool.driver == "file-reflink" ||
                                      (pool.driver == "lvm_thin" &&
                                       (config.truthy("snap_on_start") || config.truthy("save_on_stop")));
            if (builds_paths) {
                context_.error("V36", line,
                               where.text() + ": vid " + (vid->flag ? "True" : "False") +
                                   " is read as a boolean, not a volume id");
                return false;
            }
        }
        const bool snap = config.truthy("snap_on_start");
        if (snap && !volume.has_source) {
            context_.error("V34", line, where.text() + " has snap_on_start but no source");
            return false;
        }
        if (!snap && volume.has_source) {
            context_.error("V34", line, where.text() + " has a source but not snap_on_start");
            return false;
        }
        const auto revisions = config.find("revisions_to_keep")->as_int();
        if (!revisions) {
            context_.error("V31", line, where.text() + ": revisions_to_keep is not an integer");
            return false;
        }
        if (const Value* size = config.find("size"); size && !size->as_int()) {
            context_.error("V31", line,
                           where.text() + ": size " + in_quotes(size->text) + " is not an integer");
            return false;
        }
        if (pool.driver == "file" && (*revisions > 1 || *revisions < -1)) {
            context_.error(
                "V37", line,
                where.text() + ": the file driver keeps -1..1 revisions, not " + std::to_string(*revisions));
            return false;
        }
        if (*revisions < -1)
            context_.warning(
                "V38", line,
                where.text() + ": revisions_to_keep " + std::to_string(*revisions) + " is below -1");
        if (*revisions == -1 && (snap || !config.truthy("save_on_stop")))
            context_.warning("V38", line,
                             where.text() + ": revisions_to_keep -1 needs save_on_stop and no snap_on_start");
        return true;
    }

    // LinuxKernel.init_volume, before the volume is built.
    bool kernel_init(VolumeConfig& config, const Where& where, int line) {
        const Value* rw = config.find("rw");
        if (!rw || rw->truthy()) {
            context_.error("V37", line, where.text() + ": kernel volumes must not be writable");
            return false;
        }
        if (config.truthy("snap_on_start") && !config.truthy("source"))
            config.set("snap_on_start", Value::boolean(false));
        if (config.truthy("save_on_stop")) {
            context_.error("V37", line, where.text() + ": kernel volumes do not support save_on_stop");
            return false;
        }
        return true;
    }

    // LinuxModules' assertions, after Volume.__init__.
    bool kernel_volume_checks(const VolumeConfig& config, const Where& where, int line) {
        if (config.find("revisions_to_keep")->as_int() != 0) {
            context_.error("V37", line, where.text() + ": kernel volumes keep 0 revisions");
            return false;
        }
        const Value* rw = config.find("rw");
        if (!(rw->kind == Value::Kind::boolean && !rw->flag)) {
            context_.error("V37", line, where.text() + ": kernel volume rw must be exactly False");
            return false;
        }
        return true;
    }

    // qubesd writes every volume it knows. An empty <volume-config/> on a
    // qube with storage is what its save during load leaves (the
    // preload-dispvm cleanup saves before storage is built).
    void report_saved_during_load() {
        for (const Qube& qube : context_.qubes)
            if (qube.in_collection && qube.klass && has_volumes(*qube.klass) && qube.domain->volume_config &&
                qube.domain->volume_config->empty()) {
                context_.warning(
                    "V28", qube.line(),
                    context_.describe(qube) +
                        " has an empty volume-config: qubesd saved this file during load (as its "
                        "preload-dispvm cleanup does) and its volumes fall back to defaults");
                return;
            }
    }

    void check_unique_vids() {
        std::unordered_map<std::string, std::size_t> seen;  // "pool\0vid"
        for (std::size_t i = 0; i < volumes_.size(); ++i) {
            const InitializedVolume& v = volumes_[i];
            if (v.driver == "linux-kernel") continue;
            const Qube& owner = context_.qubes[v.owner];
            const Where where{context_, owner, v.name};
            if (const auto [it, added] = seen.emplace(std::string(v.pool) + '\0' + v.vid, i); !added)
                context_.warning("V36", volume_lines_[i],
                                 where.text() + " uses " + in_quotes(v.vid) + " in pool " +
                                     in_quotes(v.pool) + " like " +
                                     context_.describe(context_.qubes[volumes_[it->second].owner]) +
                                     ": two qubes, one disk");
            check_vid_syntax(v, where, volume_lines_[i]);
        }
    }

    void check_vid_syntax(const InitializedVolume& v, const Where& where, int line) {
        const LoadedPool& pool = context_.pools.find(v.pool)->second;
        bool ok = true;
        if (pool.driver == "lvm_thin")
            ok = v.vid.starts_with(pool.volume_group + "/") && v.vid.size() > pool.volume_group.size() + 1;
        else if (pool.driver == "file" || pool.driver == "file-reflink")
            ok = (v.vid.starts_with("appvms/") || v.vid.starts_with("vm-templates/")) &&
                 std::count(v.vid.begin(), v.vid.end(), '/') == 2 && !v.vid.ends_with("/");
        if (!ok)
            context_.warning(
                "V36", line,
                where.text() + ": vid " + in_quotes(v.vid) + " does not fit the " + pool.driver + " driver");
    }

    // A deniable volume's pool that no volume uses still tells that the
    // volume exists (M4).
    void check_unused_deniable_pools() {
        const std::string root = context_.options.volume_root.string() + "/";
        for (const auto& entry : context_.pools) {
            // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
            const auto& name = entry.first;
            const auto& pool = entry.second;
            if (!pool.dir_path.starts_with(root)) continue;
            const bool used = std::any_of(volumes_.begin(), volumes_.end(),
                                          [&](const InitializedVolume& v) { return v.pool == name; });
            if (!used)
                context_.warning("M4", pool.pool->line,
                                 "pool " + in_quotes(name) +
                                     " lies on a deniable volume but no qube uses it; it reveals the volume");
        }
    }

    Context& context_;
    std::vector<QubeStorage> state_;
    std::vector<InitializedVolume> volumes_;
    std::unordered_set<std::string> initialized_;  // "pool\0vid" of every volume built so far
    std::vector<int> volume_lines_;
};

}  // namespace

void check_storage(Context& context) { StorageEmulation(context).run(); }

}  // namespace reliant::healer::detail
