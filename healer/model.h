// The qubes.xml model: what qubesd reads from the file, kept as qubesd keeps
// it. Values stay strings exactly as written (the validator interprets them
// the way qubesd's setters would); an absent property (default) and an empty
// one (None) stay distinct; features, tags, devices and volume-config survive
// verbatim. Line numbers point back into the source for diagnostics.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reliant::healer {

struct Attribute {
    std::string name;
    std::string value;
};

// Attributes in document order (qubesd writes them in a fixed order; keeping
// the input order keeps its files byte-identical through a round trip).
class Attributes {
public:
    const std::string* get(std::string_view name) const;
    void set(std::string_view name, std::string value);  // replaces, or appends
    bool erase(std::string_view name);
    bool empty() const { return items_.empty(); }
    std::size_t size() const { return items_.size(); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }
    bool operator==(const Attributes&) const = default;

private:
    std::vector<Attribute> items_;
};

struct Label {
    Attributes attributes;            // id="label-N" color="0xRRGGBB"
    std::optional<std::string> name;  // element text; nullopt when empty
    int line = 0;

    const std::string* id() const { return attributes.get("id"); }
    const std::string* color() const { return attributes.get("color"); }
};

struct Pool {
    Attributes attributes;  // every attribute is a driver keyword argument
    int line = 0;
    // Namespaced attributes as lxml names them ("{uri}name"): qubesd passes
    // them as keyword arguments too, and fails. Judged, never written.
    std::vector<std::string> namespaced{};

    const std::string* name() const { return attributes.get("name"); }
    const std::string* driver() const { return attributes.get("driver"); }
};

struct Property {
    std::optional<std::string> name;  // nullopt: the element had no name attribute
    std::optional<std::string> text;  // nullopt: empty element
    std::optional<std::string> ref;   // the legacy ref="" attribute
    int line = 0;

    // What qubesd assigns: `ref` when non-empty, else the text; nullopt is None.
    std::optional<std::string> value() const;
};

struct Feature {
    std::optional<std::string> name;
    std::string value;  // an empty element is "" (false), as in qubesd
    int line = 0;
};

struct Tag {
    std::optional<std::string> name;
    int line = 0;
};

struct DeviceOption {
    std::optional<std::string> name;
    std::optional<std::string> text;
    int line = 0;
};

struct Device {
    Attributes attributes;  // backend-domain, id, mode, identity, legacy required
    std::vector<DeviceOption> options;
    int line = 0;
};

struct DeviceGroup {
    std::optional<std::string> device_class;  // pci, block, usb, ...
    std::vector<Device> devices;
    int line = 0;
};

struct Volume {
    Attributes
        attributes;  // name pool vid revisions_to_keep rw save_on_stop snap_on_start size source ephemeral
    int line = 0;
    std::vector<std::string> namespaced{};  // as Pool::namespaced

    const std::string* name() const { return attributes.get("name"); }
    const std::string* pool() const { return attributes.get("pool"); }
};

struct Domain {
    std::optional<std::string> klass;  // the class attribute
    std::optional<std::string> id;     // id="domain-<qid>", written, never read by qubesd
    std::vector<Property> properties;
    std::vector<Feature> features;
    std::vector<Tag> tags;
    std::vector<DeviceGroup> devices;
    std::optional<std::vector<Volume>> volume_config;  // nullopt: no <volume-config> element
    int line = 0;

    // The last <property> with that name (qubesd's "last one wins"), or null.
    const Property* property(std::string_view name) const;
    Property* property(std::string_view name);
    // The value qubesd would load for a property: nullopt when absent or None.
    std::optional<std::string> value(std::string_view name) const;
    const Feature* feature(std::string_view name) const;
    bool is_admin() const { return klass && *klass == "AdminVM"; }
    // The name qubesd knows the domain by ("dom0" for the AdminVM).
    std::optional<std::string> qube_name() const;
    // Sets or replaces a property (nullopt value = an empty element, None).
    void set_property(std::string_view name, std::optional<std::string> value);
    bool remove_property(std::string_view name);
    void set_feature(std::string_view name, std::string value);
};

// A shard's <restore qube=… uuid=…> element (healer/shard.h, Restoration):
// two domain-shaped bodies, <original> and <confined>.
struct RestoreElement {
    Attributes attributes;
    Domain original;
    Domain confined;
    int line = 0;
};

struct Document {
    std::vector<Label> labels;
    std::vector<Pool> pools;
    std::vector<Property> properties;  // global properties
    std::vector<Domain> domains;

    const Property* property(std::string_view name) const;
    Property* property(std::string_view name);
    std::optional<std::string> value(std::string_view name) const;
    const Pool* pool(std::string_view name) const;  // the last one of that name
    const Domain* domain(std::string_view qube_name) const;
    Domain* domain(std::string_view qube_name);
};

}  // namespace reliant::healer
