#include "healer/kept_files.h"

#include <libxml/tree.h>

#include <map>
#include <set>

#include "healer/heal_common.h"
#include "healer/xml_reader.h"
#include "qube-files/qube_files.h"

namespace reliant::healer {
namespace {

bool named(const xmlNode* node, std::string_view name) {
    return node->type == XML_ELEMENT_NODE && name == reinterpret_cast<const char*>(node->name);
}

std::string attribute(xmlNode* node, const char* name) {
    xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    if (!value) return {};
    std::string text(reinterpret_cast<const char*>(value));
    xmlFree(value);
    return text;
}

bool has_attribute(xmlNode* node, const char* name) {
    return xmlHasProp(node, reinterpret_cast<const xmlChar*>(name)) != nullptr;
}

// The qubes of one merged shard, by uuid.
std::map<std::string, Domain*> shard_qubes(Document& merged, const ShardOutcome& outcome) {
    const std::set<std::string> wanted(outcome.uuids.begin(), outcome.uuids.end());
    std::map<std::string, Domain*> qubes;
    for (Domain& domain : merged.domains)
        if (const std::string uuid = uuid_key(domain); wanted.contains(uuid)) qubes.emplace(uuid, &domain);
    return qubes;
}

void hold(Domain& domain, ShardOutcome& outcome, const std::string& why, KeptFilesRestored& restored) {
    prohibit_start(domain, "its firewall, stored on its volume, " + why +
                               "; without it qubesd would start it with no firewall at all");
    outcome.changes.push_back({domain.value("name").value_or(""), "review", "firewall.xml", "", "",
                               "prohibit-start set: firewall not restored (" + why + ")"});
    ++restored.held;
}

void restore_shard(Document& merged, ShardOutcome& outcome, const std::filesystem::path& volume,
                   const std::filesystem::path& root, KeptFilesRestored& restored) {
    const auto qubes = shard_qubes(merged, outcome);
    std::set<std::string> uuids;
    for (const auto& [uuid, domain] : qubes) uuids.insert(uuid);
    for (const auto& [uuid, domain] : qubes)
        if (auto made = qube_files::make_directory(root, {uuid, domain->value("name").value_or(""),
                                                          domain->klass == "TemplateVM"});
            !made)
            outcome.changes.push_back({domain->value("name").value_or(""), "kept-files", "directory", "", "",
                                       "its directory is not made: " + made.error().describe()});
    const qube_files::Loaded loaded = qube_files::load(volume, uuids);
    if (!loaded.has_store) {
        if (!qubes.empty())
            outcome.changes.push_back({"", "kept-files", "qube-files", "", "",
                                       "the volume has no stored qube files yet (its qubes' firewalls and notes "
                                       "were not kept by the reliant that last saved it): they are qubesd's "
                                       "defaults until the next save"});
        return;
    }
    std::set<std::string> failed;  // "<uuid> <file>"
    for (const qube_files::LoadProblem& problem : loaded.problems) {
        if (problem.uuid.empty()) {  // the manifest itself: which qube had a firewall is unknown
            for (const auto& [uuid, domain] : qubes)
                hold(*domain, outcome, "cannot be read (the volume's manifest: " + problem.reason + ")", restored);
            return;
        }
        failed.insert(problem.uuid + ' ' + problem.file);
        Domain& domain = *qubes.at(problem.uuid);
        if (problem.file == "firewall.xml")
            hold(domain, outcome, "cannot be read (" + problem.reason + ")", restored);
        else
            outcome.changes.push_back({domain.value("name").value_or(""), "kept-files", problem.file, "", "",
                                       "not restored: " + problem.reason});
    }
    for (const qube_files::StoredFile& file : loaded.files) {
        Domain& domain = *qubes.at(file.uuid);
        const qube_files::Qube qube{file.uuid, domain.value("name").value_or(""), domain.klass == "TemplateVM"};
        const qube_files::KeptFile* kept = qube_files::kept_file(file.file);
        Status ok = file.file == "firewall.xml" ? firewall_loadable(file.bytes) : success();
        if (ok) ok = qube_files::place(root, qube, file);
        if (ok) {
            ++restored.placed;
        } else if (kept && kept->guards_network) {
            hold(domain, outcome, "cannot be restored (" + ok.error().describe() + ")", restored);
        } else {
            outcome.changes.push_back({qube.name, "kept-files", file.file, "", "",
                                       "not restored: " + ok.error().describe()});
        }
    }
}

}  // namespace

Status firewall_loadable(std::string_view bytes) {
    const qube_files::KeptFile* kept = qube_files::kept_file("firewall.xml");
    XmlLimits limits;
    limits.max_bytes = kept->max_bytes;
    limits.max_entity_expansion = 0;
    if (auto plain = refuse_document_type(bytes, "firewall.xml"); !plain) return plain;
    auto document = XmlDocument::parse(bytes, "firewall.xml", limits);
    if (!document) return std::move(document).error();
    xmlNode* root = document->root();
    if (!root || !named(root, "firewall")) return Error("its root element is not <firewall>", EBADMSG);
    const std::string version = has_attribute(root, "version") ? attribute(root, "version") : "1";
    if (version == "1") {
        const std::string policy = attribute(root, "policy");
        if (policy != "allow" && policy != "deny")
            return Error("a version 1 firewall without policy=\"allow\" or \"deny\"", EBADMSG);
        return success();
    }
    if (version != "2") return Error("firewall version " + version + ", which qubesd does not load", EBADMSG);
    xmlNode* rules = nullptr;
    for (xmlNode* child = root->children; child; child = child->next)
        if (named(child, "rules")) {
            rules = child;
            break;
        }
    if (!rules) return Error("a version 2 firewall without <rules>", EBADMSG);
    for (xmlNode* child = rules->children; child; child = child->next) {
        if (child->type == XML_TEXT_NODE) continue;  // the indentation qubesd writes
        if (!named(child, "rule")) return Error("<rules> holds something other than <rule> elements", EBADMSG);
    }
    return success();
}

KeptFilesRestored restore_kept_files(Document& merged, HealReport& report, const std::filesystem::path& shard_root,
                                     const std::filesystem::path& root) {
    KeptFilesRestored restored;
    for (ShardOutcome& outcome : report.shards)
        if (outcome.status == "merged") restore_shard(merged, outcome, shard_root / outcome.volume, root, restored);
    return restored;
}

}  // namespace reliant::healer
