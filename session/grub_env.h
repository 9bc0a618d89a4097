// A GRUB environment block, the file format of `load_env`/`save_env` and
// grub-editenv: the line "# GRUB Environment Block", then "name=value" lines,
// padded with '#' to 1024 bytes. In values GRUB escapes '\' and newline with
// a backslash; the values reliant writes (kernel arguments) hold neither, and
// set() refuses them rather than depend on the escaping.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace reliant::session {

inline constexpr std::string_view grub_env_signature = "# GRUB Environment Block\n";
inline constexpr std::size_t grub_env_size = 1024;

class GrubEnv {
public:
    static Result<GrubEnv> parse(std::string_view bytes);

    std::optional<std::string> get(std::string_view name) const;
    // Replaces or appends; the name must be a GRUB variable name, the value
    // printable ASCII without '\'.
    Status set(std::string_view name, std::string_view value);
    // Exactly grub_env_size bytes, or an error when the variables do not fit.
    Result<std::string> render() const;

    const std::vector<std::pair<std::string, std::string>>& variables() const { return variables_; }

private:
    std::vector<std::pair<std::string, std::string>> variables_;
};

}  // namespace reliant::session
