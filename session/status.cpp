#include "session/status.h"

#include <set>
#include <string>
#include <vector>

#include "common/file_io.h"
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

// The qubes a split found in a pool of the base: the session's end loses them.
std::vector<std::string> lost_qubes(const JsonValue& split) {
    std::vector<std::string> lost;
    for (const JsonValue& change : array_of(split, "base_changes"))
        if (text_of(change, "kind") == "lost-at-shutdown") lost.push_back(text_of(change, "qube"));
    return lost;
}

void write_split(const JsonValue& split, std::ostream& out) {
    const std::vector<std::string> lost = lost_qubes(split);
    std::vector<std::string> problems;
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

// Routine at every boot with a volume open: not worth a notice.
bool routine(const JsonValue& change) { return text_of(change, "kind") == "new-qubes"; }

}  // namespace

Result<StatusCounts> count_merge(std::string_view merge_report) {
    auto merge = parse_report(merge_report, "the merge report");
    if (!merge) return std::move(merge).error();
    StatusCounts counts;
    std::set<std::string> held;  // volume/qube: one qube may be held for several reasons
    for (const JsonValue& shard : array_of(*merge, "shards")) {
        if (text_of(shard, "status") != "merged") ++counts.frozen;
        for (const JsonValue& change : array_of(shard, "changes")) {
            if (holds_back(change))
                held.insert(text_of(shard, "volume") + "/" + text_of(change, "qube"));
            else
                ++counts.changes;
        }
    }
    counts.review = held.size();
    for (const JsonValue& change : array_of(*merge, "base_changes"))
        if (!routine(change)) ++counts.changes;
    return counts;
}

Result<std::size_t> count_lost(std::string_view split_report) {
    auto split = parse_report(split_report, "the split report");
    if (!split) return std::move(split).error();
    return lost_qubes(*split).size();
}

std::string summary_text(const StatusCounts& counts) {
    return "frozen=" + std::to_string(counts.frozen) + "\nreview=" + std::to_string(counts.review) +
           "\nchanges=" + std::to_string(counts.changes) + "\nlost=" + std::to_string(counts.lost) + "\n";
}

Result<StatusCounts> parse_summary(std::string_view text) {
    StatusCounts counts;
    std::string_view rest = text;
    for (auto [key, into] : {std::pair{std::string_view("frozen="), &counts.frozen},
                             {std::string_view("review="), &counts.review},
                             {std::string_view("changes="), &counts.changes},
                             {std::string_view("lost="), &counts.lost}}) {
        const std::size_t end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        if (end == std::string_view::npos || !line.starts_with(key) || line.size() == key.size() ||
            line.size() > key.size() + 9 || line.substr(key.size()).find_first_not_of("0123456789") != std::string_view::npos)
            return Error("the summary is not what reliant-session summary writes", EINVAL);
        *into = std::stoul(std::string(line.substr(key.size())));
        rest.remove_prefix(end + 1);
    }
    if (!rest.empty()) return Error("the summary is not what reliant-session summary writes", EINVAL);
    return counts;
}

Result<std::optional<StatusCounts>> read_summary(const std::filesystem::path& file) {
    auto text = read_regular_file(file, 4096);
    if (!text && text.error().code() == ENOENT) return std::optional<StatusCounts>();
    if (!text) return std::move(text).error();
    auto counts = parse_summary(*text);
    if (!counts) return std::move(counts).error().context(file.string());
    return std::optional<StatusCounts>(*counts);
}

std::optional<NoticeText> notice_for(const StatusCounts& counts) {
    if (counts == StatusCounts{}) return std::nullopt;
    std::vector<std::string> parts;
    if (counts.lost > 0)
        parts.push_back(std::to_string(counts.lost) + (counts.lost == 1 ? " qube" : " qubes") +
                        " created this session in a pool of the base (RAM) will be lost at shutdown: clone each "
                        "onto a volume's pool (qvm-clone -P)");
    if (counts.frozen > 0)
        parts.push_back(std::to_string(counts.frozen) + (counts.frozen == 1 ? " volume" : " volumes") +
                        " left out (frozen): its qubes are not shown");
    if (counts.review > 0)
        parts.push_back(std::to_string(counts.review) + (counts.review == 1 ? " qube" : " qubes") +
                        " may not start until reviewed");
    if (counts.changes > 0)
        parts.push_back(std::to_string(counts.changes) + (counts.changes == 1 ? " change" : " changes") + " made");
    std::string body;
    for (const std::string& part : parts) body += (body.empty() ? "" : "; ") + part;
    body += ". In a terminal: sudo reliant-session status";
    NoticeText text;
    text.urgent = counts.frozen > 0 || counts.lost > 0;
    text.title = counts.lost > 0     ? "reliant: a new qube will not survive shutdown"
                 : counts.frozen > 0 ? "reliant: a volume was left out at boot"
                                     : "reliant: qubes changed at boot";
    text.body = std::move(body);
    return text;
}

std::optional<NoticeText> notice_for_change(const StatusCounts& before, const StatusCounts& now) {
    if (now.lost <= before.lost) return std::nullopt;
    StatusCounts lost_only;
    lost_only.lost = now.lost;
    return notice_for(lost_only);
}

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
