// Minimal JSON: writing reports and --json diagnostics, and reading reliant's
// own reports back (bounded in size and depth).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"

namespace reliant {

// `text` as a JSON string literal, quotes included. Control characters are
// escaped; bytes that are not valid UTF-8 become U+FFFD, so the output is
// always valid JSON.
std::string json_quote(std::string_view text);

struct JsonValue {
    using Array = std::vector<JsonValue>;
    using Object = std::map<std::string, JsonValue, std::less<>>;
    std::variant<std::nullptr_t, bool, double, std::string, Array, Object> value;

    const JsonValue* member(std::string_view name) const;  // null unless an object with it
    const std::string* string() const { return std::get_if<std::string>(&value); }
    const Array* array() const { return std::get_if<Array>(&value); }
};

// Parses a whole document; at most `max_depth` nested arrays and objects.
Result<JsonValue> json_parse(std::string_view text, int max_depth = 32);

}  // namespace reliant
