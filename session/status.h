// reliant-session status: what the healer did this boot and what the last
// split said, for the person at the dom0 terminal (docs/shards.md, "Seeing
// what happened"). Reads the reports in /run/reliant (RAM, mode 0600: run it
// with sudo); writes nothing. The text names qubes and volumes: it is for
// the terminal, never the journal.
#pragma once

#include <ostream>
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

}  // namespace reliant::session
