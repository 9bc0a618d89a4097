// The "same family" heuristic for a template that is gone: debian-12-xfce
// and debian-13-xfce are one family (the name with its version numbers
// blanked); the newest is the one with the highest versions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reliant::healer {

// The family key ("debian-#-xfce"), or nullopt when the name has no version.
std::optional<std::string> template_family(std::string_view name);

// The newest of `candidates` in the family of `missing`, never `missing` itself.
std::optional<std::string> newest_in_family(std::string_view missing,
                                            const std::vector<std::string>& candidates);

}  // namespace reliant::healer
