// The base journal (docs/shards.md, "Replacing a base qube"): what
// maintenance mode did to the base's qubes, and the successors the user
// stated. In Qubes 4.x a qube's name is write-once, so "renaming" or
// upgrading a template is clone + remove: the new qube has a new uuid, and a
// shard's reference, recorded by uuid, finds nothing. The journal tells the
// next merge which base qube took the place of one that is gone.
//
// It lives in the base (/var/lib/reliant/base-journal.json), is written only
// in maintenance mode (no volume open) and holds base qubes only: a duress
// boot may show it.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "healer/model.h"

namespace reliant::healer {

struct JournalQube {
    std::string name;
    std::string uuid;   // canonical
    std::string klass;  // TemplateVM, AppVM, ...
    bool operator==(const JournalQube&) const = default;
};

struct JournalEvent {
    std::string event;  // "removed" or "created"
    JournalQube qube;
};

struct Successor {
    JournalQube of;  // the qube that is gone (or will be)
    JournalQube is;  // the base qube that takes its place
};

struct BaseJournal {
    // The base's qubes when the journal was last brought up to date.
    std::vector<JournalQube> qubes;
    // Oldest first; the oldest are dropped beyond max_events.
    std::vector<JournalEvent> events;
    // At most one per `of` uuid; the oldest are dropped beyond max_successors.
    std::vector<Successor> successors;
    // False only for a journal not yet written: its first record only takes
    // the list (a base with no qube but dom0 still starts one).
    bool started = false;

    static constexpr std::size_t max_events = 256;
    static constexpr std::size_t max_successors = 1024;
    static constexpr std::size_t max_bytes = 1u << 20;
};

Result<BaseJournal> parse_base_journal(std::string_view json);
std::string to_json(const BaseJournal& journal);

// Brings the journal up to date with the base's qubes.xml: a qube of the
// last list that is gone is "removed", one new there is "created" (by uuid).
// The first call on an empty journal only takes the list. Returns the events
// added.
std::vector<JournalEvent> record_changes(BaseJournal& journal, const Document& base);

// States that `successor` (a qube of the base) takes the place of `old` (a
// base qube, or one the journal recorded as removed). Records changes first.
// Refused: unknown names, the qube itself, another class, a cycle.
Status state_successor(BaseJournal& journal, const Document& base, std::string_view old,
                       std::string_view successor);

// Withdraws the statement about `old` (by the name it had). ENOENT when none.
Status forget_successor(BaseJournal& journal, std::string_view old);

// old uuid -> successor uuid, what merge follows (healer/merge.h).
std::map<std::string, std::string> successor_map(const BaseJournal& journal);

// The journal for a person: events, then the successors stated.
std::string describe(const BaseJournal& journal);

}  // namespace reliant::healer
