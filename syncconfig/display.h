// Making hostile text safe to show in a terminal (and, later, a GUI): the
// output holds printable ASCII and '\n' only. Control characters and escape
// sequences, bidi overrides and zero-width characters (any non-ASCII code
// point, in fact) are shown visibly as \xNN or \u{XXXX}; long lines and huge
// texts are capped. A gutter mark '!' flags lines that held anything escaped
// or that a risk rule matched, so the eye goes there.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace reliant::syncconfig {

struct DisplayLimits {
    std::size_t max_line = 512;         // columns of one line, after escaping
    std::size_t max_lines = 2000;       // lines of one file's diff
    std::size_t max_diff_cells = 4000000;  // lines(old) x lines(new) after trimming
};

// One line (no '\n' inside: it is escaped too). `escaped` tells whether
// anything needed escaping.
std::string sanitize_line(std::string_view line, std::size_t max_columns, bool* escaped = nullptr);

// Multi-line text, one sanitized line per input line.
std::string sanitize_text(std::string_view text, const DisplayLimits& limits = {});

bool looks_binary(std::string_view content);

// A unified diff of two texts, sanitized, each line with a gutter:
// "! " for escaped or risky lines, "  " otherwise; then ' ', '-' or '+'.
// Falls back to a summary when the texts are binary or too large to diff.
std::string unified_diff(std::string_view old_text, std::string_view new_text,
                         const std::function<bool(std::string_view)>& risky, const DisplayLimits& limits = {});

}  // namespace reliant::syncconfig
