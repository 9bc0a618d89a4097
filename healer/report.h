// What merge and split did, for the user: which shards were merged or
// frozen and why, every fix and renumbering. It names hidden qubes, so it is
// written only to RAM (/run/reliant) and never logged.
#pragma once

#include <string>
#include <vector>

namespace reliant::healer {

struct Change {
    std::string qube;
    std::string kind;   // renamed-reference, heuristic, qid, dispid, label, base-reference, ...
    std::string field;  // the property, feature or tag concerned
    std::string from;
    std::string to;
    std::string note;  // e.g. "prohibit-start set", "IP 10.137.0.5 -> 10.137.8.2"
};

struct ShardOutcome {
    std::string volume;  // sflc_M_N
    std::string status;  // merged, frozen, written, kept, skipped
    std::size_t qubes = 0;
    std::vector<std::string> reasons;
    std::vector<Change> changes;
};

struct HealReport {
    std::string operation;  // merge or split
    std::vector<Change> base_changes;
    std::vector<std::string> base_problems;
    std::vector<ShardOutcome> shards;

    std::size_t count(const std::string& status) const;
    std::string to_json() const;
};

}  // namespace reliant::healer
