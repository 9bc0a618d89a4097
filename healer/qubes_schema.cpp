#include "healer/qubes_schema.h"

#include <algorithm>
#include <initializer_list>
#include <span>

namespace reliant::healer {
namespace {

using K = ValueKind;

constexpr PropertySpec forbidden(std::string_view name) { return {name, K::forbidden, 2}; }
constexpr PropertySpec reference(std::string_view name) { return {name, K::vm_reference, 4}; }
constexpr PropertySpec disposable(std::string_view name, int stage = 4) {
    PropertySpec spec{name, K::vm_reference, stage};
    spec.disposable_template = true;
    return spec;
}

// QubesVM: shared by AppVM, TemplateVM, StandaloneVM and DispVM.
constexpr PropertySpec qubes_vm_properties[] = {
    reference("audiovm"),
    {"autostart", K::boolean, 2},
    {"backup_timestamp", K::integer, 2},
    {"bootmode", K::text, 4},
    {"debug", K::boolean, 2},
    disposable("default_dispvm"),
    {"default_user", K::default_user, 2},
    {"devices_denied", K::denied_list, 2},
    forbidden("dns"),
    forbidden("gateway"),
    forbidden("gateway6"),
    reference("guivm"),
    forbidden("icon"),
    {"include_in_backups", K::boolean, 2},
    {"installed_by_rpm", K::boolean, 2},
    {"ip", K::ipv4, 2},
    {"ip6", K::ipv6, 2},
    {"kernel", K::kernel, 2},
    {"kernelopts", K::kernelopts, 4},
    {"keyboard_layout", K::keyboard_layout, 2},
    forbidden("klass"),
    {"label", K::label, 2},
    {"mac", K::mac, 2},
    disposable("management_dispvm"),
    {"maxmem", K::non_negative_int, 2},
    {"memory", K::positive_int, 2},
    {"name", K::text, 2, true},
    {"netvm", K::vm_reference, 4, false, ReferenceTarget::local_vm, true, false, true},
    {"provides_network", K::boolean, 2},
    {"qid", K::qid, 2, true},
    {"qrexec_timeout", K::positive_int, 2},
    {"shutdown_timeout", K::positive_int, 2},
    forbidden("start_time"),
    {"stubdom_mem", K::positive_int, 2},
    forbidden("stubdom_uuid"),
    forbidden("stubdom_xid"),
    forbidden("updateable"),
    {"uuid", K::uuid, 2, true},
    {"vcpus", K::positive_int, 2},
    {"virt_mode", K::virt_mode, 2},
    forbidden("visible_gateway"),
    forbidden("visible_gateway6"),
    forbidden("visible_ip"),
    forbidden("visible_ip6"),
    forbidden("visible_netmask"),
    forbidden("xid"),
};

constexpr PropertySpec app_vm_extra[] = {
    {"template", K::vm_reference, 4, false, ReferenceTarget::template_vm, false},
    {"template_for_dispvms", K::boolean, 2},
};

constexpr PropertySpec template_vm_extra[] = {
    {"appvm_default_bootmode", K::text, 4},
};

constexpr PropertySpec standalone_vm_extra[] = {
    {"template_for_dispvms", K::boolean, 2},
};

constexpr PropertySpec disp_vm_extra[] = {
    {"auto_cleanup", K::boolean, 2},
    {"dispid", K::integer, 2, true},
    forbidden("is_preload"),
    {"template", K::vm_reference, 4, false, ReferenceTarget::local_vm, false, false, false, true},
};

constexpr PropertySpec admin_vm_properties[] = {
    disposable("default_dispvm"),
    {"devices_denied", K::denied_list, 2},
    forbidden("icon"),
    {"include_in_backups", K::boolean, 2},
    {"keyboard_layout", K::keyboard_layout, 2},
    forbidden("klass"),
    {"label", K::label, 2},
    forbidden("maxmem"),
    forbidden("name"),
    forbidden("qid"),
    forbidden("updateable"),
    forbidden("uuid"),
};

constexpr PropertySpec remote_vm_properties[] = {
    forbidden("icon"),
    {"include_in_backups", K::boolean, 2},
    forbidden("klass"),
    {"label", K::label, 2},
    {"name", K::text, 2, true},
    {"qid", K::qid, 2, true},
    reference("relayvm"),
    {"remote_name", K::text, 2},
    {"transport_rpc", K::text, 2},
    {"uuid", K::uuid, 2, true},
};

constexpr PropertySpec global_properties[] = {
    {"check_updates_vm", K::boolean, 3},
    {"clockvm", K::vm_reference, 3},
    {"default_audiovm", K::vm_reference, 3},
    disposable("default_dispvm", 3),
    {"default_guivm", K::vm_reference, 3},
    {"default_kernel", K::text, 3},
    {"default_netvm", K::vm_reference, 3},
    {"default_pool", K::pool, 3},
    {"default_pool_kernel", K::pool, 3},
    {"default_pool_private", K::pool, 3},
    {"default_pool_root", K::pool, 3},
    {"default_pool_volatile", K::pool, 3},
    {"default_qrexec_timeout", K::integer, 3},
    {"default_shutdown_timeout", K::integer, 3},
    {"default_template", K::vm_reference, 3, false, ReferenceTarget::template_vm},
    disposable("management_dispvm", 3),
    {"maxmem", K::forbidden, 3, false, ReferenceTarget::local_vm, true, false, false, false, true},
    {"no_cpus", K::forbidden, 3, false, ReferenceTarget::local_vm, true, false, false, false, true},
    {"stats_interval", K::integer, 3},
    {"updatevm", K::vm_reference, 3},
};

const PropertySpec* find_in(std::span<const PropertySpec> table, std::string_view name) {
    const auto it =
        std::find_if(table.begin(), table.end(), [&](const PropertySpec& p) { return p.name == name; });
    return it == table.end() ? nullptr : &*it;
}

}  // namespace

std::optional<VmClass> vm_class_named(std::string_view name) {
    if (name == "AdminVM") return VmClass::admin;
    if (name == "AppVM") return VmClass::app;
    if (name == "TemplateVM") return VmClass::template_vm;
    if (name == "StandaloneVM") return VmClass::standalone;
    if (name == "DispVM") return VmClass::disp;
    if (name == "RemoteVM") return VmClass::remote;
    return std::nullopt;
}

std::string_view class_name(VmClass klass) {
    switch (klass) {
        case VmClass::admin:
            return "AdminVM";
        case VmClass::app:
            return "AppVM";
        case VmClass::template_vm:
            return "TemplateVM";
        case VmClass::standalone:
            return "StandaloneVM";
        case VmClass::disp:
            return "DispVM";
        case VmClass::remote:
            return "RemoteVM";
    }
    return "?";
}

bool is_local(VmClass klass) { return klass != VmClass::remote; }
bool has_volumes(VmClass klass) { return klass != VmClass::admin && klass != VmClass::remote; }
bool has_netvm(VmClass klass) { return has_volumes(klass); }
bool can_be_dispvm_template(VmClass klass) { return klass == VmClass::app || klass == VmClass::standalone; }
bool has_template(VmClass klass) { return klass == VmClass::app || klass == VmClass::disp; }

namespace {

constexpr long long gib = 1024LL * 1024 * 1024;

// name, snap_on_start, save_on_stop, rw, "source": None, size
constexpr DefaultVolume app_volumes[] = {
    {"root", true, false, true, true, std::nullopt},
    {"private", false, true, true, false, 2 * gib},
    {"volatile", false, false, true, false, 20 * gib},
    {"kernel", false, false, false, false, std::nullopt},
};
constexpr DefaultVolume disp_volumes[] = {
    {"root", true, false, true, true, std::nullopt},
    {"private", true, false, true, true, std::nullopt},
    {"volatile", false, false, true, false, 22 * gib},
    {"kernel", false, false, false, false, std::nullopt},
};
// TemplateVM and StandaloneVM: their own root and private.
constexpr DefaultVolume origin_volumes[] = {
    {"root", false, true, true, true, 20 * gib},
    {"private", false, true, true, true, 2 * gib},
    {"volatile", false, false, true, false, 20 * gib},
    {"kernel", false, false, false, false, std::nullopt},
};

}  // namespace

std::span<const DefaultVolume> default_volumes(VmClass klass) {
    switch (klass) {
        case VmClass::app:
            return app_volumes;
        case VmClass::disp:
            return disp_volumes;
        case VmClass::template_vm:
        case VmClass::standalone:
            return origin_volumes;
        case VmClass::admin:
        case VmClass::remote:
            break;
    }
    return {};
}

const DefaultVolume* default_volume(VmClass klass, std::string_view name) {
    for (const DefaultVolume& volume : default_volumes(klass))
        if (volume.name == name) return &volume;
    return nullptr;
}

const PropertySpec* vm_property(VmClass klass, std::string_view name) {
    switch (klass) {
        case VmClass::admin:
            return find_in(admin_vm_properties, name);
        case VmClass::remote:
            return find_in(remote_vm_properties, name);
        case VmClass::app:
            if (const auto* spec = find_in(app_vm_extra, name)) return spec;
            break;
        case VmClass::template_vm:
            if (const auto* spec = find_in(template_vm_extra, name)) return spec;
            break;
        case VmClass::standalone:
            if (const auto* spec = find_in(standalone_vm_extra, name)) return spec;
            break;
        case VmClass::disp:
            if (const auto* spec = find_in(disp_vm_extra, name)) return spec;
            break;
    }
    return find_in(qubes_vm_properties, name);
}

const PropertySpec* global_property(std::string_view name) { return find_in(global_properties, name); }

}  // namespace reliant::healer
