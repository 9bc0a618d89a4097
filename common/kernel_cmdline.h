// The kernel command line, split the way the kernel itself splits it
// (lib/cmdline.c next_arg): whitespace separates arguments except inside
// double quotes; a quoted argument or value loses its surrounding quotes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace reliant {

struct CmdlineArgument {
    std::string key;
    std::optional<std::string> value;  // absent for a bare flag such as "quiet"
};

class KernelCmdline {
public:
    static KernelCmdline parse(std::string_view text);
    // Reads /proc/cmdline (or another file with the same format).
    static Result<KernelCmdline> read(const std::string& path = "/proc/cmdline");

    const std::vector<CmdlineArgument>& arguments() const { return arguments_; }
    bool has(std::string_view key) const;
    // The value of the last occurrence ("" for a bare flag), as dracut's getarg.
    std::optional<std::string> get(std::string_view key) const;

private:
    std::vector<CmdlineArgument> arguments_;
};

// dracut's boolean convention: "0", "no", "off", "false" are false; a bare
// flag and any other value are true.
bool cmdline_truthy(std::string_view value);

}  // namespace reliant
