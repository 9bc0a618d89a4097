// The qrexec policy line (Qubes 4.2/4.3, "v5" / multifile policy), read and
// written for reliant-syncconfig-dom0. The grammar is the one of
// qubes-core-qrexec qrexec/policy/parser.py (Rule.from_line, VMToken,
// validate_service_and_argument), read there and re-derived here:
//
//   SERVICE ARGUMENT SOURCE TARGET ACTION [KEY=VALUE...]      (whitespace-separated)
//
//   SERVICE   "*" or [A-Za-z0-9._-]+            (no "+")
//   ARGUMENT  "*" or "+" followed by [A-Za-z0-9+._-]*; "*" is the only argument of a "*" service
//   SOURCE    a qube name, "*", @anyvm, @adminvm, @type:X, @tag:X, @dispvm:X, @dispvm:@tag:X
//   TARGET    as SOURCE, plus @default and @dispvm
//   ACTION    allow | deny | ask
//   params    allow: target= user= notify= autostart=; ask: the same and default_target=;
//             deny: notify=; notify and autostart take yes|no; no key twice;
//             target= and default_target= take a name, @adminvm, @dispvm or @dispvm:X;
//             "allow" to @default needs target=.
//
// Files: "#" comment lines and blank lines; directives (!include...) are
// valid upstream but this reader refuses them, since the tool never writes
// them and a generated file that holds one was not written by it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace reliant::syncconfig {

struct PolicyLine {
    std::string service;   // "*" or a name
    std::string argument;  // "*" or "+..."
    std::string source;
    std::string target;
    std::string action;  // allow, deny, ask
    std::vector<std::pair<std::string, std::string>> params;

    const std::string* param(std::string_view key) const;
};

// One rule line (not a comment, not blank), strictly.
Result<PolicyLine> parse_policy_line(std::string_view line);

// Every rule of a policy file's text; comments and blank lines skipped,
// errors carry the line number.
Result<std::vector<PolicyLine>> parse_policy_text(std::string_view text);

// One line, fields separated by single spaces, params in their order.
std::string format_policy_line(const PolicyLine& line);

// A plain qube name token (no "@" token, no "*", no "uuid:"), valid by
// Qubes' qube-name rule.
bool explicit_qube_token(std::string_view token);

// Why the line would let more than named qubes call or be called: a wildcard
// or class token (@anyvm, @tag:, @type:, @dispvm..., *) as source, target,
// target= or default_target=, or a "*" service or argument. Empty when every
// qube it concerns is named. Only allow and ask lines are judged: a deny
// line grants nothing.
std::string wide_grant(const PolicyLine& line);

}  // namespace reliant::syncconfig
