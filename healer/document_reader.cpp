#include "healer/document_reader.h"

#include <libxml/entities.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>

namespace reliant::healer {
namespace {

using namespace std::string_literals;

std::string_view name_of(const xmlNode* node) {
    return node->name ? reinterpret_cast<const char*>(node->name) : "";
}

std::string_view name_of(const xmlAttr* attribute) {
    return attribute->name ? reinterpret_cast<const char*>(attribute->name) : "";
}

int line_of(const xmlNode* node) { return static_cast<int>(xmlGetLineNo(node)); }

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// Builds one Document from the libxml2 tree. Values are copied out as qubesd
// (lxml) would see them: element text is the text before the first child
// element, comment or processing instruction, with internal entities expanded
// under a byte budget; references to external entities are errors.
class Builder {
public:
    Builder(const XmlDocument& xml, Diagnostics& out, const ReadOptions& options,
            ShardExtras* extras = nullptr)
        : xml_(xml),
          out_(out),
          options_(options),
          extras_(extras),
          budget_(options.limits.max_entity_expansion) {}

    // A shard: <qubes-shard version=… volume=…> with the qubes.xml sections,
    // <qid-range> and <references>.
    std::optional<Document> build_shard() {
        report_form();
        const xmlNode* root = xml_.root();
        if (root->ns != nullptr || name_of(root) != "qubes-shard") {
            out_.error("V1", line_of(root),
                       "not a shard: the root element is <" + std::string(name_of(root)) + ">");
            return std::nullopt;
        }
        for (const xmlAttr* attribute = root->properties; attribute; attribute = attribute->next)
            if (attribute->ns == nullptr)
                extras_->root.set(name_of(attribute), attribute_value(root, attribute));
        Document document;
        read_sections(root, document);
        return document;
    }

    Document build() {
        report_form();
        Document document;
        const xmlNode* root = xml_.root();
        if (root->ns != nullptr) {
            out_.warning(
                "V2", line_of(root),
                "the root element is in a namespace: qubesd finds no labels, pools, properties or domains "
                "in it and starts with an empty system");
            return document;
        }
        if (name_of(root) != "qubes")
            out_.warning("V1", line_of(root),
                         "root element is <" + std::string(name_of(root)) + ">, not <qubes>");
        for (const xmlAttr* attribute = root->properties; attribute; attribute = attribute->next)
            out_.warning(
                name_of(attribute) == "version" ? "V1" : "V2", line_of(root),
                "attribute '" + std::string(name_of(attribute)) + "' on <qubes> is ignored by qubesd");
        read_sections(root, document);
        return document;
    }

private:
    void report_form() {
        const XmlForm& form = xml_.form();
        if (form.has_bom) out_.warning("V1", 1, "byte order mark; qubesd writes plain UTF-8 without one");
        if (form.has_declaration) out_.warning("V1", 1, "XML declaration; qubesd writes none");
        if (!form.declared_encoding.empty() && strcasecmp(form.declared_encoding.c_str(), "UTF-8") != 0)
            out_.warning("V1", 1, "declared encoding " + form.declared_encoding + "; qubesd writes UTF-8");
        if (form.has_doctype) {
            if (options_.doctype == DoctypePolicy::reject)
                out_.error("V1", 1, "DOCTYPE declaration: refused in untrusted input");
            else
                out_.warning(
                    "V1", 1,
                    "DOCTYPE declaration; qubesd writes none, and reliant never loads DTDs or external "
                    "entities");
        }
    }

    void read_sections(const xmlNode* root, Document& document) {
        static constexpr std::array<std::string_view, 4> expected = {"labels", "pools", "properties",
                                                                     "domains"};
        std::vector<std::string_view> seen;
        std::set<std::string_view> shard_sections;
        for (const xmlNode* child = root->children; child; child = child->next) {
            if (!is_visible_element(child)) continue;
            const std::string_view name = name_of(child);
            // qubesd reads every <domains> there is; a shard is read strictly,
            // so that no second section can say something else.
            if (extras_ && !shard_sections.insert(name).second) {
                out_.error("V1", line_of(child), "a second <" + std::string(name) + "> section");
                continue;
            }
            if (name == "labels")
                read_labels(child, document.labels);
            else if (name == "pools")
                read_pools(child, document.pools);
            else if (name == "properties")
                read_properties(child, document.properties);
            else if (name == "domains")
                read_domains(child, document.domains);
            else if (extras_ && name == "qid-range") {
                extras_->qid_range = all_attributes(child);
                no_children(child);
                continue;
            } else if (extras_ && name == "references") {
                for_each_child(child, "reference", [&](const xmlNode* node) {
                    extras_->references.push_back(all_attributes(node));
                    no_children(node);
                });
                continue;
            } else if (extras_ && name == "restores") {
                no_attributes(child);
                for_each_child(child, "restore", [&](const xmlNode* node) { read_restore(node); });
                continue;
            } else {
                unknown_element(child);
                continue;
            }
            no_attributes(child);
            seen.push_back(name);
        }
        if (!extras_ && !std::equal(seen.begin(), seen.end(), expected.begin(), expected.end()))
            out_.warning("V1", line_of(root),
                         "top-level sections are " + join(seen) +
                             "; qubesd writes labels, pools, properties, domains");
    }

    static std::string join(const std::vector<std::string_view>& names) {
        if (names.empty()) return "missing";
        std::string text;
        for (const auto name : names) text += (text.empty() ? "" : ", ") + std::string(name);
        return text;
    }

    // Children the loader's XPath would see: elements without a namespace.
    // Everything else is reported here once.
    bool is_visible_element(const xmlNode* node) {
        switch (node->type) {
            case XML_ELEMENT_NODE:
                if (node->ns == nullptr) return true;
                out_.warning("V2", line_of(node),
                             "element <" + std::string(name_of(node)) +
                                 "> is in a namespace; qubesd ignores it and drops it on save");
                return false;
            case XML_COMMENT_NODE:
                out_.warning("V2", line_of(node), "comment; qubesd ignores it and drops it on save");
                return false;
            case XML_PI_NODE:
                out_.warning("V2", line_of(node),
                             "processing instruction; qubesd ignores it and drops it on save");
                return false;
            case XML_TEXT_NODE:
            case XML_CDATA_SECTION_NODE:
                if (!is_blank(raw_text(node)))
                    out_.warning("V2", line_of(node), "stray text between elements; qubesd ignores it");
                return false;
            case XML_ENTITY_REF_NODE:
                out_.warning("V2", line_of(node),
                             "entity reference between elements; qubesd ignores its content");
                return false;
            default:
                return false;
        }
    }

    void unknown_element(const xmlNode* node) {
        out_.warning(
            "V2", line_of(node),
            "unknown element <" + std::string(name_of(node)) + ">; qubesd ignores it and drops it on save");
    }

    void no_attributes(const xmlNode* node) {
        for (const xmlAttr* attribute = node->properties; attribute; attribute = attribute->next)
            unknown_attribute(node, attribute);
    }

    void unknown_attribute(const xmlNode* node, const xmlAttr* attribute) {
        out_.warning("V2", line_of(node),
                     "unknown attribute '" + std::string(name_of(attribute)) + "' on <" +
                         std::string(name_of(node)) + ">; qubesd ignores it and drops it on save");
    }

    // Element children must be `child`; anything else is reported.
    template <typename Each>
    void for_each_child(const xmlNode* parent, std::string_view child, Each each) {
        for (const xmlNode* node = parent->children; node; node = node->next) {
            if (!is_visible_element(node)) continue;
            if (name_of(node) == child)
                each(node);
            else
                unknown_element(node);
        }
    }

    // Attributes: the known ones are returned by name; the others reported.
    struct KnownAttributes {
        std::vector<std::pair<std::string, std::string>> values;
        const std::string* get(std::string_view name) const {
            for (const auto& [key, value] : values)
                if (key == name) return &value;
            return nullptr;
        }
        std::optional<std::string> optional(std::string_view name) const {
            const std::string* value = get(name);
            return value ? std::optional<std::string>(*value) : std::nullopt;
        }
    };

    KnownAttributes attributes(const xmlNode* node, std::initializer_list<std::string_view> known) {
        KnownAttributes result;
        for (const xmlAttr* attribute = node->properties; attribute; attribute = attribute->next) {
            const std::string_view name = name_of(attribute);
            const bool is_known =
                attribute->ns == nullptr && std::find(known.begin(), known.end(), name) != known.end();
            if (is_known)
                result.values.emplace_back(std::string(name), attribute_value(node, attribute));
            else
                unknown_attribute(node, attribute);
        }
        return result;
    }

    // Every attribute, as for pools and volumes whose attributes are keyword
    // arguments: the validator judges them. A namespaced attribute is one too
    // (lxml's attrib names it "{uri}name" and qubesd passes it on, which
    // raises TypeError): its Clark name goes to `namespaced` when asked for.
    Attributes all_attributes(const xmlNode* node, std::vector<std::string>* namespaced = nullptr) {
        Attributes result;
        for (const xmlAttr* attribute = node->properties; attribute; attribute = attribute->next) {
            if (attribute->ns != nullptr) {
                if (namespaced) {
                    const auto* uri =
                        attribute->ns->href ? reinterpret_cast<const char*>(attribute->ns->href) : "";
                    namespaced->push_back("{" + std::string(uri) + "}" + std::string(name_of(attribute)));
                    continue;
                }
                unknown_attribute(node, attribute);
                continue;
            }
            result.set(name_of(attribute), attribute_value(node, attribute));
        }
        return result;
    }

    std::string attribute_value(const xmlNode* node, const xmlAttr* attribute) {
        std::string value;
        append_content(attribute->children, value, line_of(node), true);
        return value;
    }

    // lxml's `.text`: text before the first child element, comment or PI.
    // Text after them (lxml's `.tail`) is invisible to qubesd.
    std::optional<std::string> element_text(const xmlNode* element) {
        std::string text;
        bool any = false;
        const xmlNode* node = element->children;
        for (; node; node = node->next) {
            if (node->type != XML_TEXT_NODE && node->type != XML_CDATA_SECTION_NODE &&
                node->type != XML_ENTITY_REF_NODE)
                break;
            append_content(node, text, line_of(element), false);
            any = true;
        }
        for (; node; node = node->next) {
            if (node->type == XML_ELEMENT_NODE) {
                if (node->ns == nullptr)
                    unknown_element(node);
                else
                    is_visible_element(node);
            } else if (node->type == XML_COMMENT_NODE || node->type == XML_PI_NODE) {
                is_visible_element(node);
            } else if ((node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) &&
                       !is_blank(raw_text(node))) {
                out_.warning("V2", line_of(node), "text after a child element; qubesd ignores it");
            }
        }
        if (!any || text.empty()) return std::nullopt;  // lxml: an empty element has text None
        return text;
    }

    static std::string_view raw_text(const xmlNode* node) {
        return node->content ? reinterpret_cast<const char*>(node->content) : "";
    }

    // Appends text and (internal) entity content, within the expansion budget:
    // one node (a piece of element text) or a whole list (an attribute value).
    void append_content(const xmlNode* node, std::string& out, int line, bool whole_list, int depth = 0) {
        for (; node; node = whole_list ? node->next : nullptr) {
            if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
                out += raw_text(node);
            } else if (node->type == XML_ENTITY_REF_NODE) {
                append_entity(node, out, line, depth);
            }
            if (!whole_list) return;
        }
    }

    void append_entity(const xmlNode* reference, std::string& out, int line, int depth) {
        const xmlEntity* entity = xmlGetDocEntity(reference->doc, reference->name);
        const std::string name(name_of(reference));
        if (entity == nullptr || entity->etype != XML_INTERNAL_GENERAL_ENTITY) {
            if (reported_entities_.insert(name).second)
                out_.error("V1", line,
                           "reference to external or undefined entity '" + name +
                               "'; qubesd cannot load it and reliant never fetches it");
            return;
        }
        if (depth > 16) {
            budget_exceeded(line);
            return;
        }
        const std::size_t before = out.size();
        if (entity->children != nullptr) {
            for (const xmlNode* part = entity->children; part; part = part->next)
                append_content(part, out, line, false, depth + 1);
        } else if (entity->content != nullptr) {
            out += reinterpret_cast<const char*>(entity->content);
        }
        const std::size_t added = out.size() - before;
        if (added > budget_) {
            out.resize(before);
            budget_exceeded(line);
            return;
        }
        budget_ -= added;
    }

    void budget_exceeded(int line) {
        if (budget_reported_) return;
        budget_reported_ = true;
        budget_ = 0;
        out_.error("V1", line,
                   "entity expansion exceeds the limit of " +
                       std::to_string(options_.limits.max_entity_expansion) + " bytes");
    }

    void read_labels(const xmlNode* section, std::vector<Label>& labels) {
        for_each_child(section, "label", [&](const xmlNode* node) {
            Label label;
            label.line = line_of(node);
            const auto known = attributes(node, {"id", "color"});
            for (const auto& [key, value] : known.values) label.attributes.set(key, value);
            label.name = element_text(node);
            labels.push_back(std::move(label));
        });
    }

    void read_pools(const xmlNode* section, std::vector<Pool>& pools) {
        for_each_child(section, "pool", [&](const xmlNode* node) {
            Pool pool;
            pool.attributes = all_attributes(node, &pool.namespaced);
            pool.line = line_of(node);
            pools.push_back(std::move(pool));
            no_children(node);
        });
    }

    void no_children(const xmlNode* node) {
        for (const xmlNode* child = node->children; child; child = child->next)
            if (is_visible_element(child)) unknown_element(child);
    }

    void read_properties(const xmlNode* section, std::vector<Property>& properties) {
        for_each_child(section, "property", [&](const xmlNode* node) {
            const auto known = attributes(node, {"name", "ref"});
            properties.push_back(
                Property{known.optional("name"), element_text(node), known.optional("ref"), line_of(node)});
        });
    }

    void read_domains(const xmlNode* section, std::vector<Domain>& domains) {
        for_each_child(section, "domain", [&](const xmlNode* node) { domains.push_back(read_domain(node)); });
    }

    Domain read_domain(const xmlNode* node) {
        Domain domain;
        domain.line = line_of(node);
        const auto known = attributes(node, {"id", "class"});
        domain.id = known.optional("id");
        domain.klass = known.optional("class");
        for (const xmlNode* child = node->children; child; child = child->next) {
            if (!is_visible_element(child)) continue;
            const std::string_view name = name_of(child);
            if (name == "properties") {
                no_attributes(child);
                read_properties(child, domain.properties);
            } else if (name == "features") {
                no_attributes(child);
                read_features(child, domain.features);
            } else if (name == "tags") {
                no_attributes(child);
                read_tags(child, domain.tags);
            } else if (name == "devices") {
                domain.devices.push_back(read_device_group(child));
            } else if (name == "volume-config") {
                no_attributes(child);
                if (!domain.volume_config) domain.volume_config.emplace();
                read_volumes(child, *domain.volume_config);
            } else {
                unknown_element(child);
            }
        }
        return domain;
    }

    // <restore qube=… uuid=…><original>…</original><confined>…</confined></restore>:
    // each body is read like a domain's; a second body of one kind is an error.
    void read_restore(const xmlNode* node) {
        RestoreElement restore;
        restore.line = line_of(node);
        restore.attributes = all_attributes(node);
        bool original = false, confined = false;
        for (const xmlNode* child = node->children; child; child = child->next) {
            if (!is_visible_element(child)) continue;
            const std::string_view name = name_of(child);
            bool& seen = name == "original" ? original : confined;
            if (name != "original" && name != "confined") {
                unknown_element(child);
            } else if (seen) {
                out_.error("V1", line_of(child), "a second <" + std::string(name) + "> in a <restore>");
            } else {
                seen = true;
                (name == "original" ? restore.original : restore.confined) = read_domain(child);
            }
        }
        extras_->restores.push_back(std::move(restore));
    }

    void read_features(const xmlNode* section, std::vector<Feature>& features) {
        for_each_child(section, "feature", [&](const xmlNode* node) {
            const auto known = attributes(node, {"name"});
            features.push_back(
                Feature{known.optional("name"), element_text(node).value_or(""), line_of(node)});
        });
    }

    void read_tags(const xmlNode* section, std::vector<Tag>& tags) {
        for_each_child(section, "tag", [&](const xmlNode* node) {
            const auto known = attributes(node, {"name"});
            no_children(node);
            tags.push_back(Tag{known.optional("name"), line_of(node)});
        });
    }

    DeviceGroup read_device_group(const xmlNode* node) {
        DeviceGroup group;
        group.line = line_of(node);
        group.device_class = attributes(node, {"class"}).optional("class");
        for_each_child(node, "device", [&](const xmlNode* device_node) {
            Device device;
            device.line = line_of(device_node);
            const auto known =
                attributes(device_node, {"backend-domain", "id", "mode", "identity", "required"});
            for (const auto& [key, value] : known.values) device.attributes.set(key, value);
            for_each_child(device_node, "option", [&](const xmlNode* option) {
                const auto option_attributes = attributes(option, {"name"});
                device.options.push_back(
                    DeviceOption{option_attributes.optional("name"), element_text(option), line_of(option)});
            });
            group.devices.push_back(std::move(device));
        });
        return group;
    }

    void read_volumes(const xmlNode* section, std::vector<Volume>& volumes) {
        for_each_child(section, "volume", [&](const xmlNode* node) {
            Volume volume;
            volume.attributes = all_attributes(node, &volume.namespaced);
            volume.line = line_of(node);
            volumes.push_back(std::move(volume));
            no_children(node);
        });
    }

    const XmlDocument& xml_;
    Diagnostics& out_;
    const ReadOptions& options_;
    ShardExtras* extras_;
    std::size_t budget_;
    bool budget_reported_ = false;
    std::set<std::string> reported_entities_;
};

}  // namespace

Document build_document(const XmlDocument& xml, Diagnostics& out, const ReadOptions& options) {
    return Builder(xml, out, options).build();
}

std::optional<Document> read_document(std::string_view bytes, Diagnostics& out, const ReadOptions& options) {
    auto xml = XmlDocument::parse(bytes, out.file(), options.limits);
    if (!xml) {
        out.error("V1", xml.error().input_line(), "not loadable XML: " + xml.error().message());
        return std::nullopt;
    }
    return build_document(*xml, out, options);
}

}  // namespace reliant::healer

namespace reliant::healer {

std::optional<Document> read_shard_document(std::string_view bytes, Diagnostics& out, ShardExtras& extras,
                                            const XmlLimits& limits) {
    ReadOptions options;
    options.limits = limits;
    options.doctype = DoctypePolicy::reject;
    if (auto refused = refuse_document_type(bytes, out.file()); !refused) {
        out.error("V1", refused.error().input_line(), "not loadable XML: " + refused.error().message());
        return std::nullopt;
    }
    auto xml = XmlDocument::parse(bytes, out.file(), limits);
    if (!xml) {
        out.error("V1", xml.error().input_line(), "not loadable XML: " + xml.error().message());
        return std::nullopt;
    }
    return Builder(*xml, out, options, &extras).build_shard();
}

}  // namespace reliant::healer
