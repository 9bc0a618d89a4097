#include "healer/shard.h"

#include <algorithm>
#include <set>

#include "healer/document_reader.h"
#include "healer/python_values.h"
#include "healer/references.h"
#include "healer/serializer.h"

namespace reliant::healer {
namespace {

std::optional<long long> attribute_int(const Attributes& attributes, std::string_view name) {
    const std::string* value = attributes.get(name);
    if (!value || value->empty() || value->find_first_of(" \t\r\n") != std::string::npos) return std::nullopt;
    return python_int(*value);
}

void read_header(const ShardExtras& extras, const VolumeId& volume, ShardRead& result) {
    const std::string* version = extras.root.get("version");
    if (!version || *version != shard_format_version)
        result.problems.push_back("unknown shard format version " +
                                  (version ? "'" + *version + "'" : "(none)"));
    const std::string* name = extras.root.get("volume");
    if (!name || *name != volume.name())
        result.problems.push_back("the shard names volume '" + (name ? *name : "") + "' but lies on " +
                                  volume.name());
    if (!extras.qid_range) {
        result.problems.push_back("no qid range");
        return;
    }
    const auto first = attribute_int(*extras.qid_range, "first");
    const auto last = attribute_int(*extras.qid_range, "last");
    const QidRange expected = shard_qid_range(volume);
    if (!first || !last || QidRange{*first, *last} != expected)
        result.problems.push_back("qid range is not " + std::to_string(expected.first) + ".." +
                                  std::to_string(expected.last) + ", the range of " + volume.name());
}

// A restoration names only this shard's qubes, and only in fields split
// confines: a shard cannot use it to change anything else of a lower qube.
std::vector<std::string> restoration_problems(const Domain& original, const Domain& confined,
                                              const std::set<std::string>& own) {
    std::vector<std::string> problems;
    const auto own_name = [&](const std::optional<std::string>& name) { return name && own.contains(*name); };
    std::set<std::string> properties, features;
    for (const Property& property : original.properties)
        if (!property.name || !is_restorable_property(*property.name) || !own_name(property.value()) ||
            !properties.insert(*property.name).second)
            problems.push_back("restores a property it may not");
    for (const Feature& feature : original.features) {
        const Feature* safe = feature.name ? confined.feature(*feature.name) : nullptr;
        const auto kept = safe ? feature_names(safe->value) : std::vector<std::string>{};
        bool fits = feature.name && is_name_feature(*feature.name) && features.insert(*feature.name).second;
        for (const std::string& name : feature_names(feature.value))
            fits = fits && (own.contains(name) || std::find(kept.begin(), kept.end(), name) != kept.end());
        if (!fits) problems.push_back("restores a feature it may not");
    }
    for (const Tag& tag : original.tags)
        if (!tag.name || !own_name(tag_target(*tag.name))) problems.push_back("restores a tag it may not");
    for (const DeviceGroup& group : original.devices)
        for (const Device& device : group.devices) {
            const std::string* backend = device.attributes.get("backend-domain");
            if (!group.device_class || !backend || !own.contains(*backend))
                problems.push_back("restores a device it may not");
        }
    for (const Property& property : confined.properties)
        if (!property.name || !properties.contains(*property.name) || property.value())
            problems.push_back("a confined property that is not None or not restored");
    for (const Feature& feature : confined.features)
        if (!feature.name || !features.contains(*feature.name))
            problems.push_back("a confined feature that is not restored");
    if (original.volume_config || confined.volume_config || !confined.tags.empty() || !confined.devices.empty())
        problems.push_back("a restoration with volumes, or a confined tag or device");
    return problems;
}

void read_restorations(const std::vector<RestoreElement>& elements, const Document& content,
                       std::vector<Restoration>& restorations, std::vector<std::string>& problems) {
    std::set<std::string> own, uuids;
    for (const Domain& domain : content.domains)
        if (const auto name = domain.value("name")) own.insert(*name);
    for (const RestoreElement& element : elements) {
        const std::string* qube = element.attributes.get("qube");
        const std::string* text = element.attributes.get("uuid");
        const auto uuid = text ? python_uuid(*text) : std::nullopt;
        if (!qube || !qube_name_problem(*qube).empty() || !uuid || element.attributes.size() != 2 ||
            !uuids.insert(canonical_uuid(*uuid)).second) {
            problems.push_back("malformed restoration (line " + std::to_string(element.line) + ")");
            continue;
        }
        auto found = restoration_problems(element.original, element.confined, own);
        for (std::string& problem : found)
            problems.push_back(problem + " (restoration for '" + *qube + "', line " + std::to_string(element.line) + ")");
        if (found.empty())
            restorations.push_back({*qube, canonical_uuid(*uuid), element.original, element.confined});
    }
}

}  // namespace

ShardRead read_shard(std::string_view bytes, const VolumeId& volume, const XmlLimits& limits) {
    ShardRead result;
    Diagnostics diagnostics(volume.name() + "/qubes.xml");
    ShardExtras extras;
    auto document = read_shard_document(bytes, diagnostics, extras, limits);
    for (const Diagnostic& d : diagnostics.items())
        if (d.severity == Severity::error) result.problems.push_back(format_text(d));
    if (!document) return result;
    read_header(extras, volume, result);
    if (!document->properties.empty())
        result.problems.push_back("the shard carries global properties, which belong to the base");
    std::vector<ShardReference> references;
    for (const Attributes& reference : extras.references) {
        const std::string* name = reference.get("name");
        const std::string* uuid = reference.get("uuid");
        const std::string* default_of = reference.get("default-of");
        if (!name || !uuid || !python_uuid(*uuid) || (default_of && !is_inheritable_global(*default_of))) {
            result.problems.push_back("malformed reference");
            continue;
        }
        references.push_back({*name, *uuid, default_of ? *default_of : ""});
    }
    std::vector<Restoration> restorations;
    read_restorations(extras.restores, *document, restorations, result.problems);
    if (!result.problems.empty()) return result;
    result.shard = Shard{volume, shard_qid_range(volume), std::move(*document), std::move(references),
                         std::move(restorations)};
    return result;
}

std::string serialize_shard(const Shard& shard) {
    Attributes root;
    root.set("version", std::string(shard_format_version));
    root.set("volume", shard.volume.name());
    Attributes range;
    range.set("first", std::to_string(shard.qid_range.first));
    range.set("last", std::to_string(shard.qid_range.last));
    std::vector<Attributes> references;
    for (const ShardReference& reference : shard.references) {
        Attributes attributes;
        attributes.set("name", reference.name);
        attributes.set("uuid", reference.uuid);
        if (!reference.default_of.empty()) attributes.set("default-of", reference.default_of);
        references.push_back(std::move(attributes));
    }
    std::vector<RestoreElement> restores;
    for (const Restoration& restoration : shard.restorations) {
        RestoreElement element{{}, restoration.original, restoration.confined};
        element.attributes.set("qube", restoration.qube);
        element.attributes.set("uuid", restoration.uuid);
        restores.push_back(std::move(element));
    }
    return serialize_shard(root, range, shard.content, references, restores);
}

}  // namespace reliant::healer
