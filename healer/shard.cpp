#include "healer/shard.h"

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
    if (!result.problems.empty()) return result;
    result.shard = Shard{volume, shard_qid_range(volume), std::move(*document), std::move(references)};
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
    return serialize_shard(root, range, shard.content, references);
}

}  // namespace reliant::healer
