#include "healer/report.h"

#include <algorithm>

#include "common/json.h"

namespace reliant::healer {
namespace {

std::string strings(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + json_quote(items[i]);
    return out + "]";
}

std::string changes(const std::vector<Change>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Change& c = items[i];
        out += std::string(i ? "," : "") + "{\"qube\":" + json_quote(c.qube) +
               ",\"kind\":" + json_quote(c.kind) + ",\"field\":" + json_quote(c.field) +
               ",\"from\":" + json_quote(c.from) + ",\"to\":" + json_quote(c.to) +
               ",\"note\":" + json_quote(c.note) + "}";
    }
    return out + "]";
}

}  // namespace

std::size_t HealReport::count(const std::string& status) const {
    return static_cast<std::size_t>(std::count_if(shards.begin(), shards.end(),
                                                  [&](const ShardOutcome& s) { return s.status == status; }));
}

std::string HealReport::to_json() const {
    std::string out = "{\"operation\":" + json_quote(operation) +
                      ",\"base_changes\":" + changes(base_changes) +
                      ",\"base_problems\":" + strings(base_problems) +
                      (base_status.empty() ? "" : ",\"base\":" + json_quote(base_status)) + ",\"shards\":[";
    for (std::size_t i = 0; i < shards.size(); ++i) {
        const ShardOutcome& s = shards[i];
        out += std::string(i ? "," : "") + "{\"volume\":" + json_quote(s.volume) +
               ",\"status\":" + json_quote(s.status) + ",\"qubes\":" + std::to_string(s.qubes) +
               ",\"reasons\":" + strings(s.reasons) + ",\"changes\":" + changes(s.changes) + "}";
    }
    out += "]";
    if (!base_qubes.empty()) out += ",\"base_qubes\":" + strings(base_qubes);
    return out + "}\n";
}

}  // namespace reliant::healer
