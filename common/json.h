// Minimal JSON output: reliant writes JSON (reports, --json diagnostics) but
// never needs to parse it.
#pragma once

#include <string>
#include <string_view>

namespace reliant {

// `text` as a JSON string literal, quotes included. Control characters are
// escaped; bytes that are not valid UTF-8 become U+FFFD, so the output is
// always valid JSON.
std::string json_quote(std::string_view text);

}  // namespace reliant
