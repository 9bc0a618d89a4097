// The SyncConfig path grammar and glob matcher (syncconfig/paths). The input
// is "pattern\npath". Beyond memory safety: an accepted path is relative,
// has no empty, "." or ".." component, only allowed bytes, and stays within
// the length and depth limits; the matcher agrees with itself on a literal
// pattern (a path matches itself), and "**" matches every valid path.
#include <cstddef>
#include <cstdint>
#include <string>

#include "syncconfig/paths.h"
#include "tests/fuzz/fuzz_support.h"

using namespace reliant;
using namespace reliant::syncconfig;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    const std::string_view pattern = input.substr(0, newline);
    const std::string_view path = newline == std::string_view::npos ? input : input.substr(newline + 1);

    if (check_path(path).ok()) {
        if (path.empty() || path.size() > 1024 || path.front() == '/' || path.back() == '/')
            fuzz::violated("an accepted path with a bad shape", path);
        std::size_t depth = 1, start = 0;
        for (std::size_t i = 0; i <= path.size(); ++i) {
            if (i < path.size() && path[i] != '/') {
                const auto c = static_cast<unsigned char>(path[i]);
                if (c < 0x20 || c > 0x7e || c == '\\') fuzz::violated("an accepted byte outside the set", path);
                continue;
            }
            const std::string_view part = path.substr(start, i - start);
            if (part.empty() || part == "." || part == ".." || part.size() > 255)
                fuzz::violated("an accepted bad component", path);
            if (i < path.size()) ++depth;
            start = i + 1;
        }
        if (depth > 32) fuzz::violated("an accepted path too deep", path);
        if (!glob_match("**", path)) fuzz::violated("** does not match a valid path", path);
        if (path.find('*') == std::string_view::npos && !glob_match(path, path))
            fuzz::violated("a literal path does not match itself", path);
        if (fold_case(path).size() != path.size()) fuzz::violated("case folding changed the length");
    }
    if (check_pattern(pattern).ok()) (void)glob_match(pattern, path);
    return 0;
}
