#include "session/status.h"

#include <string>
#include <vector>

#include "common/json.h"

namespace reliant::session {
namespace {

std::string text_of(const JsonValue& object, std::string_view name) {
    const JsonValue* value = object.member(name);
    return value && value->string() ? *value->string() : std::string();
}

const JsonValue::Array& array_of(const JsonValue& object, std::string_view name) {
    static const JsonValue::Array none;
    const JsonValue* value = object.member(name);
    return value && value->array() ? *value->array() : none;
}

// One change, as a line: "qube: field from -> to (note)".
std::string describe(const JsonValue& change) {
    std::string line = text_of(change, "qube");
    line += (line.empty() ? "" : ": ") + text_of(change, "kind");
    if (const std::string field = text_of(change, "field"); !field.empty()) line += " " + field;
    const std::string from = text_of(change, "from"), to = text_of(change, "to");
    if (!from.empty() || !to.empty()) line += " " + (from.empty() ? "-" : from) + " -> " + (to.empty() ? "-" : to);
    if (const std::string note = text_of(change, "note"); !note.empty()) line += " (" + note + ")";
    return line;
}

bool holds_back(const JsonValue& change) {
    return text_of(change, "note").find("prohibit-start") != std::string::npos;
}

Result<JsonValue> parse_report(std::string_view text, std::string_view what) {
    auto json = json_parse(text);
    if (!json) return std::move(json).error().context(std::string(what));
    if (!json->member("operation") || !json->member("shards"))
        return Error(std::string(what) + " is not a report of reliant-healer")
            .advise("it is written by the boot's merge (/run/reliant/heal-report.json) and each split");
    return json;
}

void write_merge(const JsonValue& merge, std::ostream& out) {
    std::vector<std::string> merged, frozen, fixes, review;
    for (const JsonValue& shard : array_of(merge, "shards")) {
        const std::string volume = text_of(shard, "volume");
        if (text_of(shard, "status") == "merged") {
            merged.push_back(volume);
        } else {
            std::string reasons;
            for (const JsonValue& reason : array_of(shard, "reasons"))
                if (reason.string()) reasons += "\n      " + *reason.string();
            frozen.push_back(volume + reasons);
        }
        for (const JsonValue& change : array_of(shard, "changes")) {
            (holds_back(change) ? review : fixes).push_back(volume + ": " + describe(change));
        }
    }
    for (const JsonValue& change : array_of(merge, "base_changes")) fixes.push_back("base: " + describe(change));
    const auto list = [&](const char* heading, const std::vector<std::string>& items) {
        out << heading << " (" << items.size() << ")" << (items.empty() ? "\n" : ":\n");
        for (const std::string& item : items) out << "  " << item << "\n";
    };
    list("volumes merged at boot", merged);
    list("volumes frozen at boot: left out whole, their shard untouched", frozen);
    list("qubes that may not start until reviewed (prohibit-start; when done: qvm-features --unset QUBE "
         "prohibit-start)",
         review);
    list("changes made at boot", fixes);
}

void write_split(const JsonValue& split, std::ostream& out) {
    std::vector<std::string> lost, problems;
    for (const JsonValue& change : array_of(split, "base_changes"))
        if (text_of(change, "kind") == "lost-at-shutdown") lost.push_back(text_of(change, "qube"));
    for (const JsonValue& shard : array_of(split, "shards")) {
        const std::string status = text_of(shard, "status");
        if (status == "written" || status == "kept") continue;
        std::string reasons;
        for (const JsonValue& reason : array_of(shard, "reasons"))
            if (reason.string()) reasons += "\n      " + *reason.string();
        problems.push_back(text_of(shard, "volume") + " " + status + reasons);
    }
    for (const JsonValue& problem : array_of(split, "base_problems"))
        if (problem.string()) problems.push_back("base: " + *problem.string());
    out << "last split: base " << (text_of(split, "base").empty() ? "?" : text_of(split, "base")) << ", "
        << problems.size() << " problem(s)\n";
    for (const std::string& problem : problems) out << "  " << problem << "\n";
    out << "qubes that end with the session (created in a pool of the base, which is RAM; clone each "
           "onto a volume's pool with qvm-clone -P) ("
        << lost.size() << ")" << (lost.empty() ? "\n" : ":\n");
    for (const std::string& qube : lost) out << "  " << qube << "\n";
}

}  // namespace

Status write_status(const StatusReports& reports, std::ostream& out) {
    if (reports.merge.empty()) {
        out << "no merge this boot: not a normal reliant boot (maintenance, or the base alone)\n";
    } else {
        auto merge = parse_report(reports.merge, "the merge report");
        if (!merge) return std::move(merge).error();
        write_merge(*merge, out);
    }
    if (reports.split.empty()) {
        out << "no split yet this boot\n";
        return success();
    }
    auto split = parse_report(reports.split, "the split report");
    if (!split) return std::move(split).error();
    write_split(*split, out);
    return success();
}

}  // namespace reliant::session
