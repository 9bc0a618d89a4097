// The path grammar of SyncConfig, checked on bytes before any filesystem call,
// and the pattern language of profiles.
//
// A path is relative to the destination root (the target user's home):
// components separated by single '/', no leading or trailing '/', no empty,
// "." or ".." components, each component 1..255 bytes, depth <= 32, whole path
// <= 1024 bytes. Bytes are printable ASCII 0x21..0x7E except '\\', plus the
// space inside a component (never at its start or end). This is stricter than
// Qubes' validate_path (which admits allowlisted UTF-8): config file names
// rarely need non-ASCII, and refusing it removes homoglyph and bidi confusion
// from the review (qubes-issues #1780).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace reliant::syncconfig {

struct PathLimits {
    std::size_t max_path = 1024;
    std::size_t max_component = 255;
    std::size_t max_depth = 32;
};

// The error says which rule failed (never echoing the hostile bytes).
Status check_path(std::string_view path, const PathLimits& limits = {});

// ASCII lower case: two paths that differ only in case collide on
// case-insensitive file systems and look alike in a review.
std::string fold_case(std::string_view path);

// Patterns are paths whose components may hold '*' (any bytes within one
// component) or be exactly "**" (zero or more whole components). No classes,
// no regex: matching is bounded by (pattern length x path length).
Status check_pattern(std::string_view pattern, const PathLimits& limits = {});
bool glob_match(std::string_view pattern, std::string_view path);

}  // namespace reliant::syncconfig
