// Entry point and loader stage 1: labels and pools.
#include <algorithm>
#include <array>
#include <filesystem>
#include <set>

#include "healer/validator_internal.h"

namespace reliant::healer {
namespace detail {

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

std::optional<std::size_t> Context::find(std::string_view name) const {
    const auto it = by_name.find(std::string(name));
    if (it == by_name.end()) return std::nullopt;
    return it->second;
}

const Qube* Context::qube_named(std::string_view name) const {
    const auto index = find(name);
    return index ? &qubes[*index] : nullptr;
}

std::string Context::describe(const Qube& qube) const {
    if (qube.has_name || qube.is(VmClass::admin)) return in_quotes(qube.name);
    return "the domain at line " + std::to_string(qube.line());
}

std::optional<std::size_t> Context::effective_netvm(const Qube& qube) const {
    if (!qube.klass || !has_netvm(*qube.klass)) return std::nullopt;
    switch (qube.net) {
        case Qube::Net::none:
        case Qube::Net::invalid:
            return std::nullopt;
        case Qube::Net::qube:
            return qube.netvm;
        case Qube::Net::absent:
            break;
    }
    if (qube.is(VmClass::template_vm)) return std::nullopt;  // a template's default netvm is None
    return default_netvm;
}

std::string resolve_label(const Context& context, const std::optional<std::string>& value,
                          bool& non_canonical) {
    non_canonical = false;
    const auto by_index = [&](long long index) -> const LoadedLabel* {
        const auto it = context.labels.find(index);
        return it == context.labels.end() ? nullptr : &it->second;
    };
    if (value && value->starts_with("label-")) {
        non_canonical = true;
        const auto index = python_int(std::string_view(*value).substr(6));
        if (!index) return "label " + in_quotes(*value) + " is not label-<number>";
        if (!by_index(*index)) return "label index " + std::to_string(*index) + " does not exist";
        return {};
    }
    // app.get_label: an index verbatim (never matches a string), then a name,
    // then the string as a number.
    for (const auto& [index, label] : context.labels)
        if (label.name == value) return {};
    if (!value) return "empty label (None) matches no label";
    if (const auto index = python_int(*value); index && by_index(*index)) {
        non_canonical = true;
        return {};
    }
    return "label " + in_quotes(*value) + " does not exist";
}

namespace {

constexpr std::array<std::string_view, 9> standard_labels = {"",     "red",  "orange", "yellow", "green",
                                                             "gray", "blue", "purple", "black"};

bool valid_label_name(std::string_view name) {
    if (name.empty()) return false;
    const bool all_digits =
        std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool allowed = std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
    return allowed && !all_digits;
}

bool valid_colour(const std::string* colour) {
    if (!colour || colour->size() != 8 || !colour->starts_with("0x")) return false;
    return std::all_of(colour->begin() + 2, colour->end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

bool is_canonical_label_id(std::string_view id) {
    return id.starts_with("label-") && id.size() > 6 &&
           std::all_of(id.begin() + 6, id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_label_hygiene(Context& context) {
    std::set<std::string> names;
    for (const auto& [index, loaded] : context.labels) {
        const Label& label = *loaded.label;
        if (!loaded.name) {
            context.warning("V4", label.line, "label " + std::to_string(index) + " has no name");
            continue;
        }
        const std::string& name = *loaded.name;
        if (!valid_label_name(name))
            context.warning("V4", label.line,
                            "label name " + in_quotes(name) + " is not [A-Za-z0-9_.-]+ (and not all digits)");
        if (!names.insert(name).second)
            context.warning("V4", label.line, "label name " + in_quotes(name) + " is defined twice");
        if (!valid_colour(label.color()))
            context.warning("V4", label.line,
                            "label " + in_quotes(name) + " has colour " +
                                in_quotes(label.color() ? *label.color() : "") + ", not 0xRRGGBB");
        if (index >= 1 && index <= 8 && name != standard_labels[static_cast<std::size_t>(index)])
            context.warning("V4", label.line,
                            "label " + std::to_string(index) + " is " + in_quotes(name) +
                                ", not the standard " +
                                in_quotes(standard_labels[static_cast<std::size_t>(index)]));
    }
}

struct DriverSpec {
    std::string_view driver;
    std::vector<std::string_view> required;
    std::vector<std::string_view> optional;
};

const std::vector<DriverSpec>& driver_specs() {
    static const std::vector<DriverSpec> specs = {
        {"file", {"dir_path"}, {"revisions_to_keep", "ephemeral_volatile"}},
        {"file-reflink", {"dir_path"}, {"revisions_to_keep", "ephemeral_volatile", "setup_check"}},
        {"lvm_thin", {"volume_group", "thin_pool"}, {"revisions_to_keep", "ephemeral_volatile"}},
        {"linux-kernel", {"dir_path"}, {}},
        {"callback", {"conf_id"}, {}},
        {"zfs", {"container"}, {"revisions_to_keep", "ephemeral_volatile", "snap_on_start_forensics"}},
    };
    return specs;
}

const DriverSpec* driver_spec(std::string_view driver) {
    for (const auto& spec : driver_specs())
        if (spec.driver == driver) return &spec;
    return nullptr;
}

// The keyword arguments must fit the driver's constructor, else TypeError.
bool check_pool_arguments(Context& context, const Pool& pool, const std::string& name,
                          const DriverSpec& spec) {
    bool ok = true;
    for (const auto& [key, value] : pool.attributes) {
        if (key == "name" || key == "driver") continue;
        const bool known =
            std::find(spec.required.begin(), spec.required.end(), key) != spec.required.end() ||
            std::find(spec.optional.begin(), spec.optional.end(), key) != spec.optional.end();
        if (!known) {
            context.error("V8", pool.line,
                          "pool " + in_quotes(name) + ": driver " + std::string(spec.driver) +
                              " takes no argument " + in_quotes(key));
            ok = false;
        }
    }
    // lxml names a namespaced attribute "{uri}name", and _get_pool passes it
    // on like any other: TypeError, which aborts the whole load.
    for (const std::string& key : pool.namespaced) {
        context.error("V8", pool.line,
                      "pool " + in_quotes(name) + ": driver " + std::string(spec.driver) +
                          " takes no argument " + in_quotes(key) + " (a namespaced attribute)");
        ok = false;
    }
    for (const auto required : spec.required)
        if (!pool.attributes.get(required)) {
            context.error("V8", pool.line,
                          "pool " + in_quotes(name) + ": driver " + std::string(spec.driver) + " needs " +
                              in_quotes(required));
            ok = false;
        }
    return ok;
}

bool check_pool_values(Context& context, const Pool& pool, const std::string& name, LoadedPool& loaded) {
    bool ok = true;
    if (const std::string* ephemeral = pool.attributes.get("ephemeral_volatile")) {
        if (!utils_parse_bool(*ephemeral)) {
            context.error("V9", pool.line,
                          "pool " + in_quotes(name) + ": ephemeral_volatile=" + in_quotes(*ephemeral) +
                              " is not one of True, False, 1, 0, on, off");
            ok = false;
        } else if (!is_canonical_bool(*ephemeral)) {
            context.warning("V9", pool.line,
                            "pool " + in_quotes(name) + ": write ephemeral_volatile as True or False");
        }
    }
    const std::string* revisions = pool.attributes.get("revisions_to_keep");
    if (loaded.driver == "file") {
        // FilePool converts with int() and supports at most one revision.
        const auto number = revisions ? python_int(*revisions) : std::optional<long long>(1);
        if (!number) {
            context.error("V9", pool.line,
                          "pool " + in_quotes(name) + ": revisions_to_keep=" + in_quotes(*revisions) +
                              " is not an integer");
            return false;
        }
        if (*number > 1) {
            context.error("V8", pool.line,
                          "pool " + in_quotes(name) + ": the file driver keeps at most 1 revision, not " +
                              std::to_string(*number));
            ok = false;
        }
        loaded.revisions_to_keep = std::to_string(*number);
    } else if (revisions) {
        if (!python_int(*revisions))
            context.warning("V9", pool.line,
                            "pool " + in_quotes(name) + ": revisions_to_keep=" + in_quotes(*revisions) +
                                " is not an integer; volumes that rely on it fail to load");
        loaded.revisions_to_keep = *revisions;
    } else if (loaded.driver != "linux-kernel" && loaded.driver != "callback") {
        loaded.revisions_to_keep = "1";
    }
    if (loaded.driver == "callback" &&
        !std::filesystem::exists(context.options.root / "etc/qubes_callback.json")) {
        context.error("V8", pool.line,
                      "pool " + in_quotes(name) +
                          ": callback pools need /etc/qubes_callback.json, which does not exist");
        ok = false;
    }
    return ok;
}

}  // namespace

void check_labels(Context& context) {
    for (const Label& label : context.document.labels) {
        const std::string* id = label.id();
        if (!id) {
            context.error("V3", label.line, "label without an id");
            continue;
        }
        const std::size_t dash = id->find('-');
        const auto index =
            dash == std::string::npos ? std::nullopt : python_int(std::string_view(*id).substr(dash + 1));
        if (!index) {
            context.error("V3", label.line, "label id " + in_quotes(*id) + " is not label-<number>");
            continue;
        }
        if (!is_canonical_label_id(*id))
            context.warning("V3", label.line,
                            "label id " + in_quotes(*id) + " should be label-" + std::to_string(*index));
        if (const auto previous = context.labels.find(*index); previous != context.labels.end())
            context.warning("V3", label.line,
                            "label index " + std::to_string(*index) + " is defined twice; " +
                                in_quotes(label.name.value_or("")) + " replaces " +
                                in_quotes(previous->second.name.value_or("")));
        context.labels[*index] = LoadedLabel{&label, label.name};
    }
    check_label_hygiene(context);
}

void check_pools(Context& context) {
    for (const Pool& pool : context.document.pools) {
        const std::string* name = pool.name();
        if (!name || name->empty()) {
            context.error("V6", pool.line, "pool without a name");
            continue;
        }
        if (context.pools.erase(*name) + context.skipped_pools.erase(*name) > 0)
            context.warning("V6", pool.line,
                            "pool " + in_quotes(*name) + " is defined twice; this later one wins");
        const std::string* driver = pool.driver();
        if (!driver) {
            context.warning("V7", pool.line, "pool " + in_quotes(*name) + " has no driver; qubesd skips it");
            context.skipped_pools[*name] = "it has no driver";
            continue;
        }
        const DriverSpec* spec = driver_spec(*driver);
        if (!spec) {
            context.warning("V7", pool.line,
                            "pool " + in_quotes(*name) + " has unknown driver " + in_quotes(*driver) +
                                "; qubesd skips it");
            context.skipped_pools[*name] = "its driver " + in_quotes(*driver) + " is unknown";
            continue;
        }
        LoadedPool loaded{&pool, *driver, *name, std::nullopt, {}, {}};
        if (const std::string* dir = pool.attributes.get("dir_path")) loaded.dir_path = *dir;
        if (const std::string* group = pool.attributes.get("volume_group")) loaded.volume_group = *group;
        const bool arguments_ok = check_pool_arguments(context, pool, *name, *spec);
        if (check_pool_values(context, pool, *name, loaded) && arguments_ok)
            context.pools[*name] = std::move(loaded);
        else
            context.skipped_pools[*name] = "it fails to load";
    }
}

}  // namespace detail

void validate(const Document& document, Diagnostics& out, const ValidationOptions& options) {
    detail::Context context(document, out, options);
    detail::check_labels(context);
    detail::check_pools(context);
    detail::construct_qubes(context);
    detail::check_global_properties(context);
    detail::check_references(context);
    detail::check_extras(context);
    detail::check_storage(context);
    detail::check_runtime(context);
}

}  // namespace reliant::healer
