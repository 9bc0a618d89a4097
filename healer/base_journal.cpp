#include "healer/base_journal.h"

#include <algorithm>
#include <set>

#include "common/json.h"
#include "healer/heal_common.h"
#include "healer/python_values.h"

namespace reliant::healer {
namespace {

constexpr std::string_view format_name = "reliant-base-journal 1";

std::vector<JournalQube> qubes_of(const Document& base) {
    std::vector<JournalQube> qubes;
    for (const Domain& domain : base.domains) {
        const std::string uuid = uuid_key(domain);
        if (domain.is_admin() || uuid.empty() || !domain.qube_name()) continue;
        qubes.push_back({*domain.qube_name(), uuid, domain.klass.value_or("")});
    }
    return qubes;
}

const JournalQube* find_by_uuid(const std::vector<JournalQube>& qubes, std::string_view uuid) {
    const auto it = std::find_if(qubes.begin(), qubes.end(), [&](const JournalQube& q) { return q.uuid == uuid; });
    return it == qubes.end() ? nullptr : &*it;
}

const JournalQube* find_by_name(const std::vector<JournalQube>& qubes, std::string_view name) {
    const auto it = std::find_if(qubes.begin(), qubes.end(), [&](const JournalQube& q) { return q.name == name; });
    return it == qubes.end() ? nullptr : &*it;
}

// The qube `name` stood for: a base qube now, else the last one of that name
// the journal saw removed.
const JournalQube* known_qube(const BaseJournal& journal, std::string_view name) {
    if (const JournalQube* now = find_by_name(journal.qubes, name)) return now;
    for (auto it = journal.events.rbegin(); it != journal.events.rend(); ++it)
        if (it->event == "removed" && it->qube.name == name) return &it->qube;
    return nullptr;
}

Error journal_error(std::string what) {
    return Error("the base journal: " + std::move(what), EINVAL)
        .advise("it is written by reliant-session in maintenance mode; remove the file to start a new one");
}

Result<JournalQube> read_qube(const JsonValue& value) {
    JournalQube qube;
    for (const auto& [field, into] : {std::pair{"name", &qube.name}, {"uuid", &qube.uuid}, {"class", &qube.klass}}) {
        const JsonValue* member = value.member(field);
        if (!member || !member->string()) return journal_error(std::string("a qube without a ") + field);
        *into = *member->string();
    }
    const auto uuid = python_uuid(qube.uuid);
    if (!uuid || canonical_uuid(*uuid) != qube.uuid) return journal_error("'" + qube.uuid + "' is no uuid");
    return qube;
}

Result<std::vector<JournalQube>> read_qubes(const JsonValue& array) {
    std::vector<JournalQube> qubes;
    for (const JsonValue& item : *array.array()) {
        auto qube = read_qube(item);
        if (!qube) return std::move(qube).error();
        qubes.push_back(std::move(*qube));
    }
    return qubes;
}

const JsonValue* array_member(const JsonValue& root, std::string_view name) {
    const JsonValue* member = root.member(name);
    return member && member->array() ? member : nullptr;
}

std::string qube_json(const JournalQube& qube) {
    return "{\"name\":" + json_quote(qube.name) + ",\"uuid\":" + json_quote(qube.uuid) +
           ",\"class\":" + json_quote(qube.klass) + "}";
}

template <typename T, typename Write>
std::string json_array(const std::vector<T>& items, Write write) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ",\n    " : "\n    ") + write(items[i]);
    return out + (items.empty() ? "]" : "\n  ]");
}

}  // namespace

Result<BaseJournal> parse_base_journal(std::string_view json) {
    if (json.size() > BaseJournal::max_bytes) return journal_error("larger than 1 MiB");
    auto root = json_parse(json, 8);
    if (!root) return journal_error(root.error().message());
    const JsonValue* format = root->member("format");
    if (!format || !format->string() || *format->string() != format_name)
        return journal_error("not a \"" + std::string(format_name) + "\" file");
    const JsonValue* qubes = array_member(*root, "qubes");
    const JsonValue* events = array_member(*root, "events");
    const JsonValue* successors = array_member(*root, "successors");
    if (!qubes || !events || !successors) return journal_error("qubes, events or successors missing");
    BaseJournal journal;
    journal.started = true;
    auto listed = read_qubes(*qubes);
    if (!listed) return std::move(listed).error();
    journal.qubes = std::move(*listed);
    for (const JsonValue& item : *events->array()) {
        const JsonValue* event = item.member("event");
        const JsonValue* qube = item.member("qube");
        if (!event || !event->string() || (*event->string() != "removed" && *event->string() != "created") || !qube)
            return journal_error("an event that is neither removed nor created");
        auto read = read_qube(*qube);
        if (!read) return std::move(read).error();
        journal.events.push_back({*event->string(), std::move(*read)});
    }
    for (const JsonValue& item : *successors->array()) {
        const JsonValue* of = item.member("of");
        const JsonValue* is = item.member("is");
        if (!of || !is) return journal_error("a successor without of or is");
        auto old = read_qube(*of);
        if (!old) return std::move(old).error();
        auto successor = read_qube(*is);
        if (!successor) return std::move(successor).error();
        journal.successors.push_back({std::move(*old), std::move(*successor)});
    }
    return journal;
}

std::string to_json(const BaseJournal& journal) {
    return "{\n  \"format\": " + json_quote(format_name) + ",\n  \"qubes\": " +
           json_array(journal.qubes, qube_json) + ",\n  \"events\": " +
           json_array(journal.events,
                      [](const JournalEvent& e) {
                          return "{\"event\":" + json_quote(e.event) + ",\"qube\":" + qube_json(e.qube) + "}";
                      }) +
           ",\n  \"successors\": " +
           json_array(journal.successors,
                      [](const Successor& s) { return "{\"of\":" + qube_json(s.of) + ",\"is\":" + qube_json(s.is) + "}"; }) +
           "\n}\n";
}

std::vector<JournalEvent> record_changes(BaseJournal& journal, const Document& base) {
    std::vector<JournalQube> now = qubes_of(base);
    std::vector<JournalEvent> added;
    if (journal.started) {
        for (const JournalQube& was : journal.qubes)
            if (!find_by_uuid(now, was.uuid)) added.push_back({"removed", was});
        for (const JournalQube& is : now)
            if (!find_by_uuid(journal.qubes, is.uuid)) added.push_back({"created", is});
    }
    journal.events.insert(journal.events.end(), added.begin(), added.end());
    if (journal.events.size() > BaseJournal::max_events)
        journal.events.erase(journal.events.begin(),
                             journal.events.end() - static_cast<std::ptrdiff_t>(BaseJournal::max_events));
    journal.qubes = std::move(now);
    journal.started = true;
    return added;
}

Status state_successor(BaseJournal& journal, const Document& base, std::string_view old, std::string_view successor) {
    record_changes(journal, base);
    const JournalQube* is = find_by_name(journal.qubes, successor);
    if (!is)
        return Error("'" + std::string(successor) + "' is no qube of the base", ENOENT)
            .advise("create it first (qvm-clone), then state it as the successor");
    const JournalQube* was = known_qube(journal, old);
    if (!was)
        return Error("'" + std::string(old) + "' is neither a qube of the base nor one the journal saw removed",
                     ENOENT)
            .advise("state the successor in the maintenance boot that removes the qube, or before removing it");
    if (was->uuid == is->uuid) return Error("a qube cannot be its own successor", EINVAL);
    if (was->klass != is->klass)
        return Error("'" + was->name + "' is a " + was->klass + ", '" + is->name + "' a " + is->klass, EINVAL)
            .advise("a successor takes the same role: a template for a template");
    // No cycle: following the successors from the new one must not come back.
    const std::map<std::string, std::string> next = successor_map(journal);
    std::string at = is->uuid;
    for (std::size_t steps = 0; steps <= next.size(); ++steps) {
        if (at == was->uuid)
            return Error("'" + is->name + "' already leads back to '" + was->name + "'", EINVAL)
                .advise("reliant-session successor --forget the older statement first");
        const auto found = next.find(at);
        if (found == next.end()) break;
        at = found->second;
    }
    const JournalQube old_qube = *was, new_qube = *is;  // the vectors change below
    std::erase_if(journal.successors, [&](const Successor& s) { return s.of.uuid == old_qube.uuid; });
    journal.successors.push_back({old_qube, new_qube});
    if (journal.successors.size() > BaseJournal::max_successors) journal.successors.erase(journal.successors.begin());
    return {};
}

Status forget_successor(BaseJournal& journal, std::string_view old) {
    const auto erased = std::erase_if(journal.successors, [&](const Successor& s) { return s.of.name == old; });
    if (erased == 0) return Error("no successor is stated for '" + std::string(old) + "'", ENOENT);
    return {};
}

std::map<std::string, std::string> successor_map(const BaseJournal& journal) {
    std::map<std::string, std::string> next;
    for (const Successor& s : journal.successors) next[s.of.uuid] = s.is.uuid;
    return next;
}

std::string describe(const BaseJournal& journal) {
    std::string out;
    for (const JournalEvent& e : journal.events) {
        out += e.event + " " + e.qube.klass + " " + e.qube.name;
        const bool stated = std::any_of(journal.successors.begin(), journal.successors.end(),
                                        [&](const Successor& s) { return s.of.uuid == e.qube.uuid; });
        if (e.event == "removed" && !stated && e.qube.klass == "TemplateVM")
            out += "  (no successor stated: reliant-session successor " + e.qube.name + " NEW)";
        out += "\n";
    }
    for (const Successor& s : journal.successors) out += "successor of " + s.of.name + ": " + s.is.name + "\n";
    if (out.empty()) out = "no base qube removed or created, no successor stated\n";
    return out;
}

}  // namespace reliant::healer
