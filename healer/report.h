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
    // merge: merged, frozen. split: to-write (planned by split(); the command
    // replaces it with the outcome of the write), written, kept, error.
    std::string status;
    std::size_t qubes = 0;
    std::vector<std::string> reasons;
    std::vector<Change> changes;
    // merge: the uuids of the qubes merged, for what the command does with
    // them (their stored files); not part of the JSON.
    std::vector<std::string> uuids;
};

struct HealReport {
    std::string operation;  // merge or split
    std::vector<Change> base_changes;
    std::vector<std::string> base_problems;
    // split only: what became of BASE.xml ("written", "not written"); empty
    // (and left out of the JSON) for merge, whose output is not the base.
    std::string base_status;
    std::vector<ShardOutcome> shards;
    // merge only: the uuids of the base's qubes (not secret: the base is what
    // a duress boot shows), so that split can tell a qube created this
    // session in a pool of the base, which the session's end loses.
    std::vector<std::string> base_qubes;

    std::size_t count(const std::string& status) const;
    std::string to_json() const;
};

}  // namespace reliant::healer
