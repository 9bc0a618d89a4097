#include "healer/serializer.h"

namespace reliant::healer {
namespace {

// lxml's escaping: text escapes & < > and CR; attributes also " and the
// whitespace characters that attribute normalization would otherwise eat.
void append_escaped(std::string& out, std::string_view text, bool attribute) {
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '\r':
                out += "&#13;";
                break;
            case '"':
                out += attribute ? "&quot;" : "\"";
                break;
            case '\n':
                out += attribute ? "&#10;" : "\n";
                break;
            case '\t':
                out += attribute ? "&#9;" : "\t";
                break;
            default:
                out += c;
        }
    }
}

class Writer {
public:
    std::string take() { return std::move(out_); }

    // <name attrs...>
    void open(int depth, std::string_view name, const Attributes& attributes = {}) {
        start(depth, name, attributes);
        out_ += ">\n";
    }
    void close(int depth, std::string_view name) {
        indent(depth);
        out_ += "</";
        out_ += name;
        out_ += ">\n";
    }
    // <name attrs.../>
    void empty(int depth, std::string_view name, const Attributes& attributes = {}) {
        start(depth, name, attributes);
        out_ += "/>\n";
    }
    // <name attrs...>text</name>; None is written as an empty pair, as qubesd does.
    void leaf(int depth, std::string_view name, const Attributes& attributes,
              const std::optional<std::string>& text) {
        start(depth, name, attributes);
        out_ += '>';
        if (text) append_escaped(out_, *text, false);
        out_ += "</";
        out_ += name;
        out_ += ">\n";
    }

private:
    void indent(int depth) { out_.append(static_cast<std::size_t>(depth) * 2, ' '); }
    void start(int depth, std::string_view name, const Attributes& attributes) {
        indent(depth);
        out_ += '<';
        out_ += name;
        for (const auto& [key, value] : attributes) {
            out_ += ' ';
            out_ += key;
            out_ += "=\"";
            append_escaped(out_, value, true);
            out_ += '"';
        }
    }

    std::string out_;
};

Attributes named(const std::optional<std::string>& name) {
    Attributes attributes;
    if (name) attributes.set("name", *name);
    return attributes;
}

// A container: self-closed when empty.
template <typename Items, typename WriteItem>
void write_list(Writer& w, int depth, std::string_view name, const Attributes& attributes, const Items& items,
                WriteItem write_item) {
    if (items.empty()) {
        w.empty(depth, name, attributes);
        return;
    }
    w.open(depth, name, attributes);
    for (const auto& item : items) write_item(item);
    w.close(depth, name);
}

void write_properties(Writer& w, int depth, const std::vector<Property>& properties) {
    write_list(w, depth, "properties", {}, properties,
               [&](const Property& p) { w.leaf(depth + 1, "property", named(p.name), p.value()); });
}

void write_device_group(Writer& w, int depth, const DeviceGroup& group) {
    Attributes attributes;
    if (group.device_class) attributes.set("class", *group.device_class);
    write_list(w, depth, "devices", attributes, group.devices, [&](const Device& device) {
        write_list(w, depth + 1, "device", device.attributes, device.options,
                   [&](const DeviceOption& o) { w.leaf(depth + 2, "option", named(o.name), o.text); });
    });
}

// <element attributes>, then the domain's sections.
void write_domain(Writer& w, int depth, const Domain& domain, std::string_view element,
                  const Attributes& attributes) {
    w.open(depth, element, attributes);
    write_properties(w, depth + 1, domain.properties);
    write_list(w, depth + 1, "features", {}, domain.features,
               [&](const Feature& f) { w.leaf(depth + 2, "feature", named(f.name), f.value); });
    write_list(w, depth + 1, "tags", {}, domain.tags,
               [&](const Tag& t) { w.empty(depth + 2, "tag", named(t.name)); });
    for (const auto& group : domain.devices) write_device_group(w, depth + 1, group);
    if (domain.volume_config)
        write_list(w, depth + 1, "volume-config", {}, *domain.volume_config,
                   [&](const Volume& v) { w.empty(depth + 2, "volume", v.attributes); });
    w.close(depth, element);
}

void write_domain(Writer& w, int depth, const Domain& domain) {
    Attributes attributes;
    if (domain.id) attributes.set("id", *domain.id);
    if (domain.klass) attributes.set("class", *domain.klass);
    write_domain(w, depth, domain, "domain", attributes);
}

}  // namespace

std::string serialize_shard(const Attributes& root, const Attributes& qid_range, const Document& sections,
                            const std::vector<Attributes>& references,
                            const std::vector<RestoreElement>& restores) {
    Writer w;
    w.open(0, "qubes-shard", root);
    w.empty(1, "qid-range", qid_range);
    write_list(w, 1, "labels", {}, sections.labels,
               [&](const Label& label) { w.leaf(2, "label", label.attributes, label.name); });
    write_list(w, 1, "pools", {}, sections.pools,
               [&](const Pool& pool) { w.empty(2, "pool", pool.attributes); });
    write_list(w, 1, "references", {}, references,
               [&](const Attributes& reference) { w.empty(2, "reference", reference); });
    write_list(w, 1, "domains", {}, sections.domains,
               [&](const Domain& domain) { write_domain(w, 2, domain); });
    if (!restores.empty())
        write_list(w, 1, "restores", {}, restores, [&](const RestoreElement& restore) {
            w.open(2, "restore", restore.attributes);
            write_domain(w, 3, restore.original, "original", {});
            write_domain(w, 3, restore.confined, "confined", {});
            w.close(2, "restore");
        });
    w.close(0, "qubes-shard");
    return w.take();
}

std::string serialize(const Document& document) {
    Writer w;
    w.open(0, "qubes");
    write_list(w, 1, "labels", {}, document.labels,
               [&](const Label& label) { w.leaf(2, "label", label.attributes, label.name); });
    write_list(w, 1, "pools", {}, document.pools,
               [&](const Pool& pool) { w.empty(2, "pool", pool.attributes); });
    write_properties(w, 1, document.properties);
    write_list(w, 1, "domains", {}, document.domains,
               [&](const Domain& domain) { write_domain(w, 2, domain); });
    w.close(0, "qubes");
    return w.take();
}

}  // namespace reliant::healer
