// The SyncConfig display sanitizer and capped diff (syncconfig/display), fed
// hostile file content: the input is "old\0new". Beyond memory safety: the
// output holds printable ASCII and '\n' only (no ESC, no bidi or zero-width
// code point, no other control byte); every sanitized line respects the
// column cap (plus its marker); the diff respects its line cap.
#include <cstddef>
#include <cstdint>
#include <string>

#include "syncconfig/display.h"
#include "syncconfig/risk.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;
using namespace reliant::syncconfig;

namespace {

void require_safe(const std::string& out, std::size_t max_line_output, const char* what) {
    std::size_t column = 0;
    for (char ch : out) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            column = 0;
            continue;
        }
        if (c < 0x20 || c > 0x7e) fuzz::violated(what, "a byte outside printable ASCII");
        if (++column > max_line_output) fuzz::violated(what, "a line over the cap");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const std::string_view old_text = input.substr(0, nul);
    const std::string_view new_text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

    DisplayLimits limits;
    limits.max_line = 64;
    limits.max_lines = 50;
    limits.max_diff_cells = 10000;
    // A sanitized line: at most max_line columns, one escape (10) and the
    // "...[+N bytes]" marker (under 40) beyond it.
    const std::size_t line_cap = limits.max_line + 10 + 40;
    require_safe(sanitize_line(input, limits.max_line), line_cap, "sanitize_line");
    require_safe(sanitize_text(input, limits), line_cap, "sanitize_text");
    const std::string diff =
        unified_diff(old_text, new_text, [](std::string_view line) { return risky_line(".gitconfig", line); },
                     limits);
    require_safe(diff, line_cap + 4, "unified_diff");
    std::size_t lines = 0;
    for (char c : diff) lines += c == '\n';
    // Shown lines, hunk headers (at most one per shown line) and the cap note.
    if (lines > 2 * limits.max_lines + 2) fuzz::violated("the diff is longer than its cap");
    return 0;
}
