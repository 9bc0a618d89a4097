#include "tests/fuzz/confine_oracle.h"

#include <optional>
#include <set>

#include "healer/document_reader.h"
#include "healer/python_values.h"
#include "healer/serializer.h"
#include "healer/shard.h"
#include "healer/split.h"
#include "tests/fuzz/fuzz_support.h"

namespace reliant::fuzz::confine {
namespace {

using healer::Document;
using healer::Domain;
using healer::Pool;

// ---- Python's posixpath, as qubesd uses it --------------------------------

std::string py_join(const std::string& a, const std::string& b) {
    if (!b.empty() && b.front() == '/') return b;
    if (a.empty() || a.back() == '/') return a + b;
    return a + "/" + b;
}

std::string py_normpath(const std::string& path) {
    if (path.empty()) return ".";
    int slashes = path.front() == '/' ? 1 : 0;
    if (path.starts_with("//") && !path.starts_with("///")) slashes = 2;
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        const std::string part = path.substr(start, end - start);
        start = end + 1;
        if (part.empty() || part == ".") continue;
        if (part != ".." || (!slashes && parts.empty()) || (!parts.empty() && parts.back() == ".."))
            parts.push_back(part);
        else if (!parts.empty())
            parts.pop_back();
    }
    std::string result(static_cast<std::size_t>(slashes), '/');
    for (std::size_t i = 0; i < parts.size(); ++i) result += (i ? "/" : "") + parts[i];
    return result.empty() ? "." : result;
}

std::string dirname(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : path.substr(0, slash);
}
std::string basename(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}
bool inside(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() + 1 && path.starts_with(dir + "/");
}

// ---- qubesd's loading of a domain's volumes --------------------------------

// The class default "source": None (no XML value can hold a control character).
const std::string none_marker = "\x01None";

struct Vol {
    std::map<std::string, std::string> config;  // the dict qubesd builds
};

const Pool* pool_named(const Document& document, const std::string& name) {
    const Pool* found = nullptr;
    for (const Pool& pool : document.pools)
        if (pool.name() && *pool.name() == name) found = &pool;  // the last one wins
    return found;
}

std::string attr(const Pool& pool, const char* name) {
    const std::string* value = pool.attributes.get(name);
    return value ? *value : "";
}

class System {
public:
    System(const Document& merged, const std::map<std::string, std::string>& owners, const std::string& root)
        : doc_(merged), owners_(owners), root_(py_normpath(root)) {
        for (const Domain& domain : merged.domains) {
            const auto name = domain.qube_name();
            if (name && !qubes_.contains(*name)) qubes_[*name] = &domain;
        }
    }

    std::vector<std::string> judge() {
        collect_everything();
        for (const auto& [name, domain] : qubes_) {
            const auto owner = owners_.find(name);
            if (owner == owners_.end() || owner->second == "base") continue;
            judge_qube(name, *domain, owner->second);
        }
        return problems_;
    }

private:
    // The volume dict of `domain`: the class defaults qubesd starts from,
    // updated by every <volume> element in order.
    std::map<std::string, Vol> volumes(const Domain& domain) const {
        std::map<std::string, Vol> result;
        const std::string klass = domain.klass.value_or("");
        for (const char* name : {"root", "private", "volatile"}) result[name].config["name"] = name;
        if (klass == "AppVM" || klass == "DispVM") result["root"].config["source"] = none_marker;
        if (klass == "DispVM") result["private"].config["source"] = none_marker;
        if (domain.volume_config)
            for (const healer::Volume& element : *domain.volume_config) {
                const std::string* name = element.name();
                if (!name) continue;
                for (const healer::Attribute& a : element.attributes) result[*name].config[a.name] = a.value;
            }
        return result;
    }

    const Domain* template_of(const Domain& domain) const {
        const auto name = domain.value("template");
        if (!name) return nullptr;
        const auto found = qubes_.find(*name);
        return found == qubes_.end() ? nullptr : found->second;
    }

    struct Resolved {
        std::string pool;
        std::string vid;
        std::optional<std::string> source;  // the source's vid, in the same pool
        const Domain* source_owner = nullptr;
        bool defaulted_pool = false;
    };

    std::string derive(const Pool& pool, const Domain& domain, const std::string& volume) const {
        const std::string driver = attr(pool, "driver");
        const std::string name = domain.value("name").value_or("");
        if (driver == "lvm_thin") return attr(pool, "volume_group") + "/vm-" + name + "-" + volume;
        if (driver == "file" || driver == "file-reflink")
            return (domain.klass == "TemplateVM" ? "vm-templates/" : "appvms/") + name + "/" + volume;
        return "";
    }

    // Storage.init_volume + _update_volume_config_source, from scratch.
    Resolved resolve(const Domain& domain, const std::string& volume, int depth = 0) const {
        Resolved r;
        auto all = volumes(domain);
        auto& config = all[volume].config;
        if (config.contains("source") && config["source"] == none_marker) {
            const Domain* t = template_of(domain);
            for (int hops = 0; t && hops < 10; ++hops) {
                const Resolved up = resolve(*t, volume, depth + 1);
                r.pool = up.pool;
                r.source = up.vid;
                r.source_owner = t;
                if (!up.source) break;
                t = template_of(*t);
            }
            if (!r.source) config.erase("source");
        } else if (config.contains("source")) {
            r.source = config["source"];
        }
        if (r.pool.empty()) {
            if (config.contains("pool"))
                r.pool = config["pool"];
            else
                r.defaulted_pool = true;
        }
        if (config.contains("vid"))
            r.vid = config["vid"];
        else if (const Pool* pool = pool_named(doc_, r.pool))
            r.vid = derive(*pool, domain, volume);
        (void)depth;
        return r;
    }

    std::string kernel_of(const Domain& domain) const {
        const Domain* at = &domain;
        for (int hops = 0; at && hops < 10; ++hops) {
            if (const healer::Property* kernel = at->property("kernel")) return kernel->value().value_or("");
            at = template_of(*at);
        }
        return doc_.value("default_kernel").value_or("");
    }

    struct Object {
        std::string kind;  // file, lv
        std::string where;  // a path, or vg/lv
        std::string group;  // lv: the volume group
        std::string owner;  // the qube's name
    };

    // The image (written) objects of every qube, and every pool's own.
    void collect_everything() {
        for (const auto& [name, domain] : qubes_)
            for (const auto& [volume, vol] : volumes(*domain)) {
                (void)vol;
                const Resolved r = resolve(*domain, volume);
                const Pool* pool = pool_named(doc_, r.pool);
                if (!pool) continue;
                const std::string driver = attr(*pool, "driver");
                if (driver == "file" || driver == "file-reflink")
                    everything_.push_back(
                        {"file", py_normpath(py_join(attr(*pool, "dir_path"), r.vid + ".img")), "", name});
                else if (driver == "lvm_thin")
                    everything_.push_back({"lv", r.vid, attr(*pool, "volume_group"), name});
            }
        for (const Pool& pool : doc_.pools) {
            if (pool.attributes.get("dir_path")) pool_dirs_.push_back(py_normpath(attr(pool, "dir_path")));
            if (attr(pool, "driver") == "lvm_thin")
                everything_.push_back({"lv", attr(pool, "volume_group") + "/" + attr(pool, "thin_pool"),
                                       attr(pool, "volume_group"), ""});
        }
    }

    void problem(const std::string& qube, const std::string& text) { problems_.push_back("'" + qube + "': " + text); }

    bool chain_holds(const Domain& domain, const Domain& candidate) const {
        const Domain* at = template_of(domain);
        for (int hops = 0; at && hops < 10; ++hops, at = template_of(*at))
            if (at == &candidate) return true;
        return false;
    }

    bool shareable_source(const Domain& qube, const Domain& owner) const {
        if (!chain_holds(qube, owner)) return false;
        if (owner.klass == "TemplateVM") return true;
        if (qube.klass != "DispVM" || owner.klass != "AppVM") return false;
        const auto flag = owner.value("template_for_dispvms");
        return flag && healer::property_bool(*flag).value_or(false);
    }

    void judge_qube(const std::string& name, const Domain& domain, const std::string& owner) {
        const std::string mine = root_ + "/" + owner;
        for (const auto& [volume, vol] : volumes(domain)) {
            (void)vol;
            const Resolved r = resolve(domain, volume);
            if (r.defaulted_pool) {
                problem(name, "volume " + volume + " lands in a default pool of the base");
                continue;
            }
            const Pool* pool = pool_named(doc_, r.pool);
            if (!pool) {
                problem(name, "volume " + volume + " in a pool that does not exist");
                continue;
            }
            const std::string driver = attr(*pool, "driver");
            if (driver == "linux-kernel") {
                const std::string kernel = kernel_of(domain);
                if (kernel.empty()) continue;
                const std::string dir = py_normpath(py_join(attr(*pool, "dir_path"), kernel));
                if (dirname(dir) != py_normpath(attr(*pool, "dir_path")) || basename(dir) == "." ||
                    basename(dir) == "..")
                    problem(name, "kernel directory " + dir + " is not one of its pool's kernels");
                continue;
            }
            if (driver == "file" || driver == "file-reflink") {
                const std::string dir = attr(*pool, "dir_path");
                const std::string file = py_normpath(py_join(dir, r.vid + ".img"));
                judge_file(name, domain, volume, file, mine);
                if (r.source) {
                    const std::string read = py_normpath(py_join(dir, *r.source + ".img"));
                    if (!inside(read, mine) && !source_is_shareable(domain, read, ""))
                        problem(name, "volume " + volume + " snapshots " + read + ", another qube's data");
                }
                continue;
            }
            if (driver == "lvm_thin") {
                judge_lv(name, volume, attr(*pool, "volume_group"), r.vid);
                if (r.source && !source_is_shareable(domain, *r.source, attr(*pool, "volume_group")))
                    problem(name, "volume " + volume + " snapshots /dev/" + *r.source + ", another qube's data");
                continue;
            }
            problem(name, "volume " + volume + " in a pool of driver '" + driver + "'");
        }
        for (const healer::DeviceGroup& group : domain.devices)
            for (const healer::Device& device : group.devices) {
                const std::string* backend = device.attributes.get("backend-domain");
                const auto owner_of = backend ? owners_.find(*backend) : owners_.end();
                if (!backend || owner_of == owners_.end() || owner_of->second != owner || *backend == "dom0")
                    problem(name, group.device_class.value_or("?") + " device from backend " +
                                      (backend ? *backend : "(none)") + ", not its own volume's qube");
            }
        if (const healer::Property* kernel = domain.property("kernel")) {
            const std::string value = kernel->value().value_or("");
            if (value.find('/') != std::string::npos || value == "." || value == "..")
                problem(name, "kernel " + value + " is no kernel directory");
        }
    }

    // The source (a file path, or vg/lv) is the image of a template in
    // the qube's chain, or a disposable template's for a DispVM.
    bool source_is_shareable(const Domain& domain, const std::string& object, const std::string& group) const {
        for (const Object& o : everything_) {
            if (o.owner.empty() || (group.empty() ? o.kind != "file" : (o.kind != "lv" || o.group != group)))
                continue;
            if (o.where != object) continue;
            const auto holder = qubes_.find(o.owner);
            if (holder != qubes_.end() && shareable_source(domain, *holder->second)) return true;
        }
        return false;
    }

    void judge_file(const std::string& name, const Domain& domain, const std::string& volume,
                    const std::string& file, const std::string& mine) {
        if (inside(file, mine)) return;
        const std::string dir = dirname(file);
        const std::string own_dir_a = "appvms/" + name, own_dir_t = "vm-templates/" + name;
        bool in_own_dir = false;
        for (const std::string& pool_dir : pool_dirs_)
            if (dir == py_normpath(py_join(pool_dir, own_dir_a)) || dir == py_normpath(py_join(pool_dir, own_dir_t)))
                in_own_dir = true;
        if (!in_own_dir) {
            problem(name, "volume " + volume + " is the file " + file + ", outside its volume and its directory");
            return;
        }
        for (const Object& o : everything_)
            if (o.kind == "file" && o.owner != name && (dirname(o.where) == dir || inside(o.where, dir)))
                problem(name, "volume " + volume + " shares directory " + dir + " with " + o.owner);
        for (const std::string& pool_dir : pool_dirs_)
            if (pool_dir == dir || inside(pool_dir, dir)) problem(name, "directory " + dir + " holds a pool");
        (void)domain;
    }

    void judge_lv(const std::string& name, const std::string& volume, const std::string& group,
                  const std::string& lv) {
        if (!lv.starts_with(group + "/vm-" + name + "-")) {
            problem(name, "volume " + volume + " is /dev/" + lv + ", not in its name space");
            return;
        }
        for (const Object& o : everything_) {
            if (o.kind != "lv" || o.group != group || o.owner == name) continue;
            // lvm.py: <vid>-snap, <vid>-import, <vid>-<n>-back belong to <vid>.
            if (o.where == lv || lv.starts_with(o.where + "-") || o.where.starts_with(lv + "-"))
                problem(name, "volume " + volume + " /dev/" + lv + " is in the family of /dev/" + o.where +
                                  (o.owner.empty() ? "" : " (" + o.owner + ")"));
        }
    }

    const Document& doc_;
    const std::map<std::string, std::string>& owners_;
    const std::string root_;
    std::map<std::string, const Domain*> qubes_;
    std::vector<Object> everything_;
    std::vector<std::string> pool_dirs_;
    std::vector<std::string> problems_;
};

// ---- mutation ---------------------------------------------------------------

const std::vector<std::string> qube_names = {"vault",        "work",          "sys-usb",      "sys-net",
                                             "dom0",         "debian-12-xfce", "default-dvm", "work-private",
                                             "vault-private", "pool-x",        "intake",       "press"};
const std::vector<std::string> volume_names = {"root",         "private",  "volatile",        "kernel",
                                               "snap",         "private-snap", "../vault/private", "../../appvms/vault/private",
                                               "a/b",          ".",        "..",              "",
                                               "1700000000-back", "import"};
const std::vector<std::string> vids = {"qubes_dom0/vm-work-private",
                                       "qubes_dom0/vm-work-private-snap",
                                       "qubes_dom0/vm-work-private-1700000000-back",
                                       "qubes_dom0/root",
                                       "qubes_dom0/vm-pool",
                                       "appvms/vault/private",
                                       "appvms/vault",
                                       "../../../var/lib/qubes/appvms/vault/private",
                                       "/var/lib/qubes/appvms/vault/private",
                                       "appvms/../../sflc_0_2/pool/appvms/press/private",
                                       "vm-templates/debian-12-xfce/root",
                                       "qubes_dom0/vm-debian-12-xfce-root",
                                       "vm-templates/kicksecure-17/root",
                                       "appvms/x/..",
                                       ""};
const std::vector<std::string> pools = {"sflc_0_1", "sflc_0_2", "varlibqubes", "vm-pool", "linux-kernel", "", "nope"};
const std::vector<std::string> device_classes = {"pci", "usb", "block", "mic", "audio", ""};
const std::vector<std::string> ports = {"00_14.0", "00_0d.0", "00_14.3", "sda", "xvda", "*", "2-1", "mic"};
const std::vector<std::string> modes = {"required", "auto-attach", "ask-to-attach"};
const std::vector<std::string> kernels = {"6.12.47-1.fc41", "..", ".", "", "../../etc", "pvgrub2-pvh"};
const std::vector<std::string> dir_paths = {"/run/shufflecake/sflc_0_1/pool", "/run/shufflecake/sflc_0_1/pool/appvms",
                                            "/var/lib/qubes", "/run/shufflecake/sflc_0_1/../sflc_0_2/pool",
                                            "/run/shufflecake/sflc_0_1/kernels"};
const std::vector<std::string> drivers = {"file", "file-reflink", "lvm_thin", "linux-kernel", "zfs"};

class Mutator {
public:
    Mutator(healer::Shard& shard, Choices& choices) : shard_(shard), c_(choices) {}

    void once() {
        auto& domains = shard_.content.domains;
        if (domains.empty()) return;
        Domain& qube = domains[c_.below(domains.size())];
        switch (c_.below(13)) {
            case 0: set_volume_attr(qube, "name", pick(volume_names)); break;
            case 1: set_volume_attr(qube, "vid", pick(vids)); break;
            case 2: set_volume_attr(qube, "pool", pick(pools)); break;
            case 3: set_volume_attr(qube, "source", pick(vids)); break;
            case 4: set_volume_attr(qube, "snap_on_start", c_.below(2) ? "True" : "False"); break;
            case 5: erase_volume_attr(qube); break;
            case 6: add_device(qube); break;
            case 7: qube.set_property("kernel", pick(kernels)); break;
            case 8: duplicate_volume(qube); break;
            case 9: rename(qube); break;
            case 10: mutate_pool(); break;
            case 11: qube.set_property("template", pick(qube_names)); break;
            default: set_volume_attr(qube, c_.below(2) ? "vid" : "name", c_.raw()); break;
        }
    }

private:
    std::string pick(const std::vector<std::string>& from) { return from[c_.below(from.size())]; }

    healer::Volume* some_volume(Domain& qube) {
        if (!qube.volume_config || qube.volume_config->empty()) return nullptr;
        return &(*qube.volume_config)[c_.below(qube.volume_config->size())];
    }
    void set_volume_attr(Domain& qube, const char* name, std::string value) {
        if (healer::Volume* volume = some_volume(qube)) volume->attributes.set(name, std::move(value));
    }
    void erase_volume_attr(Domain& qube) {
        static const char* names[] = {"vid", "pool", "source", "name", "snap_on_start"};
        if (healer::Volume* volume = some_volume(qube)) volume->attributes.erase(names[c_.below(5)]);
    }
    void duplicate_volume(Domain& qube) {
        healer::Volume* volume = some_volume(qube);
        if (!volume) return;
        healer::Volume copy;
        copy.attributes.set("name", volume->name() ? *volume->name() : "private");
        copy.attributes.set(c_.below(2) ? "pool" : "vid", c_.below(2) ? pick(pools) : pick(vids));
        qube.volume_config->push_back(std::move(copy));
    }
    void add_device(Domain& qube) {
        healer::DeviceGroup group;
        group.device_class = pick(device_classes);
        healer::Device device;
        const std::size_t backend = c_.below(shard_.content.domains.size() + qube_names.size() + 1);
        if (backend < shard_.content.domains.size())
            device.attributes.set("backend-domain",
                                  shard_.content.domains[backend].value("name").value_or(""));
        else if (backend < shard_.content.domains.size() + qube_names.size())
            device.attributes.set("backend-domain", qube_names[backend - shard_.content.domains.size()]);
        device.attributes.set("id", pick(ports));
        device.attributes.set("mode", pick(modes));
        group.devices.push_back(std::move(device));
        qube.devices.push_back(std::move(group));
    }
    void rename(Domain& qube) {
        const std::string old = qube.value("name").value_or("");
        const std::string name = c_.below(4) ? pick(qube_names) + (c_.below(2) ? "" : "-snap") : c_.raw();
        qube.set_property("name", name);
        // Keep the shard's own references to it, so that the rename is what is tested.
        for (Domain& other : shard_.content.domains)
            for (healer::Property& property : other.properties)
                if (property.name && *property.name != "name" && property.value() == old) property.text = name;
    }
    void mutate_pool() {
        auto& list = shard_.content.pools;
        if (list.empty()) return;
        Pool& pool = list[c_.below(list.size())];
        if (c_.below(2))
            pool.attributes.set("dir_path", pick(dir_paths));
        else
            pool.attributes.set("driver", pick(drivers));
    }

    healer::Shard& shard_;
    Choices& c_;
};

}  // namespace

std::vector<std::string> reach_violations(const Document& merged, const std::map<std::string, std::string>& owners,
                                          const std::string& volume_root) {
    return System(merged, owners, volume_root).judge();
}

std::size_t SeededChoices::below(std::size_t n) { return n ? std::uniform_int_distribution<std::size_t>(0, n - 1)(engine_) : 0; }

std::string SeededChoices::raw() {
    static const char alphabet[] = "abv-_./0123456789x";
    std::string text;
    const std::size_t size = below(12);
    for (std::size_t i = 0; i < size; ++i) text += alphabet[below(sizeof alphabet - 1)];
    return text;
}

std::size_t ByteChoices::below(std::size_t n) {
    if (n == 0) return 0;
    std::size_t value = 0;
    for (int i = 0; i < 2 && at_ < bytes_.size(); ++i) value = value * 256 + static_cast<unsigned char>(bytes_[at_++]);
    return value % n;
}

std::string ByteChoices::raw() {
    const std::size_t size = below(17);
    const std::string text(bytes_.substr(std::min(at_, bytes_.size()), size));
    at_ += size;
    return text;
}

Seed make_seed(const std::string& fixture_text) {
    std::string text = fixture_text;
    const auto replace = [&](const std::string& from, const std::string& to) {
        if (const std::size_t at = text.find(from); at != std::string::npos) text.replace(at, from.size(), to);
    };
    replace("<volume name=\"private\" pool=\"vm-pool\" vid=\"qubes_dom0/vm-vault-private\" revisions_to_keep=\"2\"",
            "<volume name=\"private\" pool=\"varlibqubes\" vid=\"appvms/vault/private\" revisions_to_keep=\"1\"");
    replace("<volume name=\"volatile\" pool=\"vm-pool\" vid=\"qubes_dom0/vm-vault-volatile\" revisions_to_keep=\"2\"",
            "<volume name=\"volatile\" pool=\"varlibqubes\" vid=\"appvms/vault/volatile\" revisions_to_keep=\"1\"");
    healer::Diagnostics diagnostics("seed");
    const auto whole = healer::read_document(text, diagnostics);
    if (!whole) violated("the seed fixture does not parse");
    healer::SplitOptions options;
    options.validation = validation();
    const healer::SplitResult result = healer::split(*whole, {}, std::nullopt, options);
    if (!result.base) violated("the seed fixture does not split");
    Seed seed{*result.base, {}};
    for (const healer::Shard& shard : result.shards) seed.shards[shard.volume] = healer::serialize_shard(shard);
    return seed;
}

std::vector<healer::ShardInput> mutate(const Seed& seed, Choices& choices, int rounds) {
    std::vector<healer::ShardInput> inputs;
    const std::size_t target = choices.below(seed.shards.size());
    std::size_t index = 0;
    for (const auto& [volume, bytes] : seed.shards) {
        if (index++ != target) {
            inputs.push_back({volume, bytes, {}});
            continue;
        }
        healer::ShardRead read = healer::read_shard(bytes, volume);
        if (!read.shard) violated("a seed shard does not read");
        Mutator mutator(*read.shard, choices);
        for (int i = 0; i < rounds; ++i) mutator.once();
        inputs.push_back({volume, healer::serialize_shard(*read.shard), {}});
    }
    return inputs;
}

Verdict merge_and_judge(const Seed& seed, const std::vector<healer::ShardInput>& inputs) {
    healer::MergeOptions options;
    options.validation = validation();
    const healer::MergeResult result = healer::merge(seed.base, inputs, options);
    Verdict verdict;
    if (!result.merged) violated("no output although the seed's base loads");
    std::map<std::string, std::string> owners;
    for (const Domain& domain : seed.base.domains)
        if (const auto name = domain.qube_name()) owners[*name] = "base";
    for (const healer::ShardOutcome& outcome : result.report.shards) {
        if (outcome.status != "merged") {
            ++verdict.frozen;
            continue;
        }
        ++verdict.merged;
        for (const healer::ShardInput& input : inputs) {
            if (input.volume.name() != outcome.volume) continue;
            // Which qubes came from this shard: its <domain> names, read
            // plainly (the reader only splits the file; judging is ours).
            const healer::ShardRead read = healer::read_shard(*input.bytes, input.volume);
            if (!read.shard) violated("a merged shard does not read");
            for (const Domain& domain : read.shard->content.domains)
                if (const auto name = domain.value("name")) owners.emplace(*name, outcome.volume);
        }
    }
    verdict.violations = reach_violations(*result.merged, owners, options.volume_root.string());
    return verdict;
}

}  // namespace reliant::fuzz::confine
