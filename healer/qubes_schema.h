// What qubesd defines: VM classes and, per class, every property with the
// setter and type that judge its value at load (qubes-core-admin 4.3 and
// main, read from property_list() of the live code; docs/healer.md).
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace reliant::healer {

enum class VmClass { admin, app, template_vm, standalone, disp, remote };

std::optional<VmClass> vm_class_named(std::string_view name);
std::string_view class_name(VmClass klass);
bool is_local(VmClass klass);                // every class but RemoteVM
bool has_volumes(VmClass klass);             // AppVM, TemplateVM, StandaloneVM, DispVM
bool has_netvm(VmClass klass);               // the QubesVM classes
bool can_be_dispvm_template(VmClass klass);  // classes with template_for_dispvms
bool has_template(VmClass klass);            // AppVM, DispVM: volumes derive from a template chain

// A volume of a class's default volume_config
// (qubes/vm/{appvm,templatevm,standalonevm,dispvm}.py): what qubesd uses for
// what the qube's <volume> elements do not say.
struct DefaultVolume {
    std::string_view name;
    bool snap_on_start;
    bool save_on_stop;
    bool rw;
    bool source_key;  // "source": None: qubesd takes the source (and the pool) from the template chain
    std::optional<long long> size;
};
// root, private, volatile, kernel; empty for classes without volumes.
std::span<const DefaultVolume> default_volumes(VmClass klass);
const DefaultVolume* default_volume(VmClass klass, std::string_view name);

// How a property's value is judged when qubesd loads it.
enum class ValueKind {
    text,              // type str, no setter: anything, None becomes "None"
    integer,           // type int: Python int()
    positive_int,      // _setter_positive_int
    non_negative_int,  // _setter_non_negative_int
    qid,               // _setter_qid: 0..10000
    uuid,              // uuid.UUID
    boolean,           // property.bool
    label,             // setter_label
    vm_reference,      // VMProperty
    forbidden,         // property.forbidden and stateless properties: fatal when present
    kernel,            // _setter_kernel: no '/'
    kernelopts,        // _setter_kernelopts: at most 512 characters
    default_user,      // _setter_default_user
    denied_list,       // _setter_denied_list
    virt_mode,         // hvm, pv, pvh
    mac,               // _setter_mac
    ipv4,
    ipv6,
    keyboard_layout,  // _setter_kbd_layout
    pool,             // global default_pool*: a loaded pool
};

enum class ReferenceTarget { local_vm, template_vm };

struct PropertySpec {
    std::string_view name;
    ValueKind kind;
    int stage;  // qubesd's load stage: 2 identity and settings, 3 global, 4 references
    bool write_once = false;
    ReferenceTarget target = ReferenceTarget::local_vm;
    bool allow_none = true;            // VM references: may be empty
    bool disposable_template = false;  // setter_disposable_template: target needs template_for_dispvms
    bool netvm = false;                // _setter_netvm: target provides network
    bool dispvm_template = false;      // DispVM.template: target needs template_for_dispvms
    bool main_only = false;            // exists on main (4.4) only; unknown and ignored on 4.3
};

// The property of that name on that class, or null when qubesd does not know it.
const PropertySpec* vm_property(VmClass klass, std::string_view name);
const PropertySpec* global_property(std::string_view name);

}  // namespace reliant::healer
