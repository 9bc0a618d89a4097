// reliant-session status: what the healer did this boot and what the last
// split said, for the person at the dom0 terminal (docs/shards.md, "Seeing
// what happened"). Reads the reports in /run/reliant (RAM, mode 0600: run it
// with sudo); writes nothing. The text names qubes and volumes: it is for
// the terminal, never the journal.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "common/error.h"

namespace reliant::session {

struct StatusReports {
    std::string_view merge;  // heal-report.json; empty: no merge this boot
    std::string_view split;  // split-report.json; empty: no split yet
};

// Which volumes were merged and frozen (with reasons), every fix, the qubes
// that may not start until reviewed (prohibit-start) and why, new qubes that
// live in a base pool and end with the session, and the last split's
// outcome. A report that is not reliant's JSON is an error.
Status write_status(const StatusReports& reports, std::ostream& out);

// ---- the desktop notice (docs/shards.md, "Seeing what happened") ----
// The reports name hidden qubes and are root's; the notice needs none of
// that. At boot `reliant-session summary` (root) writes the counts, readable
// by all, to /run/reliant/summary, and every split updates its count of
// qubes that end with the session; after login `reliant-session notice
// --follow` (the user, XDG autostart) shows them with notify-send, then
// tells again whenever that count grows, and points at `status`.

struct StatusCounts {
    std::size_t frozen = 0;   // volumes left out whole
    std::size_t review = 0;   // distinct qubes merge held for review (prohibit-start)
    std::size_t changes = 0;  // every other change merge made (not the routine default-pool one)
    std::size_t lost = 0;     // qubes created this session in a pool of the base (the last split)
    bool operator==(const StatusCounts&) const = default;
};

Result<StatusCounts> count_merge(std::string_view merge_report);
// The qubes the split report lists as ending with the session.
Result<std::size_t> count_lost(std::string_view split_report);
std::string summary_text(const StatusCounts& counts);           // "frozen=N\nreview=N\nchanges=N\nlost=N\n"
Result<StatusCounts> parse_summary(std::string_view text);       // what summary_text wrote, nothing else
// The summary file's counts; nullopt when there is none (not a normal reliant boot).
Result<std::optional<StatusCounts>> read_summary(const std::filesystem::path& file);

// The notice's title and body; nullopt when there is nothing to say.
struct NoticeText {
    std::string title, body;
    bool urgent = false;  // a volume frozen, or qubes that end with the session
};
std::optional<NoticeText> notice_for(const StatusCounts& counts);
// What to tell when the summary changed from `before` to `now` during the
// session: only more qubes that end with it; nullopt otherwise.
std::optional<NoticeText> notice_for_change(const StatusCounts& before, const StatusCounts& now);

}  // namespace reliant::session
